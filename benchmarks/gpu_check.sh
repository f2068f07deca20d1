#!/usr/bin/env bash
# The CUDA path proved in one command, from the repository root: see benchmarks/gpu_check.py.
#   bash benchmarks/gpu_check.sh             # on a CUDA machine (under 8 minutes on one H100/H200)
#   bash benchmarks/gpu_check.sh --dry-run   # the same steps on the CPU at the smallest sizes
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
if ! "$python" -c "import multigan, pytest" >/dev/null 2>&1; then
    echo "gpu_check: installing the project (pip install -e \".[dev]\")"
    "$python" -m pip install -q -e ".[dev]" || { echo "gpu_check: the install failed" >&2; exit 2; }
fi
exec "$python" benchmarks/gpu_check.py "$@"
