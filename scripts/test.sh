#!/usr/bin/env bash
# Run the whole test suite (core and plugins) in the development environment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/dev-env.sh >/dev/null
exec .venv/bin/python -m pytest "$@"
