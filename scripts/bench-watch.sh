#!/usr/bin/env bash
# Edit → served: the time from a change to a file under a service's folder to the new content
# being served by the gateway (GET /index.html with the service's Host through the gateway
# port, polled every ~10 ms with curl), for the same busybox service (examples/offline's api)
# three ways, one after the other on the same engine, median / min / max of RUNS runs each:
#  1. `nkdev up --watch` running: it syncs and restarts the service in place;
#  2. `nkdev up api` run after the change, with api's env changed too, so it is recreated;
#  3. `docker-compose up -d --force-recreate api`, the same image and start command (the
#     folder bind-mounted at /app and copied to /tmp/www) behind a Caddy gateway.
# The offline example's `start` copies /app to /tmp/www, so an edit is served only once the
# service has started again. Each time includes everything between the write and the first
# response with the new body (nkdev's debounce of file events, the `up` runs themselves).
# Markdown on stdout, progress on stderr. Usage: RUNS=7 scripts/bench-watch.sh
# (needs target/release/nkdev, docker-compose, curl, a running engine and the test images:
# scripts/test-deps.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
nk="$PWD/target/release/nkdev"
runs="${RUNS:-7}"
[ -x "$nk" ] || { echo "bench-watch: $nk is missing; build it: cargo build --locked --release -p nanokit-cli" >&2; exit 1; }
for tool in docker docker-compose curl python3; do
  command -v "$tool" >/dev/null || { echo "bench-watch: \`$tool\` is missing; scripts/test-deps.sh (and scripts/bench for docker-compose) install it" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "bench-watch: no Docker engine answers; run scripts/test-deps.sh, which installs and starts one" >&2; exit 1; }
for image in nk-test/busybox:1 nk-test/caddy:1; do
  docker image inspect "$image" >/dev/null 2>&1 || { echo "bench-watch: test image $image is missing; run scripts/build-test-images.sh" >&2; exit 1; }
done

work="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export NO_COLOR=1 NANOKIT_HOME="$work/home" NANOKIT_GATEWAY_IMAGE=nk-test/caddy:1
unset NANOKIT_ENV NANOKIT_GATEWAY_PORT
# One project per path: its name (so its host), its folder, its gateway port.
w_name="nkbw-$$-w" w_dir="$work/watch" w_port=$(free_port)
r_name="nkbw-$$-r" r_dir="$work/recreate" r_port=$(free_port)
c_name="nkbw-$$-c" c_dir="$work/compose" c_port=$(free_port)
watch_pid=""

