# Sourced by the dev/ scripts: where things live. Built things go to the cache, never into git.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HOTSTEPPER_CACHE:-$HOME/.cache/hotstepper}"
STATE="${HOTSTEPPER_STATE:-$ROOT/.state}"
PYVER="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
VENV="$CACHE/venv-py$PYVER-$(sha256sum "$ROOT/dev/requirements.txt" | cut -c1-12)"
# kubectl (and the other Kubernetes binaries) as dev/k8s/build.sh built them, before any on the system
export PATH="$VENV/bin:$CACHE/k8s/bin:$ROOT/node_modules/.bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
mkdir -p "$CACHE" "$STATE"
