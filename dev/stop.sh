#!/usr/bin/env bash
# Stop everything dev/start.sh started from this state directory: each service with its whole process group.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

stop_group() { # pidfile
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}
# The hub first: on SIGTERM it stops the users' servers and its proxy itself.
for name in jupyterhub companion llm prometheus usage-exporter; do stop_group "$STATE/pids/$name.pid"; done
for f in "$STATE"/pids/pod-gateway-*.pid; do [ -f "$f" ] && stop_group "$f"; done
# Whatever the hub could not stop: single-user servers and the proxy, found by this state dir.
for env in /proc/[0-9]*/environ; do
  if { tr '\0' '\n' < "$env"; } 2>/dev/null | grep -qxF "HOTSTEPPER_PLATFORM_STATE=$STATE"; then
    pid=${env#/proc/}; kill "${pid%/environ}" 2>/dev/null || true
  fi
done
[ -f "$STATE/pids/proxy.pid" ] && { kill "$(cat "$STATE/pids/proxy.pid")" 2>/dev/null; rm -f "$STATE/pids/proxy.pid"; }
# The local control plane, if start.sh brought one up (its pids live in $STATE/k8s).
[ -d "$STATE/k8s/pids" ] && HOTSTEPPER_STATE="$STATE" bash "$ROOT/dev/k8s/down.sh" >/dev/null 2>&1
echo "Stopped the platform in $STATE."
