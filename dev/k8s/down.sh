#!/usr/bin/env bash
# Stops the control plane that dev/k8s/up.sh started: every process named by a pid file in
# <state>/pids, and only those (each pid is checked to still run the binary it was started as).
# SIGTERM, then SIGKILL after 10 s. Keeps pki/tokens/logs; `--purge` removes the whole state dir.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE_DIR="${HOTSTEPPER_K8S_STATE:-${HOTSTEPPER_STATE:-$ROOT/.state}/k8s}"
PIDS="$STATE_DIR/pids"

log() { printf '[k8s/down %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

ours() { # ours NAME PID: the pid still runs our binary NAME
  [[ -r "/proc/$2/cmdline" ]] && tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -q -- "/$1 "
}

# the real node first (if this control plane has one), while the apiserver still answers
[[ -f "$PIDS/kubelet.pid" || -f "$PIDS/containerd.pid" || -d "$STATE_DIR/node" ]] && bash "$ROOT/dev/node/down.sh"

stopped=0
if [[ -d "$PIDS" ]]; then
  # reverse start order: kwok and the controllers first, etcd last
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    f="$PIDS/$name.pid"
    [[ -f "$f" ]] || continue
    pid="$(cat "$f")"
    if [[ -n "$pid" ]] && ours "$name" "$pid"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do ours "$name" "$pid" || break; sleep 0.1; done
      if ours "$name" "$pid"; then
        log "$name (pid $pid) did not stop after 10s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      stopped=$((stopped + 1))
    fi
    rm -f "$f"
  done
fi
log "stopped $stopped process(es)"

if [[ "${1:-}" == "--purge" ]]; then
  log "removing $STATE_DIR"
  rm -rf "$STATE_DIR"
fi
