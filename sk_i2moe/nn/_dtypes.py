"""The floating type of the mixture's weights, mixtures and losses: float32 at least."""

from __future__ import annotations

import torch


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as float32, or in its own type where that is a wider float (float64).

    Under bfloat16 autocast the backbones compute in bfloat16 while the
    weights, the mixture and the losses are taken in float32; a model
    converted with ``.double()`` keeps float64 throughout.

    Parameters
    ----------
    tensor : Tensor
        Any tensor.

    Returns
    -------
    Tensor
        ``tensor`` itself where it is already float32 or float64.

    Examples
    --------
    >>> import torch
    >>> at_least_float32(torch.ones(2, dtype=torch.bfloat16)).dtype
    torch.float32
    >>> at_least_float32(torch.ones(2, dtype=torch.float64)).dtype
    torch.float64
    """
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))
