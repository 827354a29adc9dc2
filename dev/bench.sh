#!/usr/bin/env bash
# npm run bench: figures as ratios against baselines measured in the same run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
export HOTSTEPPER_STATE="$ROOT/.state/bench" HOTSTEPPER_HUB_PORT=28000 HOTSTEPPER_HUB_API_PORT=28081 \
  HOTSTEPPER_PROXY_API_PORT=28001 HOTSTEPPER_PORT=29100 HOTSTEPPER_K8S_PORT_BASE=27000 HOTSTEPPER_LOG_LEVEL=warn
bash dev/stop.sh >/dev/null
trap 'bash dev/stop.sh >/dev/null' EXIT
bash dev/start.sh --detach >/dev/null
node server/bench/me-latency.mjs
node server/bench/cluster-gpus.mjs
node --import tsx ui-tests/bench/lab-load.mjs
