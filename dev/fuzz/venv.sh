#!/usr/bin/env bash
# The fuzz environment (schemathesis from PyPI), built once and cached by the hash of requirements.txt.
# Prints the venv's path; server/test/fuzz.test.ts runs its bin/schemathesis.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
req="$ROOT/dev/fuzz/requirements.txt"
dir="$CACHE/fuzz-venv-py$PYVER-$(sha256sum "$req" | cut -c1-12)"
# The stamp is written last, so a half-finished venv is rebuilt rather than trusted.
if [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
  "$dir/bin/pip" install -q -r "$req" >&2
  touch "$dir/.complete"
fi
echo "$dir"
