"""Small helpers shared by the tests."""

from __future__ import annotations

import json

import numpy as np
import safetensors
import torch
from safetensors.torch import load_file, save_file

from sk_i2moe.nn import interaction_loss

#: a model small enough to fit in a test, for the model-file tests
TINY = {"max_epochs": 1, "hidden_dim": 8, "n_tokens": 2, "random_state": 0, "n_threads": 1}


def interaction_of(out, distance: str = "cosine") -> torch.Tensor:
    """The interaction loss the paper's objective computes from a training output."""
    return interaction_loss(
        out.variant_outputs, modalities=out.perturbed_modalities, distance=distance
    )


def three_modalities(n: int = 40, seed: int = 0) -> tuple[dict, np.ndarray]:
    """Three small modalities and a label that two of them add up to."""
    rng = np.random.default_rng(seed)
    X = {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 2)), "c": rng.normal(size=(n, 4))}
    y = (X["a"][:, 0] + X["b"][:, 1] > 0).astype(int)
    return X, y


def rewrite_model_file(path, edit) -> None:
    """Load a model file's tensors and metadata, apply ``edit(document, tensors)``, write back."""
    tensors = load_file(path)
    with safetensors.safe_open(path, "pt") as f:
        document = json.loads(f.metadata()["sk_i2moe"])
    edit(document, tensors)
    save_file(tensors, path, metadata={"sk_i2moe": json.dumps(document)})
