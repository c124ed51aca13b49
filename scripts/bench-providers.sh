#!/usr/bin/env bash
# The provider layer's costs, measured side by side in one run (markdown on stdout):
#  1. `nkdev up` no-op and one-changed, the Docker provider in process vs the same provider
#     served through the provider protocol (`nkdev provider serve docker` behind a plugin
#     named `dockerp`): what a plugin costs. Median of RUNS runs each.
#  2. cold `nkdev up` of N services vs the engine floor: the same containers (same image,
#     command, network, labels) created and started in parallel straight through the engine
#     API by the `docker` CLI (xargs -P 16), no gateway, no readiness wait.
# Usage: scripts/bench-providers.sh 10 20 50   (the first size for part 1, the rest for part 2)
set -euo pipefail
cd "$(dirname "$0")/.."
nk="$PWD/target/release/nkdev"
runs="${RUNS:-5}"
work="$(mktemp -d)"
export NANOKIT_HOME="$work/home" NANOKIT_GATEWAY_IMAGE=nk-test/caddy:1 NANOKIT_GATEWAY_PORT=18490
mkdir -p "$work/plugins" "$work/repo"
# A plugin that is the built-in Docker provider behind the protocol.
printf '#!/bin/sh\nexec "%s" provider serve docker\n' "$nk" > "$work/plugins/nkdev-provider-dockerp"
chmod +x "$work/plugins/nkdev-provider-dockerp"
export PATH="$work/plugins:$PATH"
cleanup() {
  (cd "$work/repo" 2>/dev/null && "$nk" destroy >/dev/null 2>&1) || true
  docker ps -aq --filter label=nk-project=nkfloor | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network rm nk-nkfloor-local >/dev/null 2>&1 || true
}
trap 'cleanup; rm -rf "$work"' EXIT
source scripts/bench-deploy-lib.sh  # nanokit_file, t
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
nkup() { (cd "$work/repo" && t "$nk" up); }
# write PROVIDER N V: the benchmark file for a provider.
write() {
  nanokit_file nkbp "$2" "$3" > "$work/repo/nanokit.yml"
  printf 'environments:\n  local:\n    infra:\n      provider: %s\n' "$1" >> "$work/repo/nanokit.yml"
}

n="$1"; shift
echo "| $n services | Docker in process | Docker through the protocol | protocol / in process |"
echo "|---|---|---|---|"
declare -A res
for provider in docker dockerp; do
  write "$provider" "$n" 1; nkup >/dev/null
  res[$provider-noop]=$(for _ in $(seq "$runs"); do nkup; done | median)
  res[$provider-one]=$(for i in $(seq "$runs"); do write "$provider" "$n" "$((i + 1))"; nkup; done | median)
  cleanup
done
for case in noop one; do
  label=$([ "$case" = noop ] && echo "no-op" || echo "one changed")
  printf '| %s | %.2f s | %.2f s | %+.0f %% |\n' "$label" "${res[docker-$case]}" "${res[dockerp-$case]}" \
    "$(echo "(${res[dockerp-$case]} / ${res[docker-$case]} - 1) * 100" | bc -l)"
done
echo
echo "| services | cold nkdev up | engine floor (create + start in parallel) | nkdev / floor |"
echo "|---|---|---|---|"
floor() {
  docker network create --label nk-project=nkfloor nk-nkfloor-local >/dev/null
  seq 1 "$1" | xargs -P 16 -I{} docker create --name nk-nkfloor-local-s{} --network nk-nkfloor-local \
    --label nk-project=nkfloor --label nk-service=s{} -e PORT=8080 -e V=1 --init nk-test/busybox:1 \
    sh -c 'mkdir -p /tmp/w && exec httpd -f -p 8080 -h /tmp/w' >/dev/null
  seq 1 "$1" | xargs -P 16 -I{} docker start nk-nkfloor-local-s{} >/dev/null
}
for n in "$@"; do
  write docker "$n" 1
  cold=$(for _ in $(seq "$runs"); do cleanup; nkup; done | median)
  cleanup
  fl=$(for _ in $(seq "$runs"); do cleanup; t floor "$n"; done | median)
  cleanup
  printf '| %s | %.2f s | %.2f s | %.2fx |\n' "$n" "$cold" "$fl" "$(echo "$cold / $fl" | bc -l)"
done
