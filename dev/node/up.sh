#!/usr/bin/env bash
# Joins one real node to the local control plane of dev/k8s/up.sh: Debian's containerd and runc
# and a kubelet built from k8s.io/kubernetes (dev/k8s/build.sh), with CNI bridge networking from
# Debian's containernetworking-plugins. Users' servers, jobs and grading units run here as real
# containers. The node is labelled hotstepper.dev/node=real and tainted
# hotstepper.dev/real-node=true:NoSchedule, so only workloads that ask for it land on it; kwok's
# simulated fleet keeps everything else. It advertises simulated GPUs (extended resources, labelled
# as the GPU operator does, plus hotstepper.dev/gpu-simulated=true): pods that request them run,
# with no device behind them.
#
# Everything is per control plane, so several platforms (npm start, tests, the bench) can each have
# a real node side by side: state in <k8s state>/node, containerd's socket there, the kubelet on
# ports BASE+250 (HTTPS) and BASE+248 (healthz, loopback), its cgroups under /hotstepper-<BASE>.
# The node's network is a namespace of its own, hotstepper-<BASE>: containerd runs in it, so the
# pods' bridge hs<BASE/100> (10.88.<BASE/100 % 250>.0/24) is there, and so are kube-proxy's
# iptables rules for the platform's Services; two platforms' kube-proxies never share a chain.
# A veth pair joins it to the host: 10.89.<n>.1 on the host (the node's InternalIP, where the
# kubelet serves and where pods reach the platform), 10.89.<n>.2 inside. Loopback services the
# node needs (the registry, the API server) are carried in over Unix sockets, so nothing on the
# host's loopback is opened to pods. dev/node/down.sh undoes all of it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/node.env.sh"
START_TIMEOUT="${HOTSTEPPER_K8S_START_TIMEOUT:-90}"

log() { printf '[node/up %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# up.sh --restart containerd|kubelet: start that one again on a node that is up (a test killed it).
RESTART=""
if [ "${1:-}" = --restart ]; then
  RESTART="${2:-}"
  case "$RESTART" in containerd | kubelet) ;; *) echo "--restart needs containerd or kubelet" >&2; exit 2 ;; esac
fi
die() { log "ERROR: $*"; exit 1; }

for c in containerd runc ip nsenter socat iptables; do command -v $c >/dev/null || die "$c is not installed: run npm run setup"; done
[ -x /usr/lib/cni/bridge ] || die "containernetworking-plugins is not installed: run npm run setup"
for b in kubelet kube-proxy; do
  [ -x "$BIN/$b" ] || die "no $b in $BIN: run npm run setup (dev/k8s/build.sh)"
done
[ "$(id -u)" = 0 ] || die "the real node needs root (containerd, the kubelet and CNI change host state)"
[ -s "$PKI/ca.crt" ] || die "no control plane in $STATE_DIR: start it with dev/k8s/up.sh"
[ "$RESTART" = containerd ] || for p in $KUBELET_PORT $HEALTHZ_PORT; do
  if ss -Hltn "sport = :$p" | grep -q .; then
    die "port 127.0.0.1:$p is in use (another real node? set HOTSTEPPER_K8S_PORT_BASE)"
  fi
done

mkdir -p "$NODE"/{containerd,kubelet,manifests,pod-logs,cni/net.d,cni/data,certs.d,ports} "$PIDS" "$LOGS"
echo "$BASE" > "$NODE/port-base"
bash "$HERE/pki.sh" "$PKI" "$NODE_NAME" "$HOST_IP"
PAUSE="$(bash "$HERE/images.sh" pause | sed -n 's/^pause=//p')"
[ -n "$PAUSE" ] || die "the pause image could not be built (dev/node/images.sh)"
REGISTRY="${PAUSE%%/*}"

