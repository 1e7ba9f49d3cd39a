#!/usr/bin/env bash
# The main job on the embedded defaults: the demo shop, monitored by `wfmon up`
# (SQLite ./wfmon.db and a local Prefect server). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export PREFECT_SERVER_ANALYTICS_ENABLED=false
uv run python -m demo --port 8050 &
shop=$!
trap 'kill $shop 2>/dev/null || true; wait $shop 2>/dev/null || true' EXIT
echo "Demo shop on http://127.0.0.1:8050 (faults: POST /_control/faults)"
uv run wfmon up "$@"
