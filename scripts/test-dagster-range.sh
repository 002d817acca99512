#!/usr/bin/env bash
# The core run tests on both ends of the Dagster range polster[runtime] declares
# (dagster>=1.13,<1.14), each in a venv of its own built with uv (polster and every plugin
# editable, as in the development environment):
#
#   oldest: dagster 1.13.0, with the integration libraries of that release (dagster-celery and
#           dagster-postgres 0.29.0, which pin it);
#   newest: what `pip install polster[runtime]` resolves today (the highest dagster and
#           dagster-webserver of the range). dagster-celery pins an exact dagster, usually a
#           release or two behind, so the newest venv leaves the Celery plugin out: its tests
#           run there on the development environment's dagster-celery (scripts/test.sh), and
#           here on the oldest.
#
# The core run tests, a focused subset (a few minutes per venv): a generated project's
# pipeline in one process and with --workers, twice (history across runs), with Polster's
# faster path and with every fallback to Dagster's stock behaviour forced
# (tests/test_dagster_fallbacks.py); the SQLite history (tests/test_sqlite_history.py); a
# partitioned backfill and one partition (tests/test_partitions.py); a run whose steps a Celery
# worker executes, on a real Redis (plugins/polster_celery/tests/test_celery.py).
#
#   bash scripts/test-dagster-range.sh            # both ends
#   bash scripts/test-dagster-range.sh oldest     # one end
# DAGSTER_RANGE_DIR: where the venvs live (default .range-venvs, ignored by git; kept between
# runs, refreshed by uv in seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
UV="uv"
command -v uv >/dev/null 2>&1 || UV="$PY -m uv"
DIR=${DAGSTER_RANGE_DIR:-.range-venvs}
OLDEST=(dagster==1.13.0 dagster-webserver==1.13.0 dagster-celery==0.29.0 dagster-postgres==0.29.0)
# What the tests below import beside polster (a subset of the dev group, without the
# integration libraries that would pin dagster).
TEST_DEPS=(pytest "redis>=5" "pyyaml>=6" "ruff>=0.6")
CORE_TESTS=(
  tests/test_dagster_fallbacks.py
  tests/test_sqlite_history.py
  tests/test_partitions.py::test_backfill_partition_and_scripts
)
CELERY_TESTS=(
  "plugins/polster_celery/tests/test_celery.py::test_a_worker_runs_the_steps_and_the_tables_equal_in_process_and_multiprocess_runs"
)

build() {  # build NAME PIN... : a venv with polster, the plugins (but Celery's unless pinned)
  local name=$1
  shift
  local venv="$DIR/$name" plugins=()
  for dir in plugins/*/; do
    [ -f "$dir/pyproject.toml" ] || continue
    if [ "$dir" = plugins/polster_celery/ ] && [ "$name" = newest ]; then continue; fi
    plugins+=(-e "$dir")
  done
  [ -x "$venv/bin/python" ] || $UV venv --quiet --python "$PY" "$venv"
  $UV pip install --quiet --python "$venv/bin/python" \
    -e ".[runtime]" "${plugins[@]}" "${TEST_DEPS[@]}" "$@"
}

status=0
for end in "${@:-oldest newest}"; do
  for name in $end; do
    case "$name" in
      oldest) build oldest "${OLDEST[@]}"; tests=("${CORE_TESTS[@]}" "${CELERY_TESTS[@]}") ;;
      newest) build newest; tests=("${CORE_TESTS[@]}") ;;
      *) echo "error: unknown end '$name': use oldest or newest" >&2; exit 2 ;;
    esac
    version=$("$DIR/$name/bin/python" -c "import dagster; print(dagster.__version__)")
    echo "== $name end of the range: dagster $version"
    # The forced-fallback backfill runs in the main suite: here test_partitions' backfill.
    "$DIR/$name/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}" \
      --deselect "tests/test_dagster_fallbacks.py::test_a_backfill_with_every_fallback_forced_writes_and_records_the_same_partitions" \
      || status=1
  done
done
exit "$status"
