#!/usr/bin/env bash
# Start a stock Unleash server (the npm package, default settings) on 127.0.0.1:4242, backed by a
# PostgreSQL database `unleash`, with the two API tokens benchmarks/snapshot_http.py uses. Needs node >= 18.
#   benchmarks/unleash/start.sh [folder]      # then: benchmarks/snapshot_http.py --unleash http://127.0.0.1:4242
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${TMPDIR:-/tmp}/gate-bench-unleash}
mkdir -p "$dir"
cp "$here/server.js" "$dir/"
cd "$dir"
[ -d node_modules/unleash-server ] || { npm init -y >/dev/null; npm install --no-audit --no-fund unleash-server >/dev/null; }
createdb -h 127.0.0.1 -U postgres unleash 2>/dev/null || true
nohup node server.js > unleash.log 2>&1 &
for _ in $(seq 120); do
  curl -fs http://127.0.0.1:4242/health >/dev/null 2>&1 && { echo "Unleash $(node -p "require('./node_modules/unleash-server/package.json'.replace('./', process.cwd() + '/')).version" 2>/dev/null || true) up on http://127.0.0.1:4242"; exit 0; }
  sleep 1
done
echo "Unleash did not start; see $dir/unleash.log" >&2
exit 1
