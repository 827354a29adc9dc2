#!/usr/bin/env bash
# Runs the local platform's Prometheus in the foreground (start.sh launches it in its own process
# group): config rendered from prometheus.yml.in, data in <dir>/data.
#   prometheus.sh <dir> <port> <exporter-port> <companion-port> [scrape-interval]
set -euo pipefail
dir=$1 port=$2 exporter=$3 companion=$4 interval=${5:-5s}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$dir/data"
sed -e "s/@INTERVAL@/$interval/g" -e "s/@EXPORTER_PORT@/$exporter/g" -e "s/@COMPANION_PORT@/$companion/g" \
  "$here/prometheus.yml.in" > "$dir/prometheus.yml"
# The local platform's local-process servers, measured by dev/idle/exporter.mjs, when it runs one.
if [ -n "${HOTSTEPPER_LOCAL_EXPORTER_PORT:-}" ]; then
  cat >> "$dir/prometheus.yml" <<YAML
  - job_name: local-servers
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:$HOTSTEPPER_LOCAL_EXPORTER_PORT']
YAML
fi
exec /usr/bin/prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=15d --log.level=warn
