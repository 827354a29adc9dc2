#!/usr/bin/env bash
# The test command (npm test): lint, the server's and packages' tests against real JupyterHub,
# PostgreSQL and a real Kubernetes control plane, the Helm chart against that control plane, then the
# browser tests against the real local platform. Needs `npm run setup` first.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
export HOTSTEPPER_VENV="$VENV"

if [ ! -f "$VENV/.complete" ] || [ ! -d node_modules ]; then
  echo "Not set up on this machine yet: run 'npm run setup' first." >&2
  exit 1
fi

passed=0 failed=0 status=0
log=$(mktemp -d)
suite() { # name, command...
  local name=$1; shift
  printf '\n== %s\n' "$name"
  local t=$SECONDS
  "$@" 2>&1 | tee "$log/$name.log"
  local rc=${PIPESTATUS[0]}
  # node's test runner (tap or spec reporter) and Playwright's list reporter both print their counts
  local p f
  p=$(grep -aoE '^(# |ℹ )pass [0-9]+|^ +[0-9]+ passed' "$log/$name.log" | grep -oE '[0-9]+' | tail -1)
  f=$(grep -aoE '^(# |ℹ )fail [0-9]+|^ +[0-9]+ failed' "$log/$name.log" | grep -oE '[0-9]+' | tail -1)
  passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0}))
  if [ "$rc" != 0 ]; then
    status=1
    [ -n "$f" ] && [ "$f" != 0 ] || failed=$((failed + 1)) # a crash before any count still fails
  fi
  printf '== %s: exit %s, %s passed, %s failed, %ss\n' "$name" "$rc" "${p:-0}" "${f:-0}" $((SECONDS - t))
}

# The Jupyter server extension's own tests (Python's unittest), counted like the other runners.
pyunit() {
  local out rc
  out=$("$VENV/bin/python" -m unittest discover -s jupyter/tests -v 2>&1)
  rc=$?
  echo "$out"
  echo "ℹ pass $(grep -c '\.\.\. ok$' <<<"$out")"
  echo "ℹ fail $(grep -cE '\.\.\. (FAIL|ERROR)$' <<<"$out")"
  return $rc
}

suite lint npm run lint
suite python pyunit
suite server npm test -w server
suite api npm test -w packages/api
suite jobs-ui npm test -w packages/jobs
suite spawn-ui npm test -w packages/spawn
suite deploy node --import tsx --test deploy/test/image.test.ts deploy/test/chart.test.ts
suite browser npm test -w ui-tests

echo
echo "tests: $passed passed, $failed failed"
exit $status
