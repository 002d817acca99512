#!/usr/bin/env bash
# Both ends of every dependency range Polster and its plugins declare, each in a venv of its
# own built with uv (polster and every plugin editable, as in the development environment):
#
#   oldest: every declared floor at once: uv's `--resolution lowest-direct` of polster[runtime]
#           and each plugin (typer 0.12.4, click 8.1, pluggy 1.5, jinja2 3.1, tomlkit 0.12,
#           dagster 1.13.0, dagster-celery 0.29.0, polars 1.38, pyarrow 15, dataframely 3.0,
#           deltalake 1.3, adlfs/s3fs 2024.12, ...); what those need beside them resolves as a
#           user's install would.
#   newest: what `pip install polster[runtime]` and the plugins resolve today (the highest
#           release of each range). dagster-celery pins an exact dagster, usually a release or
#           two behind, so the newest venv leaves the Celery plugin out: its tests run there on
#           the development environment's dagster-celery (scripts/test.sh), and here on the
#           oldest.
#
# The tests, a focused subset (a few minutes per venv): the command line on its floors
# (init, add-asset, upgrade); a generated project's pipeline in one process and with --workers,
# twice (history across runs), with Polster's faster path and with every fallback to Dagster's
# stock behaviour forced (tests/test_dagster_fallbacks.py); the SQLite history; a partitioned
# backfill, locally and on S3 (moto) and ADLS (Azurite); Delta tables and data contracts;
# a run whose steps a Celery worker executes, on a real Redis.
#
#   bash scripts/test-ranges.sh            # both ends
#   bash scripts/test-ranges.sh oldest     # one end
# RANGE_VENVS_DIR: where the venvs live (default .range-venvs, ignored by git; kept between
# runs, refreshed by uv in seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
UV="uv"
command -v uv >/dev/null 2>&1 || UV="$PY -m uv"
DIR=${RANGE_VENVS_DIR:-${DAGSTER_RANGE_DIR:-.range-venvs}}
# What the tests below import beside polster (a subset of the dev group, without the
# integration libraries that would pin dagster), at their usual (newest) releases.
TEST_DEPS=(pytest uv "redis>=5" "pyyaml>=6" ruff "moto[server]>=5.0" "boto3>=1.34" "azure-storage-blob>=12.19")
CORE_TESTS=(
  tests/test_dagster_fallbacks.py
  tests/test_sqlite_history.py
  tests/test_partitions.py::test_backfill_partition_and_scripts
)
# On the floors only: what the command line, the storage backends, Delta tables and contracts
# use of typer, click, jinja2, tomlkit, polars, pyarrow, deltalake, dataframely, adlfs and s3fs.
FLOOR_TESTS=(
  tests/test_init.py
  tests/test_upgrade.py
  tests/test_partitions_remote.py
  tests/test_delta.py
  tests/test_delta_compaction.py
  tests/test_delta_assets.py
  tests/test_contracts.py
)
CELERY_TESTS=(
  "plugins/polster_celery/tests/test_celery.py::test_a_worker_runs_the_steps_and_the_tables_equal_in_process_and_multiprocess_runs"
)

build() {  # build NAME UV-OPTION... : a venv with polster, the plugins (but Celery's on newest)
  local name=$1
  shift
  local venv="$DIR/$name" wanted lock
  mkdir -p "$DIR"
  wanted="$DIR/$name.in"
  lock="$DIR/$name.txt"
  echo "-e $PWD[runtime]" >"$wanted"
  for dir in plugins/*/; do
    [ -f "$dir/pyproject.toml" ] || continue
    if [ "$dir" = plugins/polster_celery/ ] && [ "$name" = newest ]; then continue; fi
    echo "-e $PWD/${dir%/}" >>"$wanted"
  done
  [ -x "$venv/bin/python" ] || $UV venv --quiet --python "$PY" "$venv"
  # Resolved afresh each time (so "newest" is today's), then synced: the venv holds exactly
  # that, whatever it held before.
  $UV pip compile --quiet --python "$venv/bin/python" "$@" "$wanted" -o "$lock"
  $UV pip sync --quiet --python "$venv/bin/python" "$lock"
  # The test tools, without moving any of the versions just resolved.
  grep -v '^-e ' "$lock" >"$DIR/$name.pins"
  $UV pip install --quiet --python "$venv/bin/python" -c "$DIR/$name.pins" "${TEST_DEPS[@]}"
}

status=0
for end in "${@:-oldest newest}"; do
  for name in $end; do
    case "$name" in
      oldest)
        build oldest --resolution lowest-direct
        tests=("${CORE_TESTS[@]}" "${FLOOR_TESTS[@]}" "${CELERY_TESTS[@]}") ;;
      newest) build newest; tests=("${CORE_TESTS[@]}") ;;
      *) echo "error: unknown end '$name': use oldest or newest" >&2; exit 2 ;;
    esac
    versions=$("$DIR/$name/bin/python" -c "
import importlib.metadata as m
print(', '.join(f'{d} {m.version(d)}' for d in
      ('dagster', 'polars', 'pyarrow', 'deltalake', 'dataframely', 'typer', 'click')))")
    echo "== $name end of the ranges: $versions"
    # The forced-fallback backfill runs in the main suite: here test_partitions' backfill.
    "$DIR/$name/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}" \
      --deselect "tests/test_dagster_fallbacks.py::test_a_backfill_with_every_fallback_forced_writes_and_records_the_same_partitions" \
      || status=1
  done
done
exit "$status"
