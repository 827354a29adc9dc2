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
# The real node's kubelet (dev/node), when the platform has one: the containers' own CPU and memory
# (/metrics/resource, with container/namespace/pod labels). HOTSTEPPER_KUBELET_SCRAPE names the
# control plane's state dir; the client certificate is one the node's RBAC lets read nodes/metrics.
if [ -n "${HOTSTEPPER_KUBELET_SCRAPE:-}" ] && [ -s "$HOTSTEPPER_KUBELET_SCRAPE/node/port-base" ]; then
  k8s=$HOTSTEPPER_KUBELET_SCRAPE
  target="$(HOTSTEPPER_K8S_STATE="$k8s" HOTSTEPPER_K8S_PORT_BASE="$(cat "$k8s/node/port-base")" \
    bash -c "source '$here/../node/node.env.sh' && echo \"\$HOST_IP:\$KUBELET_PORT \$NODE_NAME\"")"
  cat >> "$dir/prometheus.yml" <<YAML
  - job_name: kubelet-resource
    scheme: https
    metrics_path: /metrics/resource
    tls_config: { ca_file: $k8s/pki/ca.crt, cert_file: $k8s/pki/prometheus.crt, key_file: $k8s/pki/prometheus.key }
    static_configs:
      - targets: ['${target% *}']
        labels: { node: '${target#* }' }
YAML
fi
exec /usr/bin/prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=15d --log.level=warn
