#!/usr/bin/env bash
# Build the pip-installable wheel `hotstepper`: the Jupyter server extension (jupyter/hotstepper)
# plus every prebuilt labextension of packages/* (those with a `jupyterlab` key in package.json),
# and the spawn page (packages/spawn), which it builds into jupyter/hotstepper/static/dist/.
#
#   dev/build-wheel.sh            build the extensions (and what they depend on), then the wheel
#   dev/build-wheel.sh --no-npm   package the labextension/ folders already built
#
# Output: jupyter/dist/hotstepper-<version>-py3-none-any.whl
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

extensions=()
for manifest in packages/*/package.json; do
  if node -e 'process.exit(require(process.argv[1]).jupyterlab ? 0 : 1)' "$PWD/$manifest"; then
    extensions+=("$(dirname "$manifest")")
  fi
done
[ ${#extensions[@]} -gt 0 ] || { echo "build-wheel: no JupyterLab extension in packages/" >&2; exit 1; }

if [ "${1:-}" != "--no-npm" ]; then
  scopes=(--scope @hotstepper/spawn)
  for dir in "${extensions[@]}"; do
    scopes+=(--scope "$(node -p 'require(process.argv[1]).name' "$PWD/$dir/package.json")")
  done
  # --include-dependencies builds schema/ and packages/api first, in order.
  lerna run build "${scopes[@]}" --include-dependencies
fi

for asset in spawn.js spawn.css; do
  [ -s "jupyter/hotstepper/static/dist/$asset" ] || { echo "build-wheel: packages/spawn is not built (jupyter/hotstepper/static/dist/$asset)" >&2; exit 1; }
done

target=jupyter/hotstepper/labextensions
rm -rf "$target" jupyter/dist jupyter/build
for dir in "${extensions[@]}"; do
  name="$(node -p 'require(process.argv[1]).name' "$PWD/$dir/package.json")"
  [ -f "$dir/labextension/package.json" ] || { echo "build-wheel: $dir is not built" >&2; exit 1; }
  mkdir -p "$target/$name"
  cp -R "$dir/labextension/." "$target/$name/"
  # Tells `jupyter labextension list` which Python package ships it, and how to remove it.
  cat > "$target/$name/install.json" <<JSON
{"packageManager": "python", "packageName": "hotstepper", "uninstallInstructions": "Use your Python package manager (pip, conda, etc.) to uninstall the package hotstepper"}
JSON
  echo "build-wheel: $name <- $dir/labextension"
done

(cd jupyter && python -m build --wheel --no-isolation --outdir dist)
ls -l jupyter/dist/*.whl
