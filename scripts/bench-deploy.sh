#!/usr/bin/env bash
# `nkdev up` vs `docker-compose up -d` on the same engine, for N busybox httpd services plus a
# Caddy gateway: cold (nothing exists), no-op (run again), one service changed. Prints one
# markdown table with a row per size and case. Usage: scripts/bench-deploy.sh 5 20 50
# nkdev also waits until every service's port answers and routes each host through the
# gateway; compose returns once its containers are started.
set -euo pipefail
cd "$(dirname "$0")/.."
nk="$PWD/target/release/nkdev"
work="$(mktemp -d)"
cleanup() {
  docker-compose -p nkbenchc -f "$work/compose/docker-compose.yml" down -v >/dev/null 2>&1 || true
  (cd "$work/nk" 2>/dev/null && "$nk" destroy >/dev/null 2>&1) || true
}
trap 'cleanup; rm -rf "$work"' EXIT
export NANOKIT_HOME="$work/home" NANOKIT_GATEWAY_IMAGE=nk-test/caddy:1 NANOKIT_GATEWAY_PORT=18480
mkdir -p "$work/nk" "$work/compose"

source scripts/bench-deploy-lib.sh  # (the script runs from the repository root)
nkup() { (cd "$work/nk" && t "$nk" up); }
cup() { t docker-compose -p nkbenchc -f "$work/compose/docker-compose.yml" up -d; }
row() { printf '| %s | %s | %.2f s | %.2f s | %.2fx |\n' "$1" "$2" "$3" "$4" "$(echo "$4 / $3" | bc -l)"; }

echo "| services | case | nkdev up | docker-compose up -d | compose / nkdev |"
echo "|---|---|---|---|---|"
for n in "$@"; do
  nanokit_file nkbench "$n" 1 > "$work/nk/nanokit.yml"
  compose_file nkbench 18481 "$n" 1 > "$work/compose/docker-compose.yml"
  nk_cold=$(nkup); c_cold=$(cup)
  nk_noop=$(nkup); c_noop=$(cup)
  nanokit_file nkbench "$n" 2 > "$work/nk/nanokit.yml"
  compose_file nkbench 18481 "$n" 2 > "$work/compose/docker-compose.yml"
  nk_one=$(nkup); c_one=$(cup)
  row "$n" cold "$nk_cold" "$c_cold"
  row "$n" no-op "$nk_noop" "$c_noop"
  row "$n" "one changed" "$nk_one" "$c_one"
  cleanup
done
