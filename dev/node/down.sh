#!/usr/bin/env bash
# Stops the real node of one control plane (dev/node/up.sh) and undoes what it changed on the host:
# kube-proxy, the kubelet, every container of its pods (by its cgroup root), containerd and its
# shims, the pods' network namespaces on its subnet, the node's network namespace (its bridge, its
# veth pair, kube-proxy's rules all go with it), mounts under its state dir, its cgroups, and,
# when no other kubelet runs, the sysctls the kubelet set. Safe to run twice.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/node.env.sh"
log() { printf '[node/down %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stop_pid() { # name: TERM, then KILL after 10 s
  local f="$PIDS/$1.pid" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
}

stop_pid local-path-provisioner
stop_pid kube-proxy
stop_pid kubelet

# Every process of every pod: they all live under the kubelet's cgroup root.
for _ in 1 2 3; do
  pids="$(cat /sys/fs/cgroup/pids"$CGROUP_ROOT"/cgroup.procs \
    $(find /sys/fs/cgroup/pids"$CGROUP_ROOT" -mindepth 1 -name cgroup.procs 2>/dev/null) 2>/dev/null | sort -u)"
  [ -n "$pids" ] || break
  kill -KILL $pids 2>/dev/null
  sleep 0.3
done

stop_pid containerd
pkill -KILL -f "containerd-shim-runc-v2 .*-address $SOCK" 2>/dev/null

# Network namespaces whose pod address is on this node's subnet, then the bridge.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
  if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q " ${SUBNET%.0/24}\."; then
    ip netns delete "$ns" 2>/dev/null
  fi
done
for p in registry-node registry-host apiserver-node apiserver-host; do stop_pid "$p"; done
ip netns delete "$NETNS" 2>/dev/null
ip link delete "$LINK" 2>/dev/null
ip link delete "$BRIDGE" 2>/dev/null # a node from before the namespace

# Mounts under the node's state (the kubelet's pod volumes, containerd's snapshots and sandboxes).
if [ -d "$NODE" ]; then
  awk -v p="$NODE/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
fi

# The cgroups, deepest first.
for h in /sys/fs/cgroup/*/; do
  d="$h${CGROUP_ROOT#/}"
  [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
done

# The kubelet's links to this node's container logs (it keeps them in /var/log/containers whatever
# its configuration says).
for l in /var/log/containers/*.log; do
  [ -L "$l" ] && case "$(readlink "$l")" in "$NODE"/*) rm -f "$l" ;; esac
done

# What the kubelet and containerd make outside their configured dirs, once no other node runs.
if ! pgrep -x kubelet >/dev/null; then
  [ -s "$NODE/sysctl.orig" ] && sysctl -q -p "$NODE/sysctl.orig" >/dev/null 2>&1
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet /var/log/containers 2>/dev/null
fi
rm -f "$NODE/sysctl.orig"
if ! pgrep -f 'containerd --config' >/dev/null; then
  rmdir /run/containerd/runc/* /run/containerd/runc /run/containerd/s /run/containerd/fifo /run/containerd 2>/dev/null
fi
log "node $NODE_NAME stopped"
exit 0
