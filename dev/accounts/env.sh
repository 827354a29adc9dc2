#!/usr/bin/env bash
# The environment the local executors' Unix accounts run (dev/accounts/requirements.txt), built
# once and cached by the hash of that file. Not in the cache under $HOME: root's home is closed to
# other accounts, and so is pyenv's python there; this one uses Debian's python3 and lives under
# /opt/hotstepper, readable by every account, writable by root only. Prints the venv's path.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"
req="$ROOT/dev/accounts/requirements.txt"
base="${HOTSTEPPER_ACCOUNTS_ENV_ROOT:-/opt/hotstepper}"
py=/usr/bin/python3
ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
dir="$base/accounts-env-py$ver-$(sha256sum "$req" | cut -c1-12)"
# The stamp is written last, so a half-finished venv is rebuilt rather than trusted.
if [ ! -f "$dir/.complete" ]; then
  rm -rf "$dir"
  mkdir -p "$base"
  chmod 755 "$base"
  "$py" -m venv "$dir" >&2
  "$dir/bin/pip" install -q -r "$req" >&2
  chmod -R a+rX "$dir"
  touch "$dir/.complete"
fi
echo "$dir"
