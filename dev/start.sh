#!/usr/bin/env bash
# Start the local platform on loopback: the companion, then JupyterHub (which spawns each user's JupyterLab).
#   npm start                 in the foreground; Ctrl-C stops everything
#   npm start -- --detach     return once everything answers; stop with: npm run stop
#   dev/start.sh --restart-companion | --stop-companion
#                             while the platform runs: after rebuilding server/, or to see Lab without it
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

mode=${1:-foreground}

export HOTSTEPPER_STATE="$STATE"
export HOTSTEPPER_HUB_PORT="${HOTSTEPPER_HUB_PORT:-8000}"
export HOTSTEPPER_HUB_API_PORT="${HOTSTEPPER_HUB_API_PORT:-8081}"
export HOTSTEPPER_PROXY_API_PORT="${HOTSTEPPER_PROXY_API_PORT:-8001}"
export HOTSTEPPER_PORT="${HOTSTEPPER_PORT:-9100}"
export HOTSTEPPER_URL="http://127.0.0.1:$HOTSTEPPER_PORT"
export HOTSTEPPER_K8S_PORT_BASE="${HOTSTEPPER_K8S_PORT_BASE:-16000}"
# Prometheus scrapes the companion and dev/usage's exporter (series of the simulated pods).
export HOTSTEPPER_PROMETHEUS_PORT="${HOTSTEPPER_PROMETHEUS_PORT:-9090}"
export HOTSTEPPER_USAGE_EXPORTER_PORT="${HOTSTEPPER_USAGE_EXPORTER_PORT:-9091}"
export HOTSTEPPER_PROMETHEUS_URL="${HOTSTEPPER_PROMETHEUS_URL:-http://127.0.0.1:$HOTSTEPPER_PROMETHEUS_PORT}"
# Flare's gateway: apps at http://<name>.flare.localhost:<port>/ (Chromium resolves *.localhost itself).
export HOTSTEPPER_FLARE_PORT="${HOTSTEPPER_FLARE_PORT:-9180}"
KUBECONFIG_LOCAL="$STATE/k8s/kubeconfig"
# Users' servers, jobs and autograde units run as pods on the platform's real node (containerd and a
# kubelet, dev/node) beside kwok's simulated fleet; running a node takes root.
if [ "$(id -u)" != 0 ]; then
  echo "npm start runs users' servers as pods on a real Kubernetes node (containerd and a kubelet)," >&2
  echo "which needs root: run it as root (sudo npm start)." >&2
  exit 1
fi
# Without a real OpenAI-compatible endpoint, dev/llm's scripted server stands in (and says so).
LLM_SCRIPTED=off
if [ -z "${HOTSTEPPER_LLM_BASE_URL:-}" ]; then
  LLM_SCRIPTED=on
  export HOTSTEPPER_LLM_PORT="${HOTSTEPPER_LLM_PORT:-9300}"
  export HOTSTEPPER_LLM_BASE_URL="http://127.0.0.1:$HOTSTEPPER_LLM_PORT/v1"
fi

if [ ! -f "$VENV/.complete" ] || [ ! -f server/dist/main.js ] || ! "$VENV/bin/pip" show -q hotstepper 2>/dev/null; then
  echo "The platform is not set up on this machine yet: run 'npm run setup' first." >&2
  exit 1
fi
running() { [ -f "$STATE/pids/$1.pid" ] && kill -0 "$(cat "$STATE/pids/$1.pid")" 2>/dev/null; }
if [ "$mode" = --stop-companion ] || [ "$mode" = --restart-companion ]; then
  running companion && kill -TERM -- "-$(cat "$STATE/pids/companion.pid")"
  while running companion; do sleep 0.1; done
  [ "$mode" = --stop-companion ] && exit 0
fi
if [ "$mode" != --restart-companion ] && running companion; then
  echo "The platform is already running from $STATE (stop it with: npm run stop)." >&2
  exit 1
fi

mkdir -p "$STATE/pids" "$STATE/logs" "$STATE/home"
# The hub token, the database and every job's log are in here: no other account may look in.
chmod 700 "$STATE"
secret() { [ -s "$1" ] || (umask 077; openssl rand -hex 32 > "$1"); cat "$1"; }
export HOTSTEPPER_HUB_TOKEN="$(secret "$STATE/companion-hub-token")"
export HOTSTEPPER_DEV_TOKEN="$(secret "$STATE/dev-hub-token")"

