"""Score fixed model outputs with any scikit-learn scorer.

The inspection functions score an expert's (or the mixture's) outputs from
one forward pass, not the estimator's own ``predict``. A scorer needs an
estimator: :func:`outputs_predictor` wraps the outputs in one whose
``predict`` applies the fitted estimator's decision rule and whose
``predict_proba`` (classifiers) is the softmax, or the per-label sigmoid, of
the logits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import check_scoring

from ._modalities import (
    check_sample_weight,
    check_target_names,
    refuse_reordered_targets,
    refuse_signalling_target,
)


class _FixedClassifier(ClassifierMixin, BaseEstimator):
    """A classifier that answers with stored logits, whatever ``X`` is."""

    def __init__(self, estimator: object = None, logits: np.ndarray | None = None) -> None:
        self.estimator = estimator
        self.logits = logits

    @property
    def classes_(self) -> np.ndarray:
        """The fitted estimator's classes."""
        return np.asarray(self.estimator.classes_)

    def predict(self, X: object) -> np.ndarray:
        """The estimator's decision rule applied to the stored logits."""
        return self.estimator._predict_outputs(self.logits)

    def predict_proba(self, X: object) -> np.ndarray:
        """Softmax of the stored logits (per-label sigmoid for multi-label)."""
        logits = np.asarray(self.logits, dtype=np.float64)
        if self.estimator._multilabel:
            return 1.0 / (1.0 + np.exp(-logits))
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


class _FixedRegressor(RegressorMixin, BaseEstimator):
    """A regressor that answers with stored outputs (in target units), whatever ``X`` is."""

    def __init__(self, estimator: object = None, outputs: np.ndarray | None = None) -> None:
        self.estimator = estimator
        self.outputs = outputs

    def predict(self, X: object) -> np.ndarray:
        """The estimator's decision rule applied to the stored outputs."""
        return self.estimator._predict_outputs(self.outputs)


def check_score_arguments(
    y: object,
    scoring: object,
    sample_weight: object,
    n_samples: int,
    rows: np.ndarray | None = None,
    target_names: np.ndarray | None = None,
) -> np.ndarray | None:
    """Refuse what the inspection functions cannot score with, naming it.

    Parameters
    ----------
    y : array-like
        True targets (not None).
    scoring : str, callable or None
        One scorer: multi-metric lists and dicts, and the empty string, are refused.
    sample_weight : array-like or None
        Checked as ``fit`` checks it (1-D, one per row, finite, >= 0, a positive sum).
    n_samples : int
        Rows of ``X``.
    rows : ndarray or None, default=None
        ``X``'s row labels: a pandas ``y`` with the same labels in another
        order is refused.
    target_names : ndarray or None, default=None
        The estimator's ``target_names_``: a DataFrame ``y`` that puts one of
        them at another position is refused (other names are taken by
        position).

    Returns
    -------
    ndarray of float64 or None
        ``sample_weight`` as given (None stays None).
    """
    if y is None:
        raise ValueError("y is None; pass the true targets of X to score against.")
    if np.ndim(y) == 0 or len(y) != n_samples:
        raise ValueError(
            f"y has shape {np.shape(y)} but X has {n_samples} samples; pass one target per "
            "row of X."
        )
    refuse_signalling_target(y)
    refuse_reordered_targets(rows, y)
    check_target_names(target_names, y, scoring=True)
    if scoring is not None and not callable(scoring):
        if not isinstance(scoring, str):
            raise TypeError(
                f"scoring must be one scorer name or a callable; got {type(scoring).__name__} "
                f"{scoring!r}. Several metrics: call once per metric."
            )
        if not scoring:
            raise ValueError("scoring is an empty string; give a scorer name, or None.")
    if sample_weight is None:
        return None
    check_sample_weight(sample_weight, n_samples)
    return np.asarray(sample_weight, dtype=np.float64)


def metric_name(estimator: object, scoring: object) -> str:
    """What a score computed with ``scoring`` is called: its name, or the default metric's."""
    if scoring is None:
        return default_scoring(estimator)
    return scoring if isinstance(scoring, str) else getattr(scoring, "__name__", repr(scoring))


def default_scoring(estimator: object) -> str:
    """The metric ``estimator.score`` uses: ``"accuracy"`` or ``"r2"``."""
    return "accuracy" if is_classifier(estimator) else "r2"


def score_outputs(
    estimator: object,
    outputs: np.ndarray,
    y: object,
    scoring: str | Callable | None = None,
    sample_weight: object = None,
) -> float:
    """Score outputs ``(n, C)`` (in ``explain``'s space) against ``y`` with ``scoring``.

    Parameters
    ----------
    estimator : fitted I2MoE estimator
        Whose decision rule, classes and task apply.
    outputs : ndarray of shape (n_samples, n_outputs)
        Logits (classifier) or outputs in target units (regressor).
    y : array-like
        True targets.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or a callable ``scorer(estimator, X, y)``;
        None is the estimator's default metric.
    sample_weight : array-like, optional
        Sample weights of the score.

    Returns
    -------
    float
    """
    scorer = check_scoring(estimator, scoring=scoring or default_scoring(estimator))
    if is_classifier(estimator):
        fixed: BaseEstimator = _FixedClassifier(estimator, outputs)
    else:
        fixed = _FixedRegressor(estimator, outputs)
    y_true = np.asarray(y)
    if y_true.ndim == 2 and y_true.shape[1] == 1 and outputs.shape[1] != 1:
        y_true = y_true.ravel()  # a column vector of labels, not multi-label
    if not is_classifier(estimator) and y_true.ndim == 1 and outputs.shape[1] != 1:
        raise ValueError(
            f"y is 1-D but the estimator has {outputs.shape[1]} outputs; pass y of shape "
            f"(n_samples, {outputs.shape[1]})."
        )
    placeholder = np.empty((len(y_true), 0))
    weights = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)}
    try:
        return float(scorer(fixed, placeholder, y_true, **weights))
    except AttributeError as err:
        if is_classifier(estimator):
            raise
        # a scorer that asks for probabilities or decision scores (e.g. "roc_auc")
        raise ValueError(
            f"scoring={scoring!r} needs predicted probabilities or decision scores, which "
            f"{type(estimator).__name__} does not give; use a regression scorer such as 'r2' "
            "or 'neg_mean_squared_error'."
        ) from err
