#!/usr/bin/env bash
# Set-up: everything the local platform and the tests need, installed once and reused.
#   Debian packages (as root): chromium for browser tests, postgresql for database tests,
#   prometheus for usage metrics, wrk for the gateway bench; for the real node containerd, runc,
#   the CNI plugins and socat; for the platform's images buildah, docker-registry, mmdebstrap and
#   busybox-static
#   Python venv with JupyterHub and JupyterLab (cached by the hash of dev/requirements.txt)
#   node_modules (npm ci from the lockfile), the build of every workspace, the wheel installed into the venv
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
t0=$SECONDS
step() { printf '\n== %s (%ss)\n' "$1" $((SECONDS - t0)); }

step "Debian packages"
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v openssl >/dev/null || need+=(openssl)
command -v prometheus >/dev/null || need+=(prometheus) # usage metrics in the local platform and tests
command -v wrk >/dev/null || need+=(wrk)               # the Flare gateway bench
# the real node (dev/node/up.sh) and the platform's images (dev/node/images.sh)
for pkg in containerd runc buildah docker-registry mmdebstrap socat; do
  command -v "$pkg" >/dev/null || need+=("$pkg")
done
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing Debian packages: ${need[*]}: run set-up as root, or first: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

step "Python venv $VENV"
# The stamp is written last, so a half-finished venv is rebuilt rather than trusted.
if [ ! -f "$VENV/.complete" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r dev/requirements.txt
  touch "$VENV/.complete"
fi
ln -sfn "$VENV" "$ROOT/.venv"

step "course environment for the grader (nbgrader, cached by dev/grader/requirements.txt)"
bash dev/grader/venv.sh >/dev/null

if [ "$(id -u)" = 0 ]; then
  step "the accounts' environment for local jobs (papermill, Debian's python3, cached by dev/accounts/requirements.txt)"
  bash dev/accounts/env.sh >/dev/null
  # Local autograde units (grader.executor local, without the real node) run as this account.
  id -u hotstepper-grader >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin hotstepper-grader
fi

step "node_modules"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

step "the fuzzing environment (schemathesis, cached by dev/fuzz/requirements.txt)"
bash dev/fuzz/venv.sh >/dev/null

step "build (lerna)"
npx lerna run build --loglevel=warn

step "Kubernetes binaries (dev/k8s/build.sh: cached by version; the first build takes about 20 min)"
command -v go >/dev/null || { echo "Go (>= 1.26) is not installed: it builds the local platform's Kubernetes (install Go, then run set-up again)" >&2; exit 1; }
bash dev/k8s/build.sh >/dev/null

step "wheel"
bash dev/build-wheel.sh --no-npm
"$VENV/bin/pip" install -q --force-reinstall --no-deps jupyter/dist/hotstepper-*.whl

# The platform has no route to the internet: JupyterLab must not ask for news or updates.
mkdir -p "$VENV/share/jupyter/lab/settings" "$VENV/etc/jupyter/jupyter_server_config.d"
cat > "$VENV/share/jupyter/lab/settings/overrides.json" <<'JSON'
{ "@jupyterlab/apputils-extension:notification": { "fetchNews": "false", "checkForUpdates": false } }
JSON
cat > "$VENV/etc/jupyter/jupyter_server_config.d/hotstepper-offline.json" <<'JSON'
{ "LabApp": { "check_for_updates_class": "jupyterlab.NeverCheckForUpdate" } }
JSON

step "the platform's images (dev/node/images.sh: pause, busybox, Debian, notebook, course; cached by content)"
bash dev/node/images.sh >/dev/null
bash dev/node/images.sh course >/dev/null

step "done"
echo "Set-up finished in $((SECONDS - t0)) s. Start the local platform with: npm start"
