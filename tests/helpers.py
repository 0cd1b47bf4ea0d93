"""Small helpers shared by the tests."""

from __future__ import annotations

import json

import numpy as np
import safetensors
import torch
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator, ClassifierMixin

from sk_i2moe.nn import StructuredInteractionMoE, interaction_loss

#: a model small enough to fit in a test, for the model-file tests
TINY = {"max_epochs": 1, "hidden_dim": 8, "n_tokens": 2, "random_state": 0, "n_threads": 1}


def interaction_of(out, distance: str = "cosine") -> torch.Tensor:
    """The interaction loss the paper's objective computes from a training output."""
    return interaction_loss(
        out.variant_outputs, modalities=out.perturbed_modalities, distance=distance
    )


def repeated(X: dict, y: np.ndarray, times: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Each sample ``times`` times over, exactly, and the group (the sample) of each copy."""
    index = np.repeat(np.arange(len(y)), times)
    return {k: v[index] for k, v in X.items()}, y[index], index


def three_modalities(n: int = 40, seed: int = 0) -> tuple[dict, np.ndarray]:
    """Three small modalities and a label that two of them add up to."""
    rng = np.random.default_rng(seed)
    X = {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 2)), "c": rng.normal(size=(n, 4))}
    y = (X["a"][:, 0] + X["b"][:, 1] > 0).astype(int)
    return X, y


def read_tensors(path) -> dict[str, torch.Tensor]:
    """A model file's tensors, copied: older safetensors map them onto the file, and the tests
    rewrite that file (a bus error with safetensors 0.4)."""
    return {name: tensor.clone() for name, tensor in load_file(path).items()}


def rewrite_model_file(path, edit) -> None:
    """Load a model file's tensors and metadata, apply ``edit(document, tensors)``, write back.

    The digests of the tensors and of the metadata are written anew, as a deliberate editor
    would, so that the checks behind them are reached (a file whose digest does not match is
    refused first).
    """
    from sk_i2moe._io import _META_DIGEST_KEY, _tensor_digest, _text_digest

    tensors = read_tensors(path)
    with safetensors.safe_open(path, "pt") as f:
        metadata = f.metadata()
    document = json.loads(metadata["sk_i2moe"])
    edit(document, tensors)
    if "tensor_digest" in document:
        document["tensor_digest"] = _tensor_digest(tensors)
    text = json.dumps(document)
    written = {"sk_i2moe": text}
    if _META_DIGEST_KEY in metadata and "metadata_digest" in document:
        written[_META_DIGEST_KEY] = _text_digest(text)
    save_file(tensors, path, metadata=written)


class FixedExpertsClassifier(ClassifierMixin, BaseEstimator):
    """A stand-in binary I2MoE classifier whose experts are fixed functions (known truth).

    ``experts`` maps expert names to ``f(*modalities) -> (n,)`` log-odds of class 1; the
    weights are fixed. A modality whose row is all NaN is absent: the experts that need it
    get weight 0 for that row, and ``offset`` (log-odds) is added to the mixture's output
    of every row lacking some modality (the estimators' ``absence_offset``). ``fit`` learns
    nothing; the result is enough of an estimator for
    :func:`~sk_i2moe.inspection.interaction_report`.
    """

    _multilabel = False

    def __init__(self, modalities, experts, weights, offset=0.0):
        self.modalities = modalities
        self.experts = experts
        self.weights = weights
        self.offset = offset

    def fit(self, X=None, y=None):
        from types import SimpleNamespace

        names = list(self.modalities)
        self.classes_ = np.array([0, 1])
        self.class_weight_ = None
        self.modalities_ = {m: 1 for m in names}
        self.expert_names_ = list(self.experts)
        self.net_ = SimpleNamespace(module_=SimpleNamespace(names_by_construction=True))
        self._input_spec = SimpleNamespace(
            names=names, transform=lambda X: {m: np.asarray(X[m], np.float32) for m in names}
        )
        return self

    def _predict_outputs(self, outputs):
        return self.classes_[outputs.argmax(axis=1)]

    def _explain_arrays(self, arrays):
        from sk_i2moe.inspection import Explanation

        names, modalities = self.expert_names_, list(self.modalities_)
        absent = np.stack([np.isnan(a).all(axis=1) for a in arrays], axis=1)
        filled = [np.nan_to_num(np.asarray(a, np.float64)) for a in arrays]
        logits = np.stack([f(*filled) for f in self.experts.values()], axis=1)  # [n, E]
        outputs = np.stack([np.zeros_like(logits), logits], axis=2)  # [n, E, 2]
        usable = np.ones(logits.shape, dtype=bool)
        for e, name in enumerate(names):
            if name.startswith("uniqueness["):
                usable[:, e] = ~absent[:, modalities.index(name[len("uniqueness[") : -1])]
            elif name == "synergy":
                usable[:, e] = (~absent).sum(axis=1) >= 2
        weights = np.asarray(self.weights, dtype=np.float64) * usable
        weights /= weights.sum(axis=1, keepdims=True)
        offset = np.zeros((len(absent), 2))
        offset[absent.any(axis=1), 1] = self.offset
        return Explanation(
            weights=weights,
            expert_outputs=outputs,
            output=(weights[:, :, None] * outputs).sum(axis=1) + offset,
            expert_names=names,
            output_names=["0", "1"],
            task="classification",
            absent=absent,
            modality_names=modalities,
            usable=usable,
            absence_offset=offset if self.offset else None,
        )


def five_patterns() -> tuple[torch.nn.Module, list[torch.Tensor], torch.Tensor]:
    """A small structured mixture in evaluation mode, five rows of three modalities, their mask.

    The rows lack nothing, ``m0``, ``m0`` and ``m1``, ``m2``, and ``m1``.
    """
    torch.manual_seed(0)
    model = StructuredInteractionMoE([3, 2, 4], n_outputs=2, hidden_dim=8).eval()
    xs = [torch.randn(5, d) for d in (3, 2, 4)]
    present = torch.tensor(
        [[True, True, True], [False, True, True], [False, False, True], [True, True, False]]
        + [[True, False, True]]
    )
    return model, xs, present
