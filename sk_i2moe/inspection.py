"""Local and global interpretation of a fitted I2MoE estimator.

:meth:`I2MoEClassifier.explain <sk_i2moe.I2MoEClassifier.explain>` returns an
:class:`Explanation`: per-sample interaction weights, every expert's output
and their contributions (local), whose :meth:`Explanation.summary` gives the
distribution of the weights over a data set (global). :func:`expert_scores`
scores each expert alone against the whole mixture, and
:func:`interaction_report` says which interaction held-out data support,
with bootstrap intervals (or that they support none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.validation import check_is_fitted

from ._report import InteractionReport, interaction_report

__all__ = ["Explanation", "InteractionReport", "expert_scores", "interaction_report"]

_SUMMARY_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class Explanation:
    """How each sample's prediction was composed from the interaction experts.

    Attributes
    ----------
    weights : ndarray of shape (n_samples, n_experts)
        Interaction weights; each row is non-negative and sums to 1.
    expert_outputs : ndarray of shape (n_samples, n_experts, n_outputs)
        Each expert's output on the clean input (logits for classifiers).
    output : ndarray of shape (n_samples, n_outputs)
        The mixture output, ``sum_e weights[:, e] * expert_outputs[:, e]``.
    expert_names : list of str
        Name of each expert, e.g. ``"uniqueness[labs]"``, ``"synergy"``.
    output_names : list of str
        Name of each output (the class labels for a classifier).
    task : {"classification", "regression"} or None, default=None
        What the outputs are: logits of a classifier or raw regression
        outputs. Optional; it lets plots pick a default output and label
        their axes (None: unknown).

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe.inspection import Explanation
    >>> exp = Explanation(
    ...     weights=np.array([[0.25, 0.75]]),
    ...     expert_outputs=np.array([[[1.0, -1.0], [2.0, 0.0]]]),
    ...     output=np.array([[1.75, -0.25]]),
    ...     expert_names=["synergy", "redundancy"],
    ...     output_names=["a", "b"],
    ... )
    >>> exp.contributions[0]
    array([[ 0.25, -0.25],
           [ 1.5 ,  0.  ]])
    >>> exp.to_frame().shape
    (2, 7)
    >>> exp.summary()["mean"].tolist()
    [0.25, 0.75]
    """

    weights: np.ndarray
    expert_outputs: np.ndarray
    output: np.ndarray
    expert_names: list[str]
    output_names: list[str]
    task: str | None = None

    @property
    def contributions(self) -> np.ndarray:
        """``weights * expert_outputs``, shape (n_samples, n_experts, n_outputs).

        Summed over experts they give :attr:`output`.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_i2moe.inspection import Explanation
        >>> exp = Explanation(
        ...     weights=np.array([[0.25, 0.75]]),
        ...     expert_outputs=np.array([[[2.0], [4.0]]]),
        ...     output=np.array([[3.5]]),
        ...     expert_names=["synergy", "redundancy"],
        ...     output_names=["y"],
        ... )
        >>> exp.contributions.sum(axis=1)
        array([[3.5]])
        """
        return self.weights[:, :, None] * self.expert_outputs

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (sample, expert).

        Returns
        -------
        DataFrame
            Columns ``sample``, ``expert``, ``weight``, then ``output[<name>]``
            and ``contribution[<name>]`` for every output.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_i2moe.inspection import Explanation
        >>> exp = Explanation(
        ...     weights=np.array([[0.25, 0.75]]),
        ...     expert_outputs=np.array([[[2.0], [4.0]]]),
        ...     output=np.array([[3.5]]),
        ...     expert_names=["synergy", "redundancy"],
        ...     output_names=["y"],
        ... )
        >>> exp.to_frame()[["expert", "weight", "contribution[y]"]]
               expert  weight  contribution[y]
        0     synergy    0.25              0.5
        1  redundancy    0.75              3.0
        """
        n, n_experts, _ = self.expert_outputs.shape
        frame = {
            "sample": np.repeat(np.arange(n), n_experts),
            "expert": pd.Categorical(np.tile(self.expert_names, n), categories=self.expert_names),
            "weight": self.weights.reshape(-1),
        }
        contributions = self.contributions
        for k, name in enumerate(self.output_names):
            frame[f"output[{name}]"] = self.expert_outputs[:, :, k].reshape(-1)
        for k, name in enumerate(self.output_names):
            frame[f"contribution[{name}]"] = contributions[:, :, k].reshape(-1)
        return pd.DataFrame(frame)

    def summary(self) -> pd.DataFrame:
        """Distribution of each expert's interaction weight over the samples.

        The global view of the paper: how much the data set, as a whole,
        leans on every kind of interaction, and how that varies by sample.

        Returns
        -------
        DataFrame of shape (n_experts, 7)
            Indexed by expert name (index name ``"expert"``), with columns
            ``mean``, ``std`` (population, ``ddof=0``) and the quantiles
            ``5%``, ``25%``, ``50%``, ``75%``, ``95%`` (as in
            :meth:`pandas.DataFrame.describe`).

        Examples
        --------
        >>> import numpy as np
        >>> from sk_i2moe.inspection import Explanation
        >>> weights = np.array([[0.9, 0.1], [0.7, 0.3], [0.8, 0.2]])
        >>> exp = Explanation(
        ...     weights=weights,
        ...     expert_outputs=np.zeros((3, 2, 1)),
        ...     output=np.zeros((3, 1)),
        ...     expert_names=["synergy", "redundancy"],
        ...     output_names=["y"],
        ... )
        >>> exp.summary().round(2)
                    mean   std    5%   25%   50%   75%   95%
        expert
        synergy      0.8  0.08  0.71  0.75  0.8  0.85  0.89
        redundancy   0.2  0.08  0.11  0.15  0.2  0.25  0.29
        """
        weights = np.asarray(self.weights, dtype=np.float64)
        columns = {"mean": weights.mean(axis=0), "std": weights.std(axis=0)}
        for q in _SUMMARY_QUANTILES:
            columns[f"{100 * q:g}%"] = np.quantile(weights, q, axis=0)
        return pd.DataFrame(columns, index=pd.Index(list(self.expert_names), name="expert"))


