#!/usr/bin/env bash
# Starts a local Kubernetes test control plane on 127.0.0.1 from the binaries of dev/k8s/build.sh:
#   etcd (--unsafe-no-fsync, fresh data dir each start), kube-apiserver (RBAC; ResourceQuota and
#   LimitRanger admission; token auth), kube-controller-manager (all controllers but nodelifecycle),
#   kube-scheduler, and kwok, which plays the kubelet for every node annotated
#   kwok.x-k8s.io/node=fake (its default "fast" stages: nodes go Ready, pods Running, Job pods
#   Succeeded).
# State (pki, tokens, kubeconfigs, logs, pids, etcd data) goes to
#   ${HOTSTEPPER_STATE:-<repo>/.state}/k8s          (override the whole dir with HOTSTEPPER_K8S_STATE)
# With HOTSTEPPER_REAL_NODE=on it also joins one real node (dev/node/up.sh: containerd and a
# kubelet) where pods that tolerate hotstepper.dev/real-node really run.
# Prints the admin kubeconfig path on stdout. Stop with dev/k8s/down.sh.
# If the control plane is already up (all pids alive), it prints the kubeconfig and exits.
#
#   up.sh --restart NAME   stops (if alive) and starts again ONE component of a running control
#                          plane, keeping etcd's data: e.g. a kube-apiserver restart in a test.
#
# Ports (loopback only), from HOTSTEPPER_K8S_PORT_BASE (default 16000), so several checkouts can
# each run one: apiserver BASE+443, etcd BASE+379/BASE+380, kcm BASE+257, scheduler BASE+259,
# kwok BASE+247.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE_DIR="${HOTSTEPPER_K8S_STATE:-${HOTSTEPPER_STATE:-$ROOT/.state}/k8s}"
BASE="${HOTSTEPPER_K8S_PORT_BASE:-16000}"
API_PORT=$((BASE + 443)) ETCD_PORT=$((BASE + 379)) ETCD_PEER_PORT=$((BASE + 380))
KCM_PORT=$((BASE + 257)) SCHED_PORT=$((BASE + 259)) KWOK_PORT=$((BASE + 247))
SERVICE_CIDR="${HOTSTEPPER_K8S_SERVICE_CIDR:-10.0.0.0/24}"
POD_CIDR="${HOTSTEPPER_K8S_POD_CIDR:-10.244.0.0/16}"
REAL_NODE="${HOTSTEPPER_REAL_NODE:-off}"
KUBECTL="${KUBECTL:-${HOTSTEPPER_CACHE:-$HOME/.cache/hotstepper}/k8s/bin/kubectl}"
START_TIMEOUT="${HOTSTEPPER_K8S_START_TIMEOUT:-90}"

