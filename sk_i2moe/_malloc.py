"""Keep glibc's heap mapped between training steps on Linux CPUs.

A training step allocates and frees tens of megabytes of activations. With
glibc's default settings the freed top of the heap is returned to the kernel
after every step and faulted back in, page by page, during the next one: on
the default model for mfeat (six modalities) 1,300-2,800 page faults and
3-7 ms of kernel time per 12 ms step, varying from run to run with the
allocator's adaptive thresholds. Fixing the thresholds once removes them.

The setting is process-wide and kept after ``fit``: the process holds on to
up to :data:`TOP_PAD` bytes of freed heap instead of returning them at once.
It is left alone where the user configured the allocator (``MALLOC_*_``
environment variables or ``glibc.malloc`` tunables) or opted out with
``SK_I2MOE_TUNE_MALLOC=0``.
"""

from __future__ import annotations

import ctypes
import functools
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
#: environment variable that turns the tuning off ("0", "false" or "no")
OPT_OUT = "SK_I2MOE_TUNE_MALLOC"
_USER_SETTINGS = ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def user_configured(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` opts out or configures glibc's allocator itself."""
    if environ.get(OPT_OUT, "").strip().lower() in {"0", "false", "no"}:
        return True
    if any(name in environ for name in _USER_SETTINGS):
        return True
    return "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")


def apply_heap_settings(
    environ: Mapping[str, str], mallopt: Callable[[int, int], int] | None
) -> bool:
    """Set the mmap threshold and top pad through ``mallopt`` unless ``environ`` says not to.

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
    if mallopt is None or user_configured(environ):
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


@functools.cache
def retain_heap() -> bool:
    """Apply the heap settings once per process (see the module docstring).

    Returns
    -------
    bool
        Whether the settings are in effect.
    """
    return apply_heap_settings(os.environ, glibc_mallopt())