def expert_scores(
    estimator: object,
    X: object,
    y: object,
    *,
    sample_weight: object = None,
) -> pd.DataFrame:
    """Score every interaction expert on its own, next to the whole mixture.

    Each expert is a complete predictor: its clean output alone is turned
    into a prediction by the estimator's own decision rule (the one
    ``predict`` applies to the mixture) and scored with the estimator's
    default metric, the same one ``estimator.score`` uses: accuracy for a
    classifier (subset accuracy for multi-label targets), R^2 for a
    regressor (averaged uniformly over outputs). The mixture's row scores
    the mixture output of the same forward pass. An expert that scores close to
    the mixture can carry the task alone; an expert with a large weight but a
    poor score only helps in combination.

    Parameters
    ----------
    estimator : fitted I2MoE classifier or regressor
        A fitted :class:`~sk_i2moe.I2MoEClassifier` or
        :class:`~sk_i2moe.I2MoERegressor`.
    X : mapping, DataFrame or array-like
        Input in the form the estimator was fitted on.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        True targets.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights for every score.

    Returns
    -------
    DataFrame of shape (n_experts + 1, 2)
        Indexed by expert name, then ``"mixture"`` (index name ``"expert"``);
        column ``score`` (the metric) and ``mean_weight`` (the expert's mean
        interaction weight on ``X``; 1 for the mixture). ``frame.attrs["metric"]``
        names the metric: ``"accuracy"`` or ``"r2"``.

    Raises
    ------
    TypeError
        If ``estimator`` is neither a classifier nor a regressor, or has no
        ``explain`` method.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.

    Examples
    --------
    >>> from sk_i2moe import I2MoEClassifier
    >>> from sk_i2moe.datasets import make_interaction_classification
    >>> from sk_i2moe.inspection import expert_scores
    >>> X, y, _ = make_interaction_classification("redundancy", n_samples=100, random_state=0)
    >>> clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, random_state=0).fit(X, y)
    >>> scores = expert_scores(clf, X, y)
    >>> scores.index.tolist()
    ['uniqueness[m0]', 'uniqueness[m1]', 'uniqueness[m2]', 'synergy', 'redundancy', 'mixture']
    >>> scores.columns.tolist(), scores.attrs["metric"]
    (['score', 'mean_weight'], 'accuracy')
    """
    if not callable(getattr(estimator, "explain", None)):
        raise TypeError(
            f"expert_scores needs an I2MoE estimator with an explain(X) method; got "
            f"{type(estimator).__name__}."
        )
    classifier = is_classifier(estimator)
    if not classifier and not is_regressor(estimator):
        raise TypeError(
            f"expert_scores needs a classifier or a regressor; {type(estimator).__name__} is "
            "neither (sklearn.base.is_classifier and is_regressor are both False)."
        )
    check_is_fitted(estimator)
    explanation = estimator.explain(X)
    y_true = np.asarray(y)
    outputs = np.asarray(explanation.expert_outputs)
    if classifier:
        metric, score = "accuracy", accuracy_score
        if y_true.ndim == 2 and y_true.shape[1] == 1 and outputs.shape[2] != 1:
            y_true = y_true.ravel()  # a column vector of labels, not multi-label
    else:
        metric, score = "r2", r2_score
        if y_true.ndim == 1 and outputs.shape[2] != 1:
            raise ValueError(
                f"y is 1-D but the estimator has {outputs.shape[2]} outputs; pass y of "
                f"shape (n_samples, {outputs.shape[2]})."
            )
    # every expert, then the mixture, through the estimator's own decision rule
    candidates = [outputs[:, e] for e in range(outputs.shape[1])] + [explanation.output]
    scores = [
        score(y_true, estimator._predict_outputs(o), sample_weight=sample_weight)
        for o in candidates
    ]
    mean_weight = np.average(
        np.asarray(explanation.weights, dtype=np.float64), axis=0, weights=sample_weight
    )
    frame = pd.DataFrame(
        {
            "score": np.asarray(scores, dtype=np.float64),
            "mean_weight": np.append(mean_weight, 1.0),
        },
        index=pd.Index([*explanation.expert_names, "mixture"], name="expert"),
    )
    frame.attrs["metric"] = metric
    return frame
