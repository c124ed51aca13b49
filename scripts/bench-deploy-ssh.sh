#!/usr/bin/env bash
# `nkdev up` to an engine over SSH vs the same on the local socket, and vs
# `DOCKER_HOST=ssh://… docker-compose up -d`, for N busybox httpd services plus a gateway:
# no-op (run again) and one service changed, median of R runs each. The "remote" engine is this
# machine's, reached through Debian's sshd on 127.0.0.1 (keys and config in a temporary folder;
# the machine's ssh configuration is not touched), so the rows differ only by the transport.
# Usage: scripts/bench-deploy-ssh.sh RUNS N…   (needs target/release/nkdev, docker-compose with
# python3-paramiko, bc; scripts/bench installs them)
set -euo pipefail
cd "$(dirname "$0")/.."
nk="$PWD/target/release/nkdev"
runs="$1"; shift
work="$(mktemp -d)"
mkdir -p "$work/nk" "$work/compose" "$work/ssh/bin" /run/sshd
ssh-keygen -q -t ed25519 -N "" -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$work/ssh/client_key"
cp "$work/ssh/client_key.pub" "$work/ssh/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/ssh/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/ssh/host_key
PidFile $work/ssh/sshd.pid
AuthorizedKeysFile $work/ssh/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
PermitRootLogin prohibit-password
# docker-compose opens one SSH connection per request, many at once: sshd's default (10
# unauthenticated at a time, then random drops) makes it fail at 20 services.
MaxStartups 200
EOF
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$work/ssh/host_key.pub")" > "$work/ssh/known_hosts"
cat > "$work/ssh/ssh_config" <<EOF
Host *
  IdentityFile $work/ssh/client_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/ssh/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
EOF
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s/ssh/ssh_config "$@"\n' "$work" > "$work/ssh/bin/ssh"
chmod +x "$work/ssh/bin/ssh"
/usr/sbin/sshd -f "$work/ssh/sshd_config"
remote="ssh://root@127.0.0.1:$port"
cleanup() {
  DOCKER_HOST="$remote" PATH="$work/ssh/bin:$PATH" docker-compose -p nkbenchs -f "$work/compose/docker-compose.yml" down -v >/dev/null 2>&1 || true
  (cd "$work/nk" 2>/dev/null && "$nk" destroy >/dev/null 2>&1) || true
}
trap 'cleanup; kill "$(cat "$work/ssh/sshd.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT
export NANOKIT_HOME="$work/home" NANOKIT_GATEWAY_IMAGE=nk-test/caddy:1 NANOKIT_GATEWAY_PORT=18580
# The same gateway (plain HTTP on 127.0.0.1) both ways, so only the transport differs.
export NANOKIT_GATEWAY_TLS=off NANOKIT_GATEWAY_BIND=127.0.0.1

source scripts/bench-deploy-lib.sh  # (the script runs from the repository root)
nk_ssh() { (cd "$work/nk" && DOCKER_HOST="$remote" PATH="$work/ssh/bin:$PATH" t "$nk" up); }
c_ssh() { DOCKER_HOST="$remote" PATH="$work/ssh/bin:$PATH" t docker-compose -p nkbenchs -f "$work/compose/docker-compose.yml" up -d; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "| services | case | nkdev up, local socket | nkdev up over SSH | docker-compose up -d over SSH | compose / nkdev (SSH) |"
echo "|---|---|---|---|---|---|"
for n in "$@"; do
  nanokit_file nkbenchs "$n" 1 > "$work/nk/nanokit.yml"
  compose_file nkbenchs 18581 "$n" 1 > "$work/compose/docker-compose.yml"
  (cd "$work/nk" && env -u DOCKER_HOST "$nk" up >/dev/null)
  DOCKER_HOST="$remote" PATH="$work/ssh/bin:$PATH" docker-compose -p nkbenchs -f "$work/compose/docker-compose.yml" up -d >/dev/null 2>"$work/compose.log" || { cat "$work/compose.log" >&2; exit 1; }
  # no-op: run again, each tool against its own deployment
  l_noop=$(for _ in $(seq "$runs"); do (cd "$work/nk" && t env -u DOCKER_HOST "$nk" up); done | median)
  s_noop=$(for _ in $(seq "$runs"); do nk_ssh; done | median)
  c_noop=$(for _ in $(seq "$runs"); do c_ssh; done | median)
  # one changed: flip service s1 between two values, once per run
  l_one=(); s_one=(); c_one=()
  # (a new value each time: every run really changes one service)
  for r in $(seq "$runs"); do
    nanokit_file nkbenchs "$n" "$((100 + 2 * r))" > "$work/nk/nanokit.yml"
    l_one+=("$(cd "$work/nk" && t env -u DOCKER_HOST "$nk" up)")
    nanokit_file nkbenchs "$n" "$((101 + 2 * r))" > "$work/nk/nanokit.yml"
    s_one+=("$(nk_ssh)")
    compose_file nkbenchs 18581 "$n" "$((100 + r))" > "$work/compose/docker-compose.yml"
    c_one+=("$(c_ssh)")
  done
  l_one=$(printf '%s\n' "${l_one[@]}" | median); s_one=$(printf '%s\n' "${s_one[@]}" | median); c_one=$(printf '%s\n' "${c_one[@]}" | median)
  printf '| %s | no-op | %.2f s | %.2f s | %.2f s | %.2fx |\n' "$n" "$l_noop" "$s_noop" "$c_noop" "$(echo "$c_noop / $s_noop" | bc -l)"
  printf '| %s | one changed | %.2f s | %.2f s | %.2f s | %.2fx |\n' "$n" "$l_one" "$s_one" "$c_one" "$(echo "$c_one / $s_one" | bc -l)"
  cleanup
done
