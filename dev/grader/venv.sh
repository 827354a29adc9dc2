#!/usr/bin/env bash
# The course environment (nbgrader from PyPI), built once and cached by the hash of requirements.txt.
# Prints the venv's path; its bin/python is what the companion's grader.python points at.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
req="$ROOT/dev/grader/requirements.txt"
dir="$CACHE/grader-venv-py$PYVER-$(sha256sum "$req" | cut -c1-12)"
# The stamp is written last, so a half-finished venv is rebuilt rather than trusted.
if [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
  "$dir/bin/pip" install -q -r "$req" >&2
  # The kernel the autograder runs submissions with lives in the same environment.
  "$dir/bin/python" -m ipykernel install --prefix "$dir" --name python3 >/dev/null
  touch "$dir/.complete"
fi
echo "$dir"
