#!/usr/bin/env bash
# The main job on the built-in example: render inventory/homelab.yaml, validate
# it, commit it and push it to a local bare Git remote made here for the
# purpose. No boards are needed. Usage: scripts/example.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$PWD/.bramble-example}"
[ -f dist/bin/bramble.js ] || { echo "build first: npm run build" >&2; exit 2; }

rm -rf "$out/remote.git" "$out/work"
mkdir -p "$out"
git init --quiet --bare --initial-branch main "$out/remote.git"

node dist/bin/bramble.js validate -i inventory/homelab.yaml
node dist/bin/bramble.js publish -i inventory/homelab.yaml --repo "$out/work" --remote "$out/remote.git"

echo
echo "The rendered repository:  $out/work/clusters"
echo "The Git remote it pushed:  $out/remote.git  (git -C $out/remote.git log --stat main)"
