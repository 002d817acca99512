#!/usr/bin/env bash
# Scaffold a demo project in a temporary directory and run its pipeline end to end on local
# storage: polster init (with a real .venv built by `polster setup`), then run_polster.py.
set -euo pipefail
cd "$(dirname "$0")/.."
where=$(mktemp -d)
echo "== Demo project: $where/demo-pipeline (a new temporary directory)"
echo "== 1/3 Polster's development environment (.venv of this repository)"
bash scripts/dev-env.sh --no-tools
echo "== 2/3 polster init demo-pipeline (project files, then its own .venv)"
.venv/bin/polster init demo-pipeline --path "$where" --no-git --no-input
cd "$where/demo-pipeline"
echo "== 3/3 python run_polster.py (the whole pipeline, bronze to gold)"
python3 run_polster.py
echo "Demo project: $where/demo-pipeline"
