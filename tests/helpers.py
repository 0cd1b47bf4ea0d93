"""Small helpers shared by the tests."""

from __future__ import annotations

import torch

from sk_i2moe.nn import interaction_loss


def interaction_of(out, distance: str = "cosine") -> torch.Tensor:
    """The interaction loss the paper's objective computes from a training output."""
    return interaction_loss(
        out.variant_outputs, modalities=out.perturbed_modalities, distance=distance
    )
