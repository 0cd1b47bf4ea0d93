"""Torch's process-wide state that a fit borrows: its random generators and thread count.

Torch keeps one random generator per device and one CPU thread count for the whole process.
A fit seeds the generators (and, with ``n_threads``, sets the thread count) and restores what
it found afterwards. Two fits doing so at the same time in threads of one process would draw
from each other's seeded stream (neither reproducible) and could restore each other's state
instead of the caller's, so whatever forks the generators holds one process-wide lock:
such fits take turns.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

import torch

#: held while torch's generators are forked; reentrant, as a fit may fit inside itself
_FORK_LOCK = threading.RLock()


def fit_cuda_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose generators a fit on ``device`` draws on: its own, or none.

    A fit on the CPU touches no CUDA device: asking a GPU for its generator's
    state would start CUDA there (memory on every card, and no CUDA in processes
    forked afterwards).
    """
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def seed_generators(seed: int, cuda_devices: Sequence[int] = ()) -> None:
    """Seed torch's CPU generator and those of ``cuda_devices``, and no other.

    Unlike :func:`torch.manual_seed`, which seeds every device's generator (every
    GPU, MPS, XPU), so that a fit leaves no generator it did not fork reseeded.
    """
    torch.default_generator.manual_seed(seed)
    for index in cuda_devices:
        with torch.cuda.device(index):
            torch.cuda.manual_seed(seed)


@contextlib.contextmanager
def forked_rng(devices: Sequence[int] = ()) -> Iterator[None]:
    """Run the block with torch's CPU generator (and ``devices``' CUDA generators) forked.

    The generators' states are restored afterwards (:func:`torch.random.fork_rng`), and
    the block runs under a process-wide lock, so that blocks forking in several threads
    run one at a time: each draws only its own random numbers, and each restores the
    state it found.

    Parameters
    ----------
    devices : sequence of int, default=()
        CUDA devices whose generators are forked too (those the block seeds or draws on).
    """
    with _FORK_LOCK, torch.random.fork_rng(devices=list(devices)):
        yield


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n_threads)``, then restore it."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
