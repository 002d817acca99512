#!/usr/bin/env bash
# Scaffold a demo project in a temporary directory and run its pipeline end to end on local
# storage: polster init (with a real .venv built by `polster setup`), then run_polster.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/dev-env.sh >/dev/null
where=$(mktemp -d)
.venv/bin/polster init demo-pipeline --path "$where" --no-git --no-input
cd "$where/demo-pipeline"
python3 run_polster.py
echo "Demo project: $where/demo-pipeline"
