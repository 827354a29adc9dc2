# Sourced by dev/node/up.sh and down.sh: where one control plane's real node keeps its things.
# Derived from the same variables as dev/k8s/up.sh, so each platform's node is its own.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${HOTSTEPPER_K8S_STATE:-${HOTSTEPPER_STATE:-$ROOT/.state}/k8s}"
# A node that is up remembers its port base, so down.sh undoes the right things without being told.
BASE="${HOTSTEPPER_K8S_PORT_BASE:-$(cat "$STATE_DIR/node/port-base" 2>/dev/null || echo 16000)}"
NODE_NAME="${HOTSTEPPER_NODE_NAME:-real-1}"
CACHE="${HOTSTEPPER_CACHE:-$HOME/.cache/hotstepper}"
BIN="$CACHE/k8s/bin"
KUBECTL="${KUBECTL:-$BIN/kubectl}"
PKI="$STATE_DIR/pki" PIDS="$STATE_DIR/pids" LOGS="$STATE_DIR/logs"
NODE="$STATE_DIR/node"
SOCK="$NODE/containerd.sock"
KUBELET_PORT=$((BASE + 250)) HEALTHZ_PORT=$((BASE + 248))
NET=$((BASE / 100 % 250))
SUBNET="10.88.$NET.0/24" GATEWAY="10.88.$NET.1" BRIDGE="hs$((BASE / 100))"
# The node's network namespace: containerd, its pods' bridge and kube-proxy's rules live there, so
# each platform's Services are its own. A veth pair links it to the host: HOST_IP on the host side
# is where pods reach the platform's services and the node's InternalIP (the kubelet serves there).
NETNS="hotstepper-$BASE" NETNS_PATH="/run/netns/hotstepper-$BASE"
LINK="hsl$((BASE / 100))" PEER="hsp$((BASE / 100))"
HOST_IP="10.89.$NET.1" NODE_NS_IP="10.89.$NET.2"
KUBE_PROXY_HEALTHZ_PORT=$((BASE + 256))
SERVICE_CIDR="${HOTSTEPPER_K8S_SERVICE_CIDR:-10.0.0.0/24}" # as dev/k8s/up.sh gives the API server
CGROUP_ROOT="/hotstepper-$BASE"
export KUBECONFIG="$STATE_DIR/kubeconfig"