log() { printf '[k8s/up %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PKI="$STATE_DIR/pki" LOGS="$STATE_DIR/logs" PIDS="$STATE_DIR/pids"
KUBECONFIG_ADMIN="$STATE_DIR/kubeconfig"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
RESTART=""
if [[ "${1:-}" == "--restart" ]]; then
  RESTART="${2:-}"
  [[ " ${COMPONENTS[*]} " == *" $RESTART "* ]] || die "--restart needs one of: ${COMPONENTS[*]}"
fi

alive() { # alive NAME: its pid file names a live process running our binary
  local f="$PIDS/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "/$1 " || return 1
}

if [[ -n "$RESTART" ]]; then
  [[ -d "$STATE_DIR/etcd" ]] || die "no control plane state in $STATE_DIR to restart $RESTART in"
  if alive "$RESTART"; then
    pid="$(cat "$PIDS/$RESTART.pid")"
    log "stopping $RESTART (pid $pid) to restart it"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$RESTART" || break; sleep 0.1; done
    alive "$RESTART" && kill -KILL "$pid" 2>/dev/null || true
  fi
else
  all_up=1
  for c in "${COMPONENTS[@]}"; do alive "$c" || all_up=0; done
  if (( all_up )); then
    log "already running (pids in $PIDS)"
    echo "$KUBECONFIG_ADMIN"
    exit 0
  fi
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then die "$c is running but not all components are: run dev/k8s/down.sh first"; fi
  done
fi

# ---- binaries ---------------------------------------------------------------------------------
log "checking the binaries (dev/k8s/build.sh; builds whatever is missing, which takes long)"
BIN="$(bash "$HERE/build.sh")"
for c in "${COMPONENTS[@]}"; do [[ -x "$BIN/$c" ]] || die "missing $BIN/$c"; done
[[ -x "$KUBECTL" ]] || die "kubectl not found (set KUBECTL=)"

for p in $API_PORT $ETCD_PORT $ETCD_PEER_PORT $KCM_PORT $SCHED_PORT $KWOK_PORT; do
  [[ -n "$RESTART" ]] && break   # the others are running on theirs
  if ss -Hltn "sport = :$p" | grep -q .; then
    die "port 127.0.0.1:$p is in use (another control plane? set HOTSTEPPER_K8S_PORT_BASE)"
  fi
done

mkdir -p "$PKI" "$LOGS" "$PIDS"
[[ -n "$RESTART" ]] || rm -rf "$STATE_DIR/etcd"   # a fresh cluster on every start

# ---- pki: a CA, the apiserver serving cert, service-account keys (kept across restarts) -------
if [[ ! -f "$PKI/apiserver.crt" ]]; then
  log "generating pki in $PKI (openssl)"
  (
    cd "$PKI"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=hotstepper-test-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,IP:${SERVICE_CIDR%.*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
      "extendedKeyUsage=serverAuth" "keyUsage=digitalSignature,keyEncipherment" > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f apiserver.csr apiserver.ext
  )
fi
# the kubelet's and the apiserver's certificates towards each other (logs, exec, port-forward)
bash "$ROOT/dev/node/pki.sh" "$PKI" "${HOTSTEPPER_NODE_NAME:-real-1}"

# ---- static tokens: token,user,uid,"groups" ----------------------------------------------------
TOKENS="$STATE_DIR/tokens.csv"
if [[ ! -f "$TOKENS" ]]; then
  (
    umask 077
    t() { openssl rand -hex 16; }
    {
      echo "$(t),admin,admin,\"system:masters\""
      echo "$(t),system:kube-controller-manager,kube-controller-manager,\"system:masters\""
      echo "$(t),system:kube-scheduler,kube-scheduler,\"system:masters\""
      echo "$(t),system:kwok-controller,kwok-controller,\"system:masters\""
    } > "$TOKENS"
  )
fi
token_of() { awk -F, -v u="$1" '$2 == u {print $1}' "$TOKENS"; }

write_kubeconfig() { # write_kubeconfig FILE USER
  local file="$1" user="$2" token
  token="$(token_of "$user")"; [[ -n "$token" ]] || die "no token for $user in $TOKENS"
  (
    umask 077
    cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: hotstepper-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    token: $token
contexts:
- name: hotstepper-test
  context: {cluster: hotstepper-test, user: $user, namespace: default}
current-context: hotstepper-test
EOF
  )
}
write_kubeconfig "$KUBECONFIG_ADMIN" admin
write_kubeconfig "$STATE_DIR/kube-controller-manager.kubeconfig" system:kube-controller-manager
write_kubeconfig "$STATE_DIR/kube-scheduler.kubeconfig" system:kube-scheduler
write_kubeconfig "$STATE_DIR/kwok.kubeconfig" system:kwok-controller

# ---- kwok stages: kwok's own defaults (as kwokctl uses), read from the kwok module source -------
KWOK_SRC="$(ls -d "${HOTSTEPPER_CACHE:-$HOME/.cache/hotstepper}"/k8s/go/mod/sigs.k8s.io/kwok@v*/kustomize/stage 2>/dev/null | sort -V | tail -1)"
[[ -d "$KWOK_SRC" ]] || die "kwok's stage files not found in the Go module cache (run dev/k8s/build.sh)"
# (no KwokConfiguration document: with one, kwok v0.8.0 does not default its options and fails
#  "node leases parallelism must be greater than 0"; without one it uses the defaulted options)
{
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$KWOK_SRC/$f"
  done
  # Job pods: kwok's fast pod-complete, plus a delay by annotation, failure for `false`, and logs.
  echo "---"; sed "s|@ROOT@|$ROOT|g" "$ROOT/dev/jobs/kwok-stages.yaml"
} > "$STATE_DIR/kwok.yaml"

# ---- start ------------------------------------------------------------------------------------
start() { # start NAME ARGS... : runs $BIN/NAME in its own session, log and pid in the state dir
  local name="$1"; shift
  log "starting $name (log: $LOGS/$name.log)"
  setsid "$BIN/$name" "$@" >"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$PIDS/$name.pid"
}

wait_for() { # wait_for NAME CMD... : polls CMD until it succeeds, while NAME stays alive
  local name="$1"; shift
  local deadline=$((SECONDS + START_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    alive "$name" || { tail -20 "$LOGS/$name.log" >&2; die "$name exited (log: $LOGS/$name.log)"; }
    (( SECONDS < deadline )) || { tail -20 "$LOGS/$name.log" >&2; die "$name not ready after ${START_TIMEOUT}s"; }
    sleep 0.5
  done
}

cleanup_on_error() {
  local rc=$?
  (( rc == 0 )) && return 0
  log "start failed: stopping what was started (logs stay in $LOGS)"
  bash "$HERE/down.sh" >&2 || true
}
# A failed --restart leaves the rest running, for the caller to inspect or stop.
[[ -n "$RESTART" ]] || trap cleanup_on_error EXIT

start_etcd() {
start etcd \
  --name=hotstepper-test --data-dir="$STATE_DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="hotstepper-test=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) --log-level=warn
wait_for etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
}

# TaintNodesByCondition admission puts node.kubernetes.io/not-ready:NoSchedule on every new node and
# only the nodelifecycle controller (disabled below, so fake nodes are never evicted) takes it off:
# with both, nothing would ever schedule. So that plugin is off.
start_kube_apiserver() {
start kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --token-auth-file="$TOKENS" \
  --authorization-mode=RBAC \
  --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,ResourceQuota \
  --disable-admission-plugins=TaintNodesByCondition \
  --service-account-issuer="https://127.0.0.1:$API_PORT" \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  --cert-dir="$PKI/apiserver-generated"
wait_for kube-apiserver "$KUBECTL" --kubeconfig="$KUBECONFIG_ADMIN" get --raw /readyz
}

start_kube_controller_manager() {
start kube-controller-manager \
  --kubeconfig="$STATE_DIR/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --leader-elect=false \
  --controllers='*,-nodelifecycle' \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --cluster-cidr="$POD_CIDR" --allocate-node-cidrs=false
}
start_kube_scheduler() {
start kube-scheduler \
  --kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
  --leader-elect=false
}
start_kwok() {
start kwok \
  --kubeconfig="$STATE_DIR/kwok.kubeconfig" \
  --config="$STATE_DIR/kwok.yaml" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --server-address="127.0.0.1:$KWOK_PORT" \
  --cidr="$POD_CIDR" --node-lease-duration-seconds=40
}

if [[ -n "$RESTART" ]]; then
  "start_${RESTART//-/_}"
  case "$RESTART" in
    kube-controller-manager) wait_for "$RESTART" curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz" ;;
    kube-scheduler) wait_for "$RESTART" curl -fsSk "https://127.0.0.1:$SCHED_PORT/healthz" ;;
    kwok) wait_for "$RESTART" curl -fsS "http://127.0.0.1:$KWOK_PORT/healthz" ;;
  esac
  log "restarted $RESTART"
  echo "$KUBECONFIG_ADMIN"
  exit 0
fi

start_etcd
start_kube_apiserver
start_kube_controller_manager
start_kube_scheduler
start_kwok
wait_for kube-controller-manager curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
wait_for kube-scheduler curl -fsSk "https://127.0.0.1:$SCHED_PORT/healthz"
wait_for kwok curl -fsS "http://127.0.0.1:$KWOK_PORT/healthz"
# the ServiceAccount admission plugin needs "default" in a namespace before pods can be created there
wait_for kube-controller-manager "$KUBECTL" --kubeconfig="$KUBECONFIG_ADMIN" -n default get serviceaccount default
if [[ "$REAL_NODE" == on ]]; then
  KUBECTL="$KUBECTL" bash "$ROOT/dev/node/up.sh" >/dev/null
fi
trap - EXIT

log "control plane up: https://127.0.0.1:$API_PORT ($(cd "$PIDS" && ls | tr '\n' ' '))"
log "use: export KUBECONFIG=$KUBECONFIG_ADMIN"
echo "$KUBECONFIG_ADMIN"
