#!/usr/bin/env bash
# Builds the images the Docker tests and the offline demo use, from Debian's static busybox
# and caddy binaries (nothing is pulled):
#   nk-test/busybox:1  — /bin/busybox and its applets (sh, httpd, wget, nc, …)
#   nk-test/caddy:1    — /usr/bin/caddy with its shared libraries, as the gateway image
set -euo pipefail
build() { # name rootfs-dir docker-import-changes...
  local name="$1" dir="$2"; shift 2
  if docker image inspect "$name" >/dev/null 2>&1; then
    echo "build-test-images: $name is there"
    return
  fi
  tar -C "$dir" -c . | docker import "$@" - "$name" >/dev/null
  echo "build-test-images: built $name"
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

bb="$work/busybox"
mkdir -p "$bb/bin" "$bb/tmp" "$bb/www" "$bb/app" "$bb/etc"
cp /bin/busybox "$bb/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$bb/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$bb/etc/passwd"
chmod 1777 "$bb/tmp"
build nk-test/busybox:1 "$bb" --change 'ENV PATH=/bin' --change 'CMD ["sh"]'

cd_="$work/caddy"
mkdir -p "$cd_/usr/bin" "$cd_/tmp" "$cd_/data" "$cd_/config" "$cd_/etc"
cp /usr/bin/caddy "$cd_/usr/bin/caddy"
for lib in $(ldd /usr/bin/caddy | grep -o '/[^ ]*'); do
  mkdir -p "$cd_$(dirname "$lib")"
  cp -L "$lib" "$cd_$lib"
done
chmod 1777 "$cd_/tmp"
echo "root:x:0:0:root:/root:/bin/sh" > "$cd_/etc/passwd"
build nk-test/caddy:1 "$cd_" --change 'ENV XDG_DATA_HOME=/data' --change 'ENV XDG_CONFIG_HOME=/config' --change 'ENV HOME=/data' \
  --change 'ENTRYPOINT ["/usr/bin/caddy"]' --change 'CMD ["run"]'