# ---- containerd -----------------------------------------------------------------------------
mkdir -p "$NODE/certs.d/$REGISTRY"
printf '%s\n' "server = \"http://$REGISTRY\"" "[host.\"http://$REGISTRY\"]" \
  '  capabilities = ["pull", "resolve"]' > "$NODE/certs.d/$REGISTRY/hosts.toml"
# restrict_oom_score_adj: this VM lacks CAP_SYS_RESOURCE, so without it every sandbox fails with
# "can't get final child's PID from pipe: EOF". SystemdCgroup off: PID 1 is not systemd.
cat > "$NODE/containerd.toml" <<TOML
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  # exec, attach and port-forward: the kubelet (on the host) reaches this across the veth pair
  stream_server_address = "$NODE_NS_IP"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$NODE/certs.d"
TOML
# Pods have two routes beyond their bridge, both through its gateway: the host's end of the veth
# pair (the platform's services) and the Service range (kube-proxy). No default route and no
# masquerading, so no pod reaches anything beyond this machine.
cat > "$NODE/cni/net.d/10-hotstepper.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "hotstepper-$BASE",
  "plugins": [
    { "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$SUBNET", "gateway": "$GATEWAY" }]],
                "routes": [{ "dst": "$HOST_IP/32" }, { "dst": "$SERVICE_CIDR" }],
                "dataDir": "$NODE/cni/data" } },
    { "type": "loopback" }
  ]
}
JSON

