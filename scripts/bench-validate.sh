#!/usr/bin/env bash
# Validating one file, as a pre-commit hook or an editor opening it would: `nkdev validate`,
# nanokit-lsp and yaml-language-server (with the generated schema) from start to first
# diagnostics, and `docker-compose config -q` on the equivalent compose file.
# Medians; prints one markdown table. Usage: scripts/bench-validate.sh YLS-DIR 10 100 1000
set -euo pipefail
cd "$(dirname "$0")/.."
yls=(node "$1/node_modules/yaml-language-server/bin/yaml-language-server" --stdio)
shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
schema="file://$PWD/schema/nanokit.schema.json"
median() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$1"; }
echo "| services | nkdev validate | nanokit-lsp: start → diagnostics | yaml-language-server: start → diagnostics | docker-compose config -q |"
echo "|---|---|---|---|---|"
for n in "$@"; do
  mkdir -p "$work/$n"
  target/release/examples/latency document "$n" "$schema" > "$work/$n/nanokit.yml"
  {
    echo "version: '3'"
    echo "services:"
    for i in $(seq 0 $((n - 1))); do
      printf '  svc-%s:\n    image: node:22-slim\n    expose: ["%s"]\n    labels: {host: svc-%s.big.localhost}\n    environment: {INDEX: "%s"}\n' "$i" $((3000 + i % 1000)) "$i" "$i"
      [ "$i" -gt 0 ] && printf '    depends_on: [svc-%s]\n' $(((i * 7) % i))
    done
  } > "$work/$n/docker-compose.yml"
  hyperfine -N -w 2 -r 20 --export-json "$work/nk.json" "target/release/nkdev validate -f $work/$n/nanokit.yml" >/dev/null
  hyperfine -w 1 -r 5 --export-json "$work/dc.json" "docker-compose -f $work/$n/docker-compose.yml config -q" >/dev/null
  read -r nkl_ms nkl_found < <(target/release/examples/latency open "$work/$n/nanokit.yml" 10 -- target/release/nanokit-lsp)
  read -r yls_ms yls_found < <(target/release/examples/latency open "$work/$n/nanokit.yml" 5 -- "${yls[@]}")
  [ "$nkl_found" = 0 ] && [ "$yls_found" = 0 ] || { echo "the generated file should be valid: nanokit-lsp found $nkl_found, yaml-language-server $yls_found" >&2; exit 1; }
  echo "| $n | $(median "$work/nk.json") ms | $nkl_ms ms | $yls_ms ms | $(median "$work/dc.json") ms |"
done
