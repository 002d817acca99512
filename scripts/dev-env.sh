#!/usr/bin/env bash
# Create (or refresh) the development environment in .venv: polster, every plugin under
# plugins/, the dev dependency group, and (unless --no-tools) the external tools the tests use
# (scripts/tools.sh). Safe to run again; prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1 && ! "$PY" -m uv --version >/dev/null 2>&1; then
  echo "dev-env: installing uv" >&2
  "$PY" -m pip install --quiet uv
fi
UV="uv"
command -v uv >/dev/null 2>&1 || UV="$PY -m uv"
[ -x .venv/bin/python ] || $UV venv --quiet --python "$PY" .venv
# Every plugin of this repository, installed editable like polster itself.
plugins=()
for dir in plugins/*/; do
  [ -f "$dir/pyproject.toml" ] && plugins+=(-e "$dir")
done
# polster with its run-time extra, the dev dependency group (PEP 735: not in the wheel's
# metadata), every plugin.
$UV pip install --quiet --python .venv/bin/python --compile-bytecode -e ".[runtime]" --group dev \
  "${plugins[@]}"
# PYTHONDONTWRITEBYTECODE is set on some machines: compile our own sources once, too.
.venv/bin/python -m compileall -q polster_core plugins >/dev/null 2>&1 || true
[ "${1:-}" = "--no-tools" ] || bash scripts/tools.sh
echo "$PWD/.venv"
