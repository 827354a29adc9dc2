#!/usr/bin/env bash
# npm run bench: figures as ratios against baselines measured in the same run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
export HOTSTEPPER_STATE="$ROOT/.state/bench" HOTSTEPPER_HUB_PORT=28000 HOTSTEPPER_HUB_API_PORT=28081 \
  HOTSTEPPER_PROXY_API_PORT=28001 HOTSTEPPER_PORT=29100 HOTSTEPPER_K8S_PORT_BASE=27000 HOTSTEPPER_LOG_LEVEL=warn
export HOTSTEPPER_FLARE_PORT=29180
export HOTSTEPPER_LLM_PORT=29300
export HOTSTEPPER_PROMETHEUS_PORT=29090 HOTSTEPPER_USAGE_EXPORTER_PORT=29091
bash dev/stop.sh >/dev/null
trap 'bash dev/stop.sh >/dev/null' EXIT
bash dev/start.sh --detach >/dev/null
node server/bench/me-latency.mjs
node server/bench/spawn-options.mjs
node server/bench/cluster-gpus.mjs
node server/bench/flare-gateway.mjs
node server/bench/welcome-digest.mjs
node server/bench/jobs-api.mjs
node server/bench/idle-round.mjs
node server/bench/grader-autograde.mjs # 100 submissions x 3 runs: about 6 min on a quiet machine
node --import tsx ui-tests/bench/lab-load.mjs
node --import tsx ui-tests/bench/spawn-page.mjs # no platform needed: both forms rendered by Python, served locally
bash dev/node/bench-images.sh # the notebook image, cold (fresh storage) and warm (its tag in the registry)
node --import tsx ui-tests/bench/spawn.mjs # two more platforms: pods on the real node vs local processes
node --import tsx ui-tests/bench/welcome-open.mjs
node --import tsx server/bench/usage-history.mjs
node server/bench/usage-meter.mjs
node server/bench/usage-live-cpu.mjs
