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
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import check_scoring

from ._modalities import (
    check_sample_weight,
    check_target_names,
    missing_target_rows,
    refuse_reordered_rows,
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


def target_array(y: object) -> np.ndarray:
    """``y`` as a NumPy array (a sparse indicator matrix made dense)."""
    return np.asarray(y.toarray() if sp.issparse(y) else y)


def check_targets(estimator: object, y: object, unseen_labels: bool = False) -> None:
    """Refuse a ``y`` whose form does not fit the fitted estimator's outputs, naming both.

    A regressor's ``(n,)`` or ``(n, n_outputs)`` as fitted (one output
    either way), a multi-label classifier's 0/1 indicator matrix of its
    labels, a single-label classifier's one label per row (``(n, 1)``
    too), of its classes unless ``unseen_labels`` (``score`` counts an
    unseen label as a miss, as scikit-learn's does).

    Parameters
    ----------
    estimator : I2MoE estimator
        Fitted.
    y : array-like or sparse matrix
        True targets, one row per sample (the length is checked elsewhere).
    unseen_labels : bool, default=False
        Accept single-label classes the estimator was not fitted on.

    Raises
    ------
    ValueError
        Naming the shape or the labels received and those expected.
    """
    y = target_array(y)
    if y.ndim == 0:  # not one target per row: scikit-learn's scoring names it
        return
    n = len(y)
    rows = missing_target_rows(y)
    if rows.size:
        raise ValueError(
            f"y has missing values (rows at positions {rows[:5].tolist()}); drop those "
            "samples from X and y."
        )
    if not is_classifier(estimator):
        n_outputs = len(np.atleast_1d(estimator._y_loc))
        expected = (n,) if estimator._y_ndim == 1 else (n, n_outputs)
        if y.shape != expected and not (n_outputs == 1 and y.shape in ((n,), (n, 1))):
            raise ValueError(
                f"y has shape {y.shape}; the regressor was fitted on targets of shape "
                f"{expected[1:] or '(n_samples,)'} per sample: pass y of shape {expected}."
            )
        return
    if estimator._multilabel:
        n_labels = len(estimator.classes_)
        if y.ndim != 2 or y.shape[1] != n_labels or not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"y must be a 0/1 indicator matrix of shape ({n}, {n_labels}), one column per "
                f"label the model was fitted with; got shape {y.shape}"
                + ("" if y.ndim != 2 or y.shape[1] != n_labels else " with values other than 0/1")
                + "."
            )
        return
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"y has shape {y.shape}; a single-label classifier takes one label per sample: "
            f"pass y of shape ({n},)."
        )
    classes = np.asarray(estimator.classes_)
    _refuse_other_label_kind(y, classes)
    if unseen_labels:
        return
    unknown = np.setdiff1d(y, classes)
    if unknown.size:
        raise ValueError(
            f"y contains {_first_of(unknown, 5, 'label')} the estimator was not fitted on; it "
            f"was fitted on {_first_of(classes, 10, 'class', 'classes')} (classes_). Score on "
            "samples of the fitted classes, or refit with every class in the training data."
        )


def _first_of(values: np.ndarray, shown: int, noun: str, plural: str = "") -> str:
    """``values`` as a list, its first ``shown`` only and saying so where there are more."""
    listed = values[:shown].tolist()
    plural = plural or noun + "s"
    if len(values) <= shown:
        return f"{plural if len(values) > 1 else noun} {listed}"
    return f"{len(values)} {plural}, the first {shown} {listed}"


def _label_kind(labels: np.ndarray) -> str | None:
    """``"text"`` or ``"numeric"`` where every label is one (bools count as numbers), else None."""
    if labels.dtype.kind in "US":
        return "text"
    if labels.dtype.kind in "biuf":
        return "numeric"
    values = labels.ravel().tolist()
    if values and all(isinstance(v, str) for v in values):
        return "text"
    if values and all(isinstance(v, (bool, int, float, np.number)) for v in values):
        return "numeric"
    return None


def _refuse_other_label_kind(y: np.ndarray, classes: np.ndarray) -> None:
    """Refuse text labels for a classifier of numeric classes, and the other way round.

    scikit-learn's metrics would say "Mix of label input types"; this names
    the two kinds and the fix (e.g. ``'1'`` given for the class ``1``).
    """
    given, fitted = _label_kind(y), _label_kind(classes)
    if given is None or fitted is None or given == fitted:
        return
    shown = np.unique(y)[:5].tolist()
    raise ValueError(
        f"y holds {given} labels ({shown}) but the classifier's classes are {fitted} "
        f"(classes_={classes.tolist()[:10]}); pass labels of the classes' type, e.g. "
        + ("y.astype(model.classes_.dtype)." if fitted == "numeric" else "the names used in fit.")
    )


def check_score_arguments(
    estimator: object,
    y: object,
    scoring: object,
    sample_weight: object,
    n_samples: int,
    rows: np.ndarray | None = None,
) -> np.ndarray | None:
    """Refuse what the inspection functions cannot score with, naming it.

    Parameters
    ----------
    estimator : I2MoE estimator
        The fitted estimator whose outputs are scored: ``y`` must fit them
        (:func:`check_targets`), and a DataFrame ``y`` must not put one of
        its ``target_names_`` at another position (other names are taken
        by position).
    y : array-like
        True targets (not None).
    scoring : str, callable or None
        One scorer: multi-metric lists and dicts, and the empty string, are refused.
    sample_weight : array-like or None
        Checked as ``fit`` checks it (1-D, one per row, finite, >= 0, a positive sum).
    n_samples : int
        Rows of ``X``.
    rows : ndarray or None, default=None
        ``X``'s row labels: a pandas ``y`` or ``sample_weight`` with the same
        labels in another order is refused.

    Returns
    -------
    ndarray of float64 or None
        ``sample_weight`` as given (None stays None).
    """
    if y is None:
        raise ValueError("y is None; pass the true targets of X to score against.")
    if np.ndim(y) == 0 or np.shape(y)[0] != n_samples:
        raise ValueError(
            f"y has shape {np.shape(y)} but X has {n_samples} samples; pass one target per "
            "row of X."
        )
    refuse_signalling_target(y)
    refuse_reordered_rows(rows, y, sample_weight)
    check_target_names(getattr(estimator, "target_names_", None), y, scoring=True)
    check_targets(estimator, y)
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
    y_true = target_array(y)
    if y_true.ndim == 2 and y_true.shape[1] == 1 and outputs.shape[1] != 1:
        y_true = y_true.ravel()  # a column vector of labels, not multi-label
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
