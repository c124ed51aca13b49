#!/usr/bin/env bash
# Builds and packages the extension: editors/vscode/nanokit.vsix (npm registry only).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
mkdir -p schema
cp ../../schema/nanokit.schema.json schema/
npm run --silent compile
npx --no-install vsce package --out nanokit.vsix
