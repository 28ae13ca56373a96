#!/usr/bin/env bash
# The test command of the README: from a fresh clone, a virtualenv with the project, its test
# extras and VBench's own package (the reference the fidelity tests compare against), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
venv=${VBL_VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -e '.[dev]'
# VBench 0.1.5 pins old transformers/numpy; its dimension modules need only what the line below
# lists, so it is installed without its declared dependencies.
"$venv/bin/pip" install -q --no-deps -r requirements-vbench.txt
exec "$venv/bin/python" -m pytest "$@"