start() { # name args...
  local name=$1; shift
  log "starting $name (log: $LOGS/$name.log)"
  setsid "$@" >"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
}
wait_for() { # name what cmd...
  local name=$1 what=$2; shift 2
  local deadline=$((SECONDS + START_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null || { tail -20 "$LOGS/$name.log" >&2; die "$name exited (log: $LOGS/$name.log)"; }
    (( SECONDS < deadline )) || { tail -20 "$LOGS/$name.log" >&2; die "$what not within ${START_TIMEOUT}s"; }
    sleep 0.2
  done
}
cleanup_on_error() {
  local rc=$?
  (( rc == 0 )) && return 0
  log "start failed: undoing what was started (logs stay in $LOGS)"
  bash "$HERE/down.sh" >&2 || true
}
[ -n "$RESTART" ] || trap cleanup_on_error EXIT

# ---- the node's network namespace ----------------------------------------------------------
if [ -z "$RESTART" ]; then
  ip netns list | grep -qx "$NETNS\( .*\)\?" || ip netns add "$NETNS"
  inns() { ip -n "$NETNS" "$@"; }
  if ! ip link show "$LINK" >/dev/null 2>&1; then
    ip link add "$LINK" type veth peer name "$PEER" netns "$NETNS"
    ip addr add "$HOST_IP/24" dev "$LINK"
    inns addr add "$NODE_NS_IP/24" dev "$PEER"
  fi
  ip link set "$LINK" up
  inns link set lo up
  inns link set "$PEER" up
  inns route replace default via "$HOST_IP"
  ip route replace "$SUBNET" via "$NODE_NS_IP" dev "$LINK"
  # The pods' bridge, made before the first pod so its address is the pods' default route.
  if ! inns link show "$BRIDGE" >/dev/null 2>&1; then
    inns link add "$BRIDGE" type bridge
    inns addr add "$GATEWAY/24" dev "$BRIDGE"
  fi
  inns link set "$BRIDGE" up
  # Forwarding between the bridge and the veth, and bridged traffic through iptables, so a
  # Service's answer from a pod on the same bridge is translated back (kube-proxy's requirement).
  ip netns exec "$NETNS" sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
fi
# A loopback port of the host, carried into the namespace's loopback over a Unix socket (mode 600
# in the node's state dir): only processes in the namespace's own loopback reach it, never pods.
carry_in() { # name port
  local sock="$NODE/ports/$2.sock"
  rm -f "$sock"
  start "$1-host" socat "UNIX-LISTEN:$sock,fork,mode=600" "TCP:127.0.0.1:$2"
  wait_for "$1-host" "the $1 socket" test -S "$sock"
  start "$1-node" nsenter --net="$NETNS_PATH" \
    socat "TCP-LISTEN:$2,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$sock"
}
API_PORT_LOCAL="$(sed -n 's|^ *server: https://127.0.0.1:||p' "$KUBECONFIG" | head -1)"
[ -n "$RESTART" ] || {
  carry_in registry "${REGISTRY##*:}"
  carry_in apiserver "$API_PORT_LOCAL"
}

# The sysctls the kubelet sets, as they were, for down.sh to put back.
[ -s "$NODE/sysctl.orig" ] || sysctl -e vm.overcommit_memory kernel.panic kernel.panic_on_oops > "$NODE/sysctl.orig"

# The kubelet's cgroup root must exist in every v1 hierarchy before it starts.
for h in /sys/fs/cgroup/*/; do
  [ -f "${h}cgroup.procs" ] && mkdir -p "$h${CGROUP_ROOT#/}"
done


# ---- kubelet --------------------------------------------------------------------------------
"$KUBECTL" apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "hotstepper:nodes" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:nodes" }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "hotstepper:kubelet-metrics" }
rules: [{ apiGroups: [""], resources: ["nodes/metrics", "nodes/stats"], verbs: ["get"] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "hotstepper:prometheus" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "hotstepper:kubelet-metrics" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: User, name: "hotstepper:prometheus" }]
YAML
API_SERVER="$(sed -n 's/^ *server: //p' "$KUBECONFIG" | head -1)"
cat > "$NODE/kubelet.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{ name: local, cluster: { server: "$API_SERVER", certificate-authority: "$PKI/ca.crt" } }]
users: [{ name: node, user: { client-certificate: "$PKI/kubelet-client.crt", client-key: "$PKI/kubelet-client.key" } }]
contexts: [{ name: local, context: { cluster: local, user: node } }]
current-context: local
YAML
: > "$NODE/resolv.conf"
cat > "$NODE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $HOST_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $HEALTHZ_PORT
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
staticPodPath: $NODE/manifests
podLogsDir: $NODE/pod-logs
resolvConf: $NODE/resolv.conf
serializeImagePulls: false
maxPods: 60
evictionHard: { memory.available: "200Mi", nodefs.available: "1%", imagefs.available: "1%" }
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
registerWithTaints: [{ key: hotstepper.dev/real-node, value: "true", effect: NoSchedule }]
YAML
start_containerd() {
  rm -f "$SOCK"
  start containerd nsenter --net="$NETNS_PATH" containerd --config "$NODE/containerd.toml"
  wait_for containerd "containerd's socket" test -S "$SOCK"
}
node_ready() {
  [ "$("$KUBECTL" get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
start_kubelet() {
  start kubelet "$BIN/kubelet" --config="$NODE/kubelet.yaml" --kubeconfig="$NODE/kubelet.kubeconfig" \
    --root-dir="$NODE/kubelet" --hostname-override="$NODE_NAME" --node-ip="$HOST_IP" \
    --node-labels="hotstepper.dev/node=real,hotstepper.io/pool=real" --v=1
  wait_for kubelet "node $NODE_NAME Ready" node_ready
}
if [ -n "$RESTART" ]; then
  "start_$RESTART"
  log "restarted $RESTART"
  exit 0
fi
start_containerd
start_kubelet

# ---- simulated GPUs: one whole GPU and one split into MIG slices (mixed strategy) -------------
"$KUBECTL" label --overwrite node "$NODE_NAME" >/dev/null \
  nvidia.com/gpu.present=true nvidia.com/gpu.product=NVIDIA-A100-SXM4-80GB nvidia.com/gpu.memory=81920 \
  nvidia.com/gpu.count=2 nvidia.com/mig.capable=true nvidia.com/mig.strategy=mixed \
  nvidia.com/mig.config=all-1g.10gb nvidia.com/mig-1g.10gb.count=7 hotstepper.dev/gpu-simulated=true
"$KUBECTL" patch node "$NODE_NAME" --subresource=status --type=merge >/dev/null \
  -p '{"status":{"capacity":{"nvidia.com/gpu":"1","nvidia.com/mig-1g.10gb":"7"}}}'
has_gpus() { [ "$("$KUBECTL" get node "$NODE_NAME" -o 'jsonpath={.status.allocatable.nvidia\.com/gpu}')" = 1 ]; }
wait_for kubelet "simulated GPUs on $NODE_NAME" has_gpus

# ---- volumes: rancher's local-path-provisioner, the default StorageClass -------------------------
# Each claim becomes a directory under <node>/volumes, made and removed by a helper pod (busybox, as
# root) on the node; claims bind when their pod is scheduled (WaitForFirstConsumer).
[ -x "$BIN/local-path-provisioner" ] || die "no local-path-provisioner in $BIN: run npm run setup (dev/k8s/build.sh)"
BUSYBOX="$(bash "$HERE/images.sh" busybox | sed -n 's/^busybox=//p')"
LPP="$NODE/local-path"
mkdir -p "$LPP" "$NODE/volumes"
printf '{"nodePathMap":[{"node":"DEFAULT_PATH_FOR_NON_LISTED_NODES","paths":["%s"]}]}\n' "$NODE/volumes" > "$LPP/config.json"
printf '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n' > "$LPP/setup"
printf '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n' > "$LPP/teardown"
cat > "$LPP/helperPod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: { name: helper-pod }
spec:
  automountServiceAccountToken: false
  securityContext: { runAsUser: 0 }
  containers:
  - { name: helper-pod, image: "$BUSYBOX", imagePullPolicy: IfNotPresent }
YAML
"$KUBECTL" create namespace local-path-storage --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
"$KUBECTL" -n local-path-storage create configmap local-path-config --from-file="$LPP" \
  --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
# A claim's folder is <node>/volumes/<namespace>/<claim>: a home the companion can find by name.
# A StorageClass's parameters cannot change: an older one is replaced (its volumes stay as they are).
cat > "$NODE/storageclass.yaml" <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-path
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: rancher.io/local-path
parameters: { pathPattern: "{{ .PVC.Namespace }}/{{ .PVC.Name }}" }
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
YAML
"$KUBECTL" apply -f "$NODE/storageclass.yaml" >/dev/null 2>&1 ||
  "$KUBECTL" replace --force -f "$NODE/storageclass.yaml" >/dev/null
start local-path-provisioner "$BIN/local-path-provisioner" start --kubeconfig "$KUBECONFIG" \
  --config "$LPP/config.json" --helper-pod-file "$LPP/helperPod.yaml" --namespace local-path-storage \
  --configmap-name local-path-config --provisioner-name rancher.io/local-path \
  --service-account-name default
# ---- Services: kube-proxy (iptables mode) in the node's namespace ------------------------------
# It watches through the API server carried in above, with the platform's admin credentials (a
# local platform's; a cluster would give it system:node-proxier). No conntrack sysctl is touched:
# those are the host's, shared with every other platform.
cat > "$NODE/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: "$KUBECONFIG" }
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $SUBNET
detectLocalMode: ClusterCIDR
bindAddress: $NODE_NS_IP
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$((KUBE_PROXY_HEALTHZ_PORT + 1))
nodePortAddresses: ["$NODE_NS_IP/32"]
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
YAML
start kube-proxy nsenter --net="$NETNS_PATH" "$BIN/kube-proxy" --config="$NODE/kube-proxy.yaml" --v=1
proxy_ready() {
  nsenter --net="$NETNS_PATH" curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz"
}
wait_for kube-proxy "kube-proxy's first sync" proxy_ready
trap - EXIT
log "node $NODE_NAME Ready (containerd $SOCK, kubelet $HOST_IP:$KUBELET_PORT, pods on $SUBNET via $BRIDGE in netns $NETNS, Services by kube-proxy)"
echo "$NODE_NAME"
