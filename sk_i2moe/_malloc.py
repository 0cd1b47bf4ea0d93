"""Opt-in: keep glibc's heap mapped between training steps on Linux CPUs.

A training step allocates and frees tens of megabytes of activations. With
glibc's default settings the freed top of the heap is returned to the kernel
after every step and faulted back in, page by page, during the next one: on
the default model for mfeat (six modalities) 1,300-2,800 page faults and
3-7 ms of kernel time per 12 ms step, varying from run to run with the
allocator's adaptive thresholds. Fixing the thresholds once removes them.

The setting is process-wide and kept after ``fit`` (glibc cannot restore
its adaptive thresholds): the process holds on to up to :data:`TOP_PAD` bytes
of freed heap instead of returning them at once. A library must not change a
notebook's, server's or worker's allocator unasked, so ``fit`` applies it
only when the environment asks with ``SK_I2MOE_TUNE_MALLOC=1``, and never
where the user configured the allocator (``MALLOC_*_`` environment
variables or ``glibc.malloc`` tunables). See the performance guide.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from collections.abc import Callable, Mapping

#: mallopt parameter numbers, from glibc's malloc.h
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
#: freed heap kept mapped at the top of the heap (bytes)
TOP_PAD = 64 << 20
#: allocations below this size come from the heap (glibc's adaptive maximum on 64-bit)
MMAP_THRESHOLD = 32 << 20
#: environment variable that turns the tuning on ("1", "true" or "yes")
OPT_IN = "SK_I2MOE_TUNE_MALLOC"
_USER_SETTINGS = ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def asked(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` opts in and leaves glibc's allocator settings to this package."""
    if environ.get(OPT_IN, "").strip().lower() not in {"1", "true", "yes"}:
        return False
    if any(name in environ for name in _USER_SETTINGS):
        return False
    return "glibc.malloc." not in environ.get("GLIBC_TUNABLES", "")


def apply_heap_settings(
    environ: Mapping[str, str], mallopt: Callable[[int, int], int] | None
) -> bool:
    """Set the mmap threshold and top pad through ``mallopt`` if ``environ`` asks for it.

    Parameters
    ----------
    environ : mapping
        Environment variables (``os.environ``).
    mallopt : callable or None
        glibc's ``mallopt(param, value) -> int`` (1 on success); None where the
        C library is not glibc.

    Returns
    -------
    bool
        True if both settings were applied.
    """
    if mallopt is None or not asked(environ):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TOP_PAD, TOP_PAD))


def glibc_mallopt() -> Callable[[int, int], int] | None:
    """Return glibc's ``mallopt`` on Linux, None on any other platform or C library."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


_applied = False


def retain_heap_if_asked() -> bool:
    """Apply the heap settings once per process if asked (see the module docstring).

    Returns
    -------
    bool
        Whether the settings are in effect.
    """
    global _applied
    if not _applied:
        _applied = apply_heap_settings(os.environ, glibc_mallopt())
    return _applied