# nkin DIR PORT ARGS…: nkdev ARGS in the project folder DIR, its gateway on PORT.
nkin() { local dir="$1" port="$2"; shift 2; (cd "$dir" && NANOKIT_GATEWAY_PORT="$port" "$nk" "$@"); }
stop_watch() {
  [ -n "$watch_pid" ] || return 0
  kill -INT "$watch_pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$watch_pid" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$watch_pid" 2>/dev/null || true
  wait "$watch_pid" 2>/dev/null || true
  watch_pid=""
}
remove_project() { # what `nkdev destroy` leaves behind, as cli/tests/support removes it
  docker ps -aq --filter "label=nk-project=$1" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network ls -q --filter "label=nk-project=$1" | xargs -r docker network rm >/dev/null 2>&1 || true
  docker volume ls -q --filter "label=nk-project=$1" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
}
cleanup() {
  stop_watch
  [ -f "$w_dir/nanokit.yml" ] && { nkin "$w_dir" "$w_port" destroy >/dev/null 2>&1 || true; }
  [ -f "$r_dir/nanokit.yml" ] && { nkin "$r_dir" "$r_port" destroy >/dev/null 2>&1 || true; }
  remove_project "$w_name"; remove_project "$r_name"
  [ -f "$c_dir/docker-compose.yml" ] && { docker-compose -p "$c_name" -f "$c_dir/docker-compose.yml" down -v >/dev/null 2>&1 || true; }
  return 0
}
trap 'cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# offline_example DIR NAME: examples/offline renamed to NAME (project and hosts), as
# cli/tests/support's offline_example does, with a known first body for api.
offline_example() {
  mkdir -p "$1"
  cp -r examples/offline/apps "$1/apps"
  sed -e "s/name: shop/name: $2/" -e "s/shop\.localhost/$2.localhost/g" examples/offline/nanokit.yml > "$1/nanokit.yml"
  printf '%s\n' "bench-watch: first body" > "$1/apps/api/index.html"
}
# served PORT HOST BODY: wait until GET /index.html with HOST through the gateway on PORT
# returns BODY (polled every ~10 ms; gives up after 60 s).
served() {
  local deadline=$(($(date +%s) + 60))
  until [ "$(curl -s -m 2 -H "Host: $2" "http://127.0.0.1:$1/index.html" 2>/dev/null)" = "$3" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench-watch: $2 on port $1 never served \`$3\`" >&2; return 1; }
    sleep 0.01
  done
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# stats: median, min and max of milliseconds on stdin, as table cells in seconds.
stats() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f s | %.2f s | %.2f s", m / 1000, v[1] / 1000, v[NR] / 1000 }'; }
median_s() { sort -n | awk '{ v[NR] = $1 } END { print ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000 }'; }

# 1. nkdev up --watch: sync + restart in place.
echo "bench-watch: nkdev up --watch ($w_name, gateway port $w_port)" >&2
offline_example "$w_dir" "$w_name"
(cd "$w_dir" && NANOKIT_GATEWAY_PORT="$w_port" exec "$nk" up --watch --timeout 30) > "$work/watch.log" 2>&1 &
watch_pid=$!
deadline=$(($(date +%s) + 180))
until grep -q watching "$work/watch.log"; do
  if ! kill -0 "$watch_pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "bench-watch: \`nkdev up --watch\` never printed \`watching\`; its output:" >&2
    cat "$work/watch.log" >&2
    exit 1
  fi
  sleep 0.1
done
served "$w_port" "$w_name.localhost" "bench-watch: first body"
watch_ms=()
for i in $(seq 1 "$runs"); do
  sleep 0.5
  body="bench-watch: watch run $i $(date +%s%N)"
  s=$(date +%s%N)
  printf '%s\n' "$body" > "$w_dir/apps/api/index.html"
  served "$w_port" "$w_name.localhost" "$body" || { tail -n 30 "$work/watch.log" >&2; exit 1; }
  watch_ms+=("$(ms_since "$s")")
done
stop_watch
nkin "$w_dir" "$w_port" destroy >/dev/null 2>&1 || true
remove_project "$w_name"

# 2. nkdev up api after the change, api's env changed too: a recreate.
echo "bench-watch: nkdev up api, recreated ($r_name, gateway port $r_port)" >&2
offline_example "$r_dir" "$r_name"
cp "$r_dir/nanokit.yml" "$work/recreate.yml"
# with_env N: the file with `env: {BENCH_RUN: "N"}` in service api.
with_env() { awk -v n="$1" '{ print } $0 == "    path: ./apps/api" { print "    env:"; print "      BENCH_RUN: \"" n "\"" }' "$work/recreate.yml"; }
with_env 0 > "$r_dir/nanokit.yml"
grep -q 'BENCH_RUN: "0"' "$r_dir/nanokit.yml" || { echo "bench-watch: could not add env to service api in $r_dir/nanokit.yml" >&2; exit 1; }
nkin "$r_dir" "$r_port" up --timeout 30 > "$work/recreate.log" 2>&1 || { cat "$work/recreate.log" >&2; exit 1; }
served "$r_port" "$r_name.localhost" "bench-watch: first body"
recreate_ms=()
for i in $(seq 1 "$runs"); do
  sleep 0.5
  body="bench-watch: recreate run $i $(date +%s%N)"
  s=$(date +%s%N)
  printf '%s\n' "$body" > "$r_dir/apps/api/index.html"
  with_env "$i" > "$r_dir/nanokit.yml"
  nkin "$r_dir" "$r_port" up api --timeout 30 > "$work/recreate.log" 2>&1 || { cat "$work/recreate.log" >&2; exit 1; }
  served "$r_port" "$r_name.localhost" "$body"
  recreate_ms+=("$(ms_since "$s")")
done
nkin "$r_dir" "$r_port" destroy >/dev/null 2>&1 || true
remove_project "$r_name"

# 3. docker-compose up -d --force-recreate api: the same service behind a Caddy gateway. (api
# depends on nothing here, so only api is recreated, as with `nkdev up api`.)
echo "bench-watch: docker-compose up -d --force-recreate api ($c_name, gateway port $c_port)" >&2
offline_example "$c_dir" "$c_name"
rm "$c_dir/nanokit.yml"
cat > "$c_dir/Caddyfile" <<EOF
{
	admin off
	auto_https off
}
http://$c_name.localhost {
	reverse_proxy api:3000
}
EOF
cat > "$c_dir/docker-compose.yml" <<EOF
version: '3.7'
services:
  gateway:
    image: nk-test/caddy:1
    command: [run, --config, /etc/caddy/Caddyfile, --adapter, caddyfile]
    ports: ['127.0.0.1:$c_port:80']
    volumes: ['./Caddyfile:/etc/caddy/Caddyfile:ro']
  api:
    image: nk-test/busybox:1
    command: sh -c "mkdir -p /tmp/www && cp -r /app/. /tmp/www/ && exec httpd -f -p 3000 -h /tmp/www"
    environment: [PORT=3000]
    init: true
    volumes: ['./apps/api:/app:ro']
EOF
compose() { docker-compose -p "$c_name" -f "$c_dir/docker-compose.yml" "$@" > "$work/compose.log" 2>&1 || { cat "$work/compose.log" >&2; exit 1; }; }
compose up -d
served "$c_port" "$c_name.localhost" "bench-watch: first body"
compose_ms=()
for i in $(seq 1 "$runs"); do
  sleep 0.5
  body="bench-watch: compose run $i $(date +%s%N)"
  s=$(date +%s%N)
  printf '%s\n' "$body" > "$c_dir/apps/api/index.html"
  compose up -d --force-recreate api
  served "$c_port" "$c_name.localhost" "$body"
  compose_ms+=("$(ms_since "$s")")
done
docker-compose -p "$c_name" -f "$c_dir/docker-compose.yml" down -v >/dev/null 2>&1 || true

echo "| path (edit → served, $runs runs) | median | min | max |"
echo "|---|---|---|---|"
echo "| nkdev up --watch (sync + restart) | $(printf '%s\n' "${watch_ms[@]}" | stats) |"
echo "| nkdev up (recreate) | $(printf '%s\n' "${recreate_ms[@]}" | stats) |"
echo "| docker-compose up -d --force-recreate | $(printf '%s\n' "${compose_ms[@]}" | stats) |"
echo
m=$(printf '%s\n' "${watch_ms[@]}" | median_s)
verdict=$(awk -v m="$m" 'BEGIN { print (m < 1) ? "met" : "not met" }')
printf 'Goal: an edit served in under 1 s on the watch path (median here %.2f s: %s).\n' "$m" "$verdict"
