#!/usr/bin/env bash
# Smoke test of the control plane from dev/k8s/up.sh: /readyz, a kwok-managed fake GPU node,
# and a Job whose pod must be scheduled there, go Running, then Succeeded (kwok's fast stages).
# Usage: dev/k8s/smoke.sh [KUBECONFIG]   (default: <state>/k8s/kubeconfig)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE_DIR="${HOTSTEPPER_K8S_STATE:-${HOTSTEPPER_STATE:-$ROOT/.state}/k8s}"
export KUBECONFIG="${1:-$STATE_DIR/kubeconfig}"
KUBECTL="${KUBECTL:-$(command -v kubectl || echo /usr/bin/kubectl)}"
k() { "$KUBECTL" "$@"; }
log() { printf '[k8s/smoke %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[[ "$(k get --raw /readyz)" == ok ]] || die "/readyz is not ok"
log "/readyz ok; server $(k version -o json | sed -n 's/.*"gitVersion": "\(v1[^"]*\)".*/\1/p' | tail -1)"

NODE="${SMOKE_NODE:-kwok-gpu-0}"
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: $NODE
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    nvidia.com/gpu.present: "true"
    nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", nvidia.com/gpu: "8"}
  capacity:    {cpu: "32", memory: 256Gi, pods: "110", nvidia.com/gpu: "8"}
EOF
k wait --for=condition=Ready "node/$NODE" --timeout=60s >/dev/null || die "node $NODE not Ready"
log "node $NODE Ready, allocatable nvidia.com/gpu=$(k get node "$NODE" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')"

NS=smoke JOB=smoke-gpu
k create namespace "$NS" --dry-run=client -o yaml | k apply -f - >/dev/null
k -n "$NS" delete job "$JOB" --ignore-not-found --wait=true --cascade=foreground >/dev/null
# the namespace's default ServiceAccount is made by kube-controller-manager
for _ in $(seq 1 60); do k -n "$NS" get sa default >/dev/null 2>&1 && break; sleep 0.5; done
# watch the pod's phases from before the Job exists (kwok's fast stages pass Running in milliseconds)
PHASES="$(mktemp)"
"$KUBECTL" -n "$NS" get pods -l job-name="$JOB" --watch -o jsonpath='{.status.phase}{"\n"}' >"$PHASES" 2>/dev/null &
WATCH_PID=$!
trap 'kill "$WATCH_PID" 2>/dev/null || true; wait "$WATCH_PID" 2>/dev/null || true; rm -f "$PHASES"' EXIT
sleep 1
k -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: $JOB}
spec:
  backoffLimit: 0
  ttlSecondsAfterFinished: 600
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: example.invalid/cuda:latest
        command: [nvidia-smi]
        resources:
          limits: {nvidia.com/gpu: "1", cpu: "1", memory: 1Gi}
EOF

seen=""
for _ in $(seq 1 120); do
  phase="$(k -n "$NS" get pods -l job-name="$JOB" -o jsonpath='{.items[0].status.phase}' 2>/dev/null || true)"
  if [[ -n "$phase" && "$phase" != "${seen##* }" ]]; then
    seen="$seen $phase"
    log "pod phase: $phase (node $(k -n "$NS" get pods -l job-name="$JOB" -o jsonpath='{.items[0].spec.nodeName}'))"
  fi
  [[ "$phase" == Succeeded || "$phase" == Failed ]] && break
  sleep 0.25
done
[[ "$phase" == Succeeded ]] || die "pod ended as '${phase:-<none>}' (phases seen:$seen)"
k -n "$NS" wait --for=condition=Complete "job/$JOB" --timeout=60s >/dev/null || die "job not Complete"
sleep 0.5
watched="$(uniq "$PHASES" | tr '\n' ' ')"
log "job $JOB Complete; pod phases watched: $watched"
[[ "$watched" == *Pending*Running*Succeeded* ]] || die "expected Pending -> Running -> Succeeded, watched: $watched"
echo "1 passed, 0 failed"
