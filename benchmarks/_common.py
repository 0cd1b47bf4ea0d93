"""Helpers shared by the benchmark scripts (machine description, data files)."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

MFEAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mfeat.npz"
MFEAT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")


def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_mfeat(path: Path = MFEAT) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The six mfeat views as stored (``{name: array}``) and the labels."""
    data = np.load(path)
    return {k: data[k] for k in MFEAT_VIEWS}, data["y"]
