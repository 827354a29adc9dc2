#!/usr/bin/env bash
# Autograde units as pods on the local platform's real node (grader.executor kubernetes): builds the
# course image (dev/node/images.sh course), and makes, idempotently, the grader's namespace and the
# claim `courses` holding <state>/courses, a hostPath volume on the real node, where the companion
# keeps its course directories. Prints the companion's environment as NAME=value lines (shell-quoted,
# for `set -a; eval "$(...)"; set +a`).
#   pods.sh <state> <kubeconfig>
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../env.sh"
[ $# -eq 2 ] || { echo "usage: pods.sh <state> <kubeconfig>" >&2; exit 2; }
COURSES="$(cd "$1" && pwd)/courses" KUBECONFIG="$2"
NS=hotstepper-grader NODE="${HOTSTEPPER_NODE_NAME:-real-1}"
export KUBECONFIG

image="$(bash "$ROOT/dev/node/images.sh" course | sed -n 's/^course=//p')"
[ -n "$image" ] || { echo "dev/node/images.sh built no course image" >&2; exit 1; }
mkdir -p "$COURSES"

# The namespace carries the label the chart's admission policy admits the companion's objects by
# (admissionPolicy.namespaceLabel). The volume is the companion's own folder on the node's disk:
# pinned to the real node, bound to this claim only, kept when the claim goes.
kubectl apply -f - >&2 <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
  labels: { app.kubernetes.io/managed-by: hotstepper }
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $NS-courses
spec:
  capacity: { storage: 10Gi }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: { path: "$COURSES", type: Directory }
  claimRef: { namespace: $NS, name: courses }
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{ key: kubernetes.io/hostname, operator: In, values: ["$NODE"] }]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: courses
  namespace: $NS
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: $NS-courses
  resources: { requests: { storage: 10Gi } }
YAML

# Units run as jovyan (the notebook image's 1000:100), never as root; a companion running as root
# hands them the folders they write (grader/units-kubernetes.ts).
env=(
  HOTSTEPPER_GRADER_EXECUTOR=kubernetes
  "HOTSTEPPER_GRADER_IMAGE=$image"
  HOTSTEPPER_GRADER_IMAGE_PYTHON=/opt/notebook/bin/python
  HOTSTEPPER_GRADER_DRIVER_PATH=/opt/hotstepper/grader/driver.py
  "HOTSTEPPER_GRADER_NAMESPACE=$NS"
  "HOTSTEPPER_GRADER_COURSES=$COURSES"
  HOTSTEPPER_GRADER_COURSES_CLAIM=courses
  HOTSTEPPER_GRADER_RUN_AS_USER=1000
  HOTSTEPPER_GRADER_FS_GROUP=100
  HOTSTEPPER_GRADER_NODE_SELECTOR=hotstepper.dev/node=real
  HOTSTEPPER_GRADER_TOLERATIONS=hotstepper.dev/real-node:NoSchedule
)
for kv in "${env[@]}"; do printf '%s=%q\n' "${kv%%=*}" "${kv#*=}"; done
