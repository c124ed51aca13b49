#!/usr/bin/env bash
# `nkdev up` vs `docker-compose up -d` on the same engine, for N busybox httpd services plus a
# Caddy gateway, cold (nothing exists) and no-op (run again). Prints a markdown table.
# nkdev also waits until every service's port answers; compose returns once containers start.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20}"
work="$(mktemp -d)"
trap 'docker-compose -p nkbenchc -f "$work/compose/docker-compose.yml" down -v >/dev/null 2>&1 || true; (cd "$work/nk" && NANOKIT_HOME="$work/home" "$OLDPWD/target/release/nkdev" destroy >/dev/null 2>&1) || true; rm -rf "$work"' EXIT
mkdir -p "$work/nk" "$work/compose"
nk="$PWD/target/release/nkdev"
{
  echo "name: nkbench"
  echo "services:"
  for i in $(seq 1 "$n"); do
    printf '  s%s:\n    image: nk-test/busybox:1\n    command: mkdir -p /tmp/w && exec httpd -f -p 8080 -h /tmp/w\n    expose: 8080\n    host: s%s.nkbench.localhost\n' "$i" "$i"
  done
} > "$work/nk/nanokit.yml"
{
  echo "version: '3'"
  echo "services:"
  echo "  gateway:"
  echo "    image: nk-test/caddy:1"
  echo "    ports: ['127.0.0.1:18481:80']"
  for i in $(seq 1 "$n"); do
    printf '  s%s:\n    image: nk-test/busybox:1\n    command: sh -c "mkdir -p /tmp/w && exec httpd -f -p 8080 -h /tmp/w"\n    environment: [PORT=8080]\n' "$i"
  done
} > "$work/compose/docker-compose.yml"
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
export NANOKIT_HOME="$work/home" NANOKIT_GATEWAY_IMAGE=nk-test/caddy:1 NANOKIT_GATEWAY_PORT=18480
nk_cold=$(cd "$work/nk" && t "$nk" up)
nk_noop=$(cd "$work/nk" && t "$nk" up)
c_cold=$(t docker-compose -p nkbenchc -f "$work/compose/docker-compose.yml" up -d)
c_noop=$(t docker-compose -p nkbenchc -f "$work/compose/docker-compose.yml" up -d)
ratio() { echo "scale=2; $1 / $2" | bc; }
echo "| $n services | nkdev up | docker-compose up -d | nkdev / compose |"
echo "|---|---|---|---|"
printf '| cold | %.2f s | %.2f s | %s |\n' "$nk_cold" "$c_cold" "$(ratio "$nk_cold" "$c_cold")"
printf '| no-op | %.2f s | %.2f s | %s |\n' "$nk_noop" "$c_noop" "$(ratio "$nk_noop" "$c_noop")"
