#!/usr/bin/env bash
# Run the whole test suite (core and plugins) in the development environment.
#
# With no test paths given, the tests that mostly wait (on the Celery brokers and workers, and
# on the Dagster daemon's backfill and sensor ticks behind the UI) run in a second pytest
# beside the others: the same tests, about a third less wall time. Its output follows the
# main run's; the script fails if either fails. With paths (or -k ...), one plain pytest.
# After the waiting tests, the same lane runs the core tests on both ends of every declared
# dependency range (scripts/test-ranges.sh: a venv each, a few minutes; POLSTER_SKIP_RANGE=1 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/dev-env.sh >/dev/null
PYTEST=(.venv/bin/python -m pytest)
WAITING=(plugins/polster_celery/tests tests/test_ui_partitions.py)

for arg in "$@"; do
  case "$arg" in
    -k|-m|--lf|--ff|-x|--exitfirst|--pdb|tests*|plugins*|*.py|*::*) exec "${PYTEST[@]}" "$@" ;;
  esac
done

log=$(mktemp)
(
  lane=0
  "${PYTEST[@]}" "$@" "${WAITING[@]}" || lane=$?
  if [ "${POLSTER_SKIP_RANGE:-}" != 1 ]; then
    echo "== the core tests on both ends of every dependency range (scripts/test-ranges.sh):"
    bash scripts/test-ranges.sh || lane=$(( lane ? lane : $? ))
  fi
  exit "$lane"
) >"$log" 2>&1 &
waiting=$!
trap 'kill "$waiting" 2>/dev/null || true; rm -f "$log"' EXIT
# The rest, named one by one (pytest's --ignore does not take a directory reached through the
# testpaths glob): tests/ without the UI's partition tests, every other plugin's tests.
rest=(tests --ignore=tests/test_ui_partitions.py)
for dir in plugins/*/tests; do
  [ "$dir" = plugins/polster_celery/tests ] || rest+=("$dir")
done
status=0
"${PYTEST[@]}" "$@" "${rest[@]}" || status=$?
wait "$waiting" || status=$(( status ? status : $? ))
echo "== the waiting tests (${WAITING[*]}), then both ends of the ranges:"
cat "$log"
exit "$status"