# Test users: passwords are made once per state directory and printed below.
if [ ! -s "$STATE/users.json" ]; then
  (umask 077; node -e '
    const users = require(process.argv[1]);
    for (const u of Object.values(users)) u.password = require("crypto").randomBytes(6).toString("base64url");
    console.log(JSON.stringify(users, null, 2));' "$ROOT/dev/users.default.json" > "$STATE/users.json")
fi

# Each service gets its own process group so stop.sh can end it with all its children.
launch() { # name, log, command...
  local name=$1 log=$2; shift 2
  setsid "$@" >>"$log" 2>&1 < /dev/null &
  echo $! > "$STATE/pids/$name.pid"
}
wait_for() { # name, url, seconds
  local i
  for ((i = 0; i < $3 * 4; i++)); do
    curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
    kill -0 "$(cat "$STATE/pids/$1.pid")" 2>/dev/null || { echo "$1 exited; its log:" >&2; tail -30 "$STATE/logs/$1.log" >&2; return 1; }
    sleep 0.25
  done
  echo "$1 did not answer at $2 within $3 s; its log: $STATE/logs/$1.log" >&2
  return 1
}

# Servers as pods: the notebook image (built by set-up; cached) and, for the companion, jobs as
# Kubernetes Jobs beside the notebook pod (its image, home claim and node).
pods_env() {
  export HOTSTEPPER_POD_GATEWAY="$(HOTSTEPPER_K8S_STATE="$STATE/k8s" bash -c 'source dev/node/node.env.sh && echo "$HOST_IP"')"
  export HOTSTEPPER_NOTEBOOK_IMAGE="$(bash dev/node/images.sh notebook 2>>"$STATE/logs/images.log" | sed -n 's/^notebook=//p')"
  [ -n "$HOTSTEPPER_NOTEBOOK_IMAGE" ] || { echo "The notebook image could not be built; see $STATE/logs/images.log" >&2; exit 1; }
  export HOTSTEPPER_JOBS_EXECUTOR="${HOTSTEPPER_JOBS_EXECUTOR:-kubernetes}"
  export HOTSTEPPER_JOBS_IMAGES="${HOTSTEPPER_JOBS_IMAGES:-$HOTSTEPPER_NOTEBOOK_IMAGE}"
  # A home is the claim local-path-provisioner made for the pod (<volumes>/<namespace>/<claim>); what
  # the grader fetches there belongs to the server's user (jovyan, 1000:100).
  local claim='{namespace}/claim-{user}' # braces in a ${:-} default would end it early
  export HOTSTEPPER_GRADER_HOMES="${HOTSTEPPER_GRADER_HOMES:-$STATE/k8s/node/volumes/$claim}"
  export HOTSTEPPER_GRADER_HOMES_OWNER="${HOTSTEPPER_GRADER_HOMES_OWNER:-1000:100}"
  # Flare forwards to the owner's own pod, found by a watch on server pods.
  export HOTSTEPPER_FLARE_GATEWAY_TARGET="${HOTSTEPPER_FLARE_GATEWAY_TARGET:-pod}"
  # The seeds' storage example: course files that students read and teachers write, and every
  # user's home for teachers. Folders on the node; the companion binds a claim to them in each
  # namespace that mounts one, and the pod mounts it read-only or not.
  local node; node="$(realpath -m "$STATE/k8s/node")" # a PersistentVolume's path is absolute
  local shared="$node/shared"
  mkdir -p "$shared" && chown 1000:100 "$shared" && chmod 2775 "$shared"
  if [ -z "${HOTSTEPPER_SPAWN_VOLUMES:-}" ]; then
    export HOTSTEPPER_SPAWN_VOLUMES="[
      {\"name\": \"shared\", \"label\": \"Shared course files\", \"mountPath\": \"/home/jovyan/shared\",
       \"claimName\": \"shared\", \"source\": {\"hostPath\": {\"path\": \"$shared\"}}},
      {\"name\": \"homes\", \"label\": \"Everyone's homes\", \"mountPath\": \"/home/jovyan/homes\",
       \"claimName\": \"all-homes\", \"source\": {\"hostPath\": {\"path\": \"$node/volumes\"}}}]"
  fi
  if [ -z "${HOTSTEPPER_SPAWN_GROUPS:-}" ]; then
    export HOTSTEPPER_SPAWN_GROUPS='{"students": {"volumes": {"shared": "ro"}},
      "teachers": {"volumes": {"shared": "rw", "homes": "rw"}}}'
  fi
  # Users' own images from the platform's registry, as the image builder will push them.
  export HOTSTEPPER_SPAWN_USER_IMAGES_REGISTRY="${HOTSTEPPER_SPAWN_USER_IMAGES_REGISTRY:-http://${HOTSTEPPER_NOTEBOOK_IMAGE%%/*}}"
  # The defaults' two presets, and one for course work with the shared files, for those who
  # may mount them.
  if [ -z "${HOTSTEPPER_SPAWN_PRESETS:-}" ]; then
    export HOTSTEPPER_SPAWN_PRESETS='[
      {"name": "light", "label": "Light", "description": "Half a core and 1 GiB: reading and small exercises",
       "request": {"cpu": 0.5, "memory": 1}},
      {"name": "course", "label": "Course work", "description": "One core, 2 GiB and the shared course files",
       "groups": ["students", "teachers"], "request": {"cpu": 1, "memory": 2, "volumes": ["shared"]}},
      {"name": "gpu-slice", "label": "GPU slice",
       "description": "Two cores, 4 GiB and a 1g.10gb MIG slice of an A100 (simulated here)",
       "request": {"cpu": 2, "memory": 4, "gpu": {"mig": "1g.10gb"}}}]'
  fi
}
pods_env

start_companion() {
  export KUBECONFIG="$KUBECONFIG_LOCAL"
  if [ "${HOTSTEPPER_GRADER_EXECUTOR:-kubernetes}" = kubernetes ]; then
    # Autograde units as pods on the real node: the course image, its namespace and the courses claim.
    local grader_env
    grader_env="$(bash dev/grader/pods.sh "$STATE" "$KUBECONFIG_LOCAL" 2>>"$STATE/logs/grader-pods.log")" ||
      { tail -20 "$STATE/logs/grader-pods.log" >&2; exit 1; }
    set -a; eval "$grader_env"; set +a
  fi
  local jobs_user='{username}' # local jobs run in each user's home, as the spawner makes it
  local user='{user}'           # braces in a ${:-} default would end it early
  JUPYTERHUB_API_URL="http://127.0.0.1:$HOTSTEPPER_HUB_API_PORT/hub/api" \
  JUPYTERHUB_API_TOKEN="$HOTSTEPPER_HUB_TOKEN" \
  HOTSTEPPER_DATABASE_PATH="${HOTSTEPPER_DATABASE_PATH:-$STATE/hotstepper.sqlite}" \
  HOTSTEPPER_FLARE_PUBLIC_URL="http://{host}:$HOTSTEPPER_FLARE_PORT/" \
  HOTSTEPPER_FLARE_HUB_URL="http://127.0.0.1:$HOTSTEPPER_HUB_PORT" \
  HOTSTEPPER_JOBS_HOME_ROOT="${HOTSTEPPER_JOBS_HOME_ROOT:-$STATE/home/$jobs_user}" \
  HOTSTEPPER_JOBS_PAPERMILL="${HOTSTEPPER_JOBS_PAPERMILL:-$VENV/bin/papermill}" \
  HOTSTEPPER_GRADER_PYTHON="${HOTSTEPPER_GRADER_PYTHON:-$(bash dev/grader/venv.sh)/bin/python}" \
  HOTSTEPPER_GRADER_COURSES="${HOTSTEPPER_GRADER_COURSES:-$STATE/courses}" \
  HOTSTEPPER_GRADER_EXCHANGE="${HOTSTEPPER_GRADER_EXCHANGE:-$STATE/exchange}" \
  HOTSTEPPER_GRADER_HOMES="${HOTSTEPPER_GRADER_HOMES:-$STATE/home/$user}" \
    launch companion "$STATE/logs/companion.log" node server/dist/main.js ${HOTSTEPPER_CONFIG:+--config "$HOTSTEPPER_CONFIG"}
}
if [ "$mode" = --restart-companion ]; then
  start_companion
  wait_for companion "$HOTSTEPPER_URL/healthz" 30
  exit 0
fi
trap 'bash "$ROOT/dev/stop.sh"' EXIT
# A real control plane with kwok's simulated nodes and the real node; their processes and state live in $STATE/k8s.
HOTSTEPPER_REAL_NODE=on bash dev/k8s/up.sh > /dev/null 2> "$STATE/logs/k8s-up.log" || { tail -20 "$STATE/logs/k8s-up.log" >&2; exit 1; }
KUBECONFIG="$KUBECONFIG_LOCAL" node dev/k8s/fleet.mjs > /dev/null
KUBECONFIG="$KUBECONFIG_LOCAL" launch usage-exporter "$STATE/logs/usage-exporter.log" node dev/usage/exporter.mjs --port "$HOTSTEPPER_USAGE_EXPORTER_PORT"
HOTSTEPPER_KUBELET_SCRAPE="$STATE/k8s" \
  launch prometheus "$STATE/logs/prometheus.log" bash dev/usage/prometheus.sh "$STATE/prometheus" "$HOTSTEPPER_PROMETHEUS_PORT" "$HOTSTEPPER_USAGE_EXPORTER_PORT" "$HOTSTEPPER_PORT"
if [ "$LLM_SCRIPTED" = on ]; then
  launch llm "$STATE/logs/llm.log" node dev/llm/server.mjs --port "$HOTSTEPPER_LLM_PORT" --log "$STATE/logs/llm-requests.jsonl"
  wait_for llm "$HOTSTEPPER_LLM_BASE_URL/models" 15
fi
start_companion
# Pods reach the host only at its end of the node's veth pair: the hub's API and the companion
# are forwarded there from loopback, and nothing else is.
for port in "$HOTSTEPPER_HUB_API_PORT" "$HOTSTEPPER_PORT"; do
  launch "pod-gateway-$port" "$STATE/logs/pod-gateway.log" \
    socat "TCP-LISTEN:$port,bind=$HOTSTEPPER_POD_GATEWAY,fork,reuseaddr" "TCP:127.0.0.1:$port"
done
(cd "$STATE" && KUBECONFIG="$KUBECONFIG_LOCAL" launch jupyterhub "$STATE/logs/jupyterhub.log" "$VENV/bin/jupyterhub" -f "$ROOT/dev/jupyterhub_config.py")

wait_for companion "$HOTSTEPPER_URL/healthz" 30
wait_for prometheus "$HOTSTEPPER_PROMETHEUS_URL/-/ready" 30
wait_for jupyterhub "http://127.0.0.1:$HOTSTEPPER_HUB_PORT/hub/api/" 60
trap - EXIT

cat <<MSG

Hotstepper is running (state and logs in $STATE).
  Open:        http://127.0.0.1:$HOTSTEPPER_HUB_PORT/
  Companion:   $HOTSTEPPER_URL   (API docs: $HOTSTEPPER_URL/api/docs)
  Flare apps:  http://<name>.flare.localhost:$HOTSTEPPER_FLARE_PORT/
  Kubernetes:  kubectl --kubeconfig $KUBECONFIG_LOCAL get nodes
  Real node:   real-1 (containerd + kubelet; its GPUs are SIMULATED: extended resources, no device)
  Servers:     pods on real-1 (KubeSpawner, image $HOTSTEPPER_NOTEBOOK_IMAGE)
  LLM:         $( [ "$LLM_SCRIPTED" = on ] && echo "SCRIPTED test server (dev/llm, not a model) at $HOTSTEPPER_LLM_BASE_URL; set HOTSTEPPER_LLM_BASE_URL for a real one" || echo "$HOTSTEPPER_LLM_BASE_URL")
  Test users (name / password / groups):
$(node -e 'for (const [n, u] of Object.entries(require(process.argv[1])))
  console.log(`    ${n.padEnd(8)} ${u.password}   ${u.groups.join(", ")}${u.hubAdmin ? " (hub admin)" : ""}`)' "$STATE/users.json")
MSG

if [ "$mode" = --detach ]; then
  echo "  Stop with:   npm run stop"
  exit 0
fi
echo "  Press Ctrl-C to stop."
trap 'echo; bash "$ROOT/dev/stop.sh"; exit 0' INT TERM
while kill -0 "$(cat "$STATE/pids/companion.pid")" 2>/dev/null && kill -0 "$(cat "$STATE/pids/jupyterhub.pid")" 2>/dev/null; do
  sleep 1
done
echo "A service exited; see $STATE/logs. Stopping the rest." >&2
bash "$ROOT/dev/stop.sh"
exit 1
