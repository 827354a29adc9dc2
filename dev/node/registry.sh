#!/usr/bin/env bash
# The platform's OCI registry: Debian's docker-registry (the distribution registry) on loopback,
# its blobs in the cache so built images survive a restart of the platform. One per machine:
# every local platform (npm start, each test's, the bench's) pulls from it.
#   registry.sh ensure   start it unless it answers already; prints its address (127.0.0.1:PORT)
#   registry.sh stop     stop it, if this script started it
#   registry.sh storage  prints the folder its blobs and manifests are stored in
# HOTSTEPPER_REGISTRY_PORT (default 5000) and HOTSTEPPER_REGISTRY_DIR (default $HOTSTEPPER_CACHE/registry):
# another registry beside the machine's one, e.g. a test's on a small disk.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
PORT="${HOTSTEPPER_REGISTRY_PORT:-5000}"
DIR="${HOTSTEPPER_REGISTRY_DIR:-$CACHE/registry}"
ADDR="127.0.0.1:$PORT"
mkdir -p "$DIR/storage"

answers() { curl -fsS -o /dev/null --max-time 2 "http://$ADDR/v2/" 2>/dev/null; }
ours() { [ -s "$DIR/registry.pid" ] && kill -0 "$(cat "$DIR/registry.pid")" 2>/dev/null; }

case "${1:-ensure}" in
  ensure)
    if answers; then echo "$ADDR"; exit 0; fi
    command -v docker-registry >/dev/null || { echo "docker-registry is not installed: run npm run setup" >&2; exit 1; }
    cat > "$DIR/config.yml" <<YML
version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage:
  filesystem: { rootdirectory: $DIR/storage }
  delete: { enabled: false }   # tags are immutable and old images are never removed
http:
  addr: $ADDR
YML
    setsid docker-registry serve "$DIR/config.yml" >>"$DIR/registry.log" 2>&1 < /dev/null &
    echo $! > "$DIR/registry.pid"
    for _ in $(seq 1 100); do answers && { echo "$ADDR"; exit 0; }; sleep 0.1; done
    echo "the registry did not answer at http://$ADDR/v2/ (log: $DIR/registry.log)" >&2
    exit 1
    ;;
  stop)
    if ours; then
      pid=$(cat "$DIR/registry.pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/registry.pid"
    ;;
  storage) echo "$DIR/storage" ;;
  *) echo "usage: registry.sh ensure|stop|storage" >&2; exit 2 ;;
esac
