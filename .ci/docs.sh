#!/usr/bin/env bash
# Build the documentation (user guide, API reference, gallery) with warnings as errors.
# Installs nothing: run it where `pip install -e ".[docs]"` (or `-c constraints-cpu.txt`) was done.
# Needs no network. SK_I2MOE_DOCS_OFFLINE=1 skips even the attempt to fetch intersphinx
# inventories; SK_I2MOE_DOCS_THREADS sets the gallery's torch threads per example (default 1)
# and SK_I2MOE_DOCS_JOBS how many examples run at once (default 2).
# Extra arguments go to sphinx-build (e.g. -E to rebuild every page).
set -uo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
sphinx-build -W --keep-going -b html docs docs/_build/html "$@"
status=$?
elapsed=$(( $(date +%s) - start ))
if [ "$status" -eq 0 ]; then
    echo "Docs built in ${elapsed} s: docs/_build/html/index.html"
else
    echo "Docs build FAILED (exit ${status}) after ${elapsed} s"
fi
exit "$status"
