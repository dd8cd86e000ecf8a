#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements and this package.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -c constraints.txt -r requirements.txt
.venv/bin/python -m pip install -q --no-deps -e .
