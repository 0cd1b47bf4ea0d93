#!/usr/bin/env bash
# The library on the oldest releases of its dependencies that pyproject.toml admits
# (constraints-min.txt; torch at the CPU pin), in its own virtual environment: the tests that
# cross scikit-learn's (its splitters and metadata routing too), skorch's, NumPy's, pandas',
# SciPy's and safetensors' APIs. The optional test extras (ONNX, matplotlib, dask) need newer
# NumPy; their tests skip here.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-min
. .venv-min/bin/activate
pip install -q -c constraints-cpu.txt -c constraints-min.txt -e . "pytest>=7" "pytest-xdist>=3" "hypothesis>=6"
# every lower bound in pyproject.toml is the version pinned here, and that version is installed
python - <<'PY'
import re
import tomllib
from importlib.metadata import version

pins = dict(
    line.split("==")
    for line in open("constraints-min.txt").read().splitlines()
    if line and not line.startswith("#")
)
for requirement in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    name, bound = re.fullmatch(r"([\w-]+)>=([\w.]+)", requirement).groups()
    if name == "torch":
        continue
    assert pins.get(name) == bound, f"{name}: pyproject.toml says >={bound}, constraints-min.txt {pins.get(name)}"
    assert version(name) == bound, f"{name}: {version(name)} installed, {bound} pinned"
print("minimum versions:", ", ".join(f"{n} {v}" for n, v in pins.items()))
PY
python -m pytest -p no:cacheprovider tests/test_integration.py tests/test_io.py \
    tests/test_inputs.py tests/test_class_weights.py tests/test_preprocessing.py \
    tests/test_kernels.py tests/test_sklearn_checks.py tests/test_fit_groups.py
