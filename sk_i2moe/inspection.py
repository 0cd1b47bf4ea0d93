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

from collections.abc import Callable
from dataclasses import dataclass, replace
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ._modalities import absent_modalities, row_labels
from ._report import InteractionReport, final_estimator, interaction_report
from ._scoring import check_score_arguments, metric_name, score_outputs
from ._warn import warn
from .nn.ensemble import member_contributions

__all__ = [
    "Explanation",
    "InteractionReport",
    "explain",
    "expert_scores",
    "interaction_report",
    "modality_importance",
]

_SUMMARY_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True, eq=False)
class Explanation:
    """How each sample's prediction was composed from the interaction experts.

    Attributes
    ----------
    weights : ndarray of shape (n_samples, n_experts)
        Interaction weights; each row is non-negative and sums to 1.
    expert_outputs : ndarray of shape (n_samples, n_experts, n_outputs)
        Each expert's output on the clean input (logits for classifiers); for
        an ensemble, the mean of its members' outputs of that expert. Like
        the mixture output and the absence offsets, divided by the
        estimator's ``output_temperature_`` (1 for a regressor, the paper's
        mixture, or a classifier whose held-out rows asked for none), so that
        the parts still add up to :attr:`output`.
    output : ndarray of shape (n_samples, n_outputs)
        The mixture output, the sum of :attr:`contributions` over the experts
        (``sum_e weights[:, e] * expert_outputs[:, e]`` for one mixture), plus
        :attr:`absence_offset` where that is set.
    expert_names : list of str
        Name of each expert, e.g. ``"uniqueness[labs]"``, ``"synergy"``.
    output_names : list of str
        Name of each output (the class labels for a classifier).
    task : {"classification", "multilabel", "regression", "log_odds"} or None, default=None
        What the outputs are: logits of a classifier (a softmax over them),
        the log-odds of each label of a multi-label classifier (a sigmoid
        each), raw regression outputs, or the log-odds of a binary
        classifier's positive class (:meth:`log_odds`). Optional; it lets
        plots pick a default output, label their axes and show the predicted
        probability (None: unknown).
    sample_ids : ndarray of shape (n_samples,) or None, default=None
        The row labels of ``X`` (a DataFrame's index, e.g. patient ids);
        ``to_frame()`` and the plots use them instead of ``0 .. n-1``.
    absent : ndarray of bool of shape (n_samples, n_modalities) or None, default=None
        Which modalities each sample lacked (all NaN in its row), columns in
        the order of ``modality_names``; None when not recorded. The experts
        that need an absent modality have weight 0 for that sample.
    modality_names : list of str or None, default=None
        Names of the columns of ``absent``.
    usable : ndarray of bool of shape (n_samples, n_experts) or None, default=None
        Which experts each sample could use (a uniqueness expert needs its
        modality, the synergy expert two modalities); None when all could.
    member_weights : ndarray of shape (n_samples, n_members, n_experts) or None, default=None
        Every member's interaction weights when the estimator is an ensemble
        (``n_members > 1``); ``weights`` is their mean. None otherwise.
    member_outputs : ndarray of shape (n_samples, n_members, n_experts, n_outputs) or None, \
default=None
        Every member's expert outputs when the estimator is an ensemble;
        ``expert_outputs`` is their mean. Given with ``member_weights``, the
        contributions are the members' mean of ``weight * output``.
    absence_offset : ndarray of shape (n_samples, n_outputs) or None, default=None
        What the sample's absent modalities add to its output, outside the
        experts: the estimators' learned offsets (``absence_offset``: how
        much more likely each class is when those modalities are missing)
        and, where held-out rows asked for it, the move of the output
        towards the constant of the sample's absent modalities
        (``absence_shrinkage_``; of all the training rows with
        ``absence_offset=False``); 0 for a sample with every modality. None
        when every sample had every modality, or the model learns no
        offsets and does not move such samples.

    Raises
    ------
    ValueError
        At construction, when the arrays are not 2-D / 3-D / 2-D or their
        shapes disagree with each other or with the numbers of
        ``expert_names`` and ``output_names``; when only one of
        ``member_weights`` and ``member_outputs`` is given; or when an
        optional array's shape disagrees with them (``absent`` also needs
        ``modality_names``); for an unknown ``task``, or repeated
        ``expert_names`` or ``output_names``.
    TypeError
        At construction, when ``usable`` or ``absent`` is not boolean (0/1
        integers would be read as row positions).

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
    sample_ids: np.ndarray | None = None
    absent: np.ndarray | None = None
    modality_names: list[str] | None = None
    usable: np.ndarray | None = None
    member_weights: np.ndarray | None = None
    member_outputs: np.ndarray | None = None
    absence_offset: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.member_weights is None) != (self.member_outputs is None):
            raise ValueError(
                "member_weights and member_outputs describe an ensemble's members together; "
                "give both or neither."
            )
        weights, outputs, output = (
            np.shape(self.weights),
            np.shape(self.expert_outputs),
            np.shape(self.output),
        )
        if len(weights) != 2 or len(outputs) != 3 or len(output) != 2:
            raise ValueError(
                "weights must be (n_samples, n_experts), expert_outputs (n_samples, n_experts, "
                f"n_outputs) and output (n_samples, n_outputs); got {weights}, {outputs} and "
                f"{output}."
            )
        expected = (weights[0], len(self.expert_names), len(self.output_names))
        if weights != expected[:2] or outputs != expected or output != expected[::2]:
            raise ValueError(
                f"{len(self.expert_names)} expert_names and {len(self.output_names)} "
                f"output_names do not match weights {weights}, expert_outputs {outputs} and "
                f"output {output} (n_samples, n_experts, n_outputs)."
            )
        self._check_optional_shapes(*expected)
        self._check_labels()

    def _check_labels(self) -> None:
        """Refuse an unknown task, repeated names and masks that are not boolean."""
        tasks = (None, "classification", "multilabel", "regression", "log_odds")
        if self.task not in tasks:
            raise ValueError(f"task must be one of {list(tasks)}; got {self.task!r}.")
        for field_name in ("expert_names", "output_names"):  # they name to_frame()'s columns
            names = [str(n) for n in getattr(self, field_name)]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{field_name} must be distinct; {repeated} repeat.")
        for name in ("usable", "absent"):
            value = getattr(self, name)
            if value is None:
                continue
            if np.asarray(value).dtype != bool:
                raise TypeError(
                    f"{name} must be a boolean array (True/False per sample); got dtype "
                    f"{np.asarray(value).dtype}. Convert it, e.g. np.asarray({name}, bool)."
                )
            object.__setattr__(self, name, np.asarray(value))  # a list or a table: an array

    def _check_optional_shapes(self, n_samples: int, n_experts: int, n_outputs: int) -> None:
        """Refuse optional arrays whose shapes disagree with the required ones."""
        if self.absent is not None and self.modality_names is None:
            raise ValueError("absent needs modality_names, the names of its columns.")
        n_modalities = None if self.modality_names is None else len(self.modality_names)
        members = None if self.member_weights is None else np.shape(self.member_weights)[1:2]
        k = members[0] if members else None
        shapes = {
            "sample_ids": (self.sample_ids, (n_samples,)),
            "absent": (self.absent, (n_samples, n_modalities)),
            "usable": (self.usable, (n_samples, n_experts)),
            "member_weights": (self.member_weights, (n_samples, k, n_experts)),
            "member_outputs": (self.member_outputs, (n_samples, k, n_experts, n_outputs)),
            "absence_offset": (self.absence_offset, (n_samples, n_outputs)),
        }
        for name, (value, shape) in shapes.items():
            if value is not None and np.shape(value) != shape:
                raise ValueError(
                    f"{name} has shape {np.shape(value)}; with {n_samples} samples, "
                    f"{n_experts} experts and {n_outputs} outputs it must be {shape}."
                )

    def absent_names(self) -> list[str]:
        """Each sample's absent modalities, comma-separated ("" when it has all).

        Returns
        -------
        list of str
            One entry per sample; all empty when ``absent`` is None.

        Examples
        --------
        >>> import numpy as np
        >>> from sk_i2moe.inspection import Explanation
        >>> exp = Explanation(np.ones((2, 1)), np.zeros((2, 1, 1)), np.zeros((2, 1)),
        ...                   ["fusion"], ["y"], absent=np.array([[True, False], [False, False]]),
        ...                   modality_names=["labs", "notes"])
        >>> exp.absent_names()
        ['labs', '']
        """
        n = self.weights.shape[0]
        if self.absent is None:
            return [""] * n
        names = np.asarray(self.modality_names, dtype=object)
        return [", ".join(names[row]) for row in np.asarray(self.absent, dtype=bool)]

    @property
    def contributions(self) -> np.ndarray:
        """Each expert's share of the output, shape (n_samples, n_experts, n_outputs).

        ``weights * expert_outputs`` for one mixture; for an ensemble, the
        members' mean of their own ``weight * output`` (each member's output
        is its weighted sum of experts, the ensemble's the members' mean).
        Summed over experts, plus :attr:`absence_offset` where set, they give
        :attr:`output`.

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
        if self.member_weights is not None:
            return member_contributions(self.member_weights, self.member_outputs)
        return self.weights[:, :, None] * self.expert_outputs

    def log_odds(self) -> Explanation:
        """The explanation of a binary classifier on the log-odds of its positive class.

        A binary classifier has two logits per expert; their difference is
        the log-odds of the second class (``classes_[1]``), and the experts'
        contributions ``weight * (logit_1 - logit_0)`` add up to the
        mixture's log-odds, ``log(p / (1 - p))`` of its predicted
        probability.

        Returns
        -------
        Explanation
            One output, named ``"log-odds(<class>)"``, with ``task="log_odds"``.

        Raises
        ------
        ValueError
            Unless this explains a classifier with exactly two outputs (a
            multi-label classifier's outputs are log-odds already).

        Examples
        --------
        >>> import numpy as np
        >>> from sk_i2moe.inspection import Explanation
        >>> outputs = np.array([[[0.0, 2.0], [1.0, 0.0]]])
        >>> weights = np.array([[0.5, 0.5]])
        >>> exp = Explanation(weights, outputs, (weights[:, :, None] * outputs).sum(1),
        ...                   ["synergy", "redundancy"], ["no", "yes"], task="classification")
        >>> odds = exp.log_odds()
        >>> odds.output_names, odds.contributions[0, :, 0].tolist(), float(odds.output[0, 0])
        (['log-odds(yes)'], [1.0, -0.5], 0.5)
        """
        if self.task != "classification" or self.output.shape[1] != 2:
            raise ValueError(
                "log_odds() needs the explanation of a binary classifier (task='classification', "
                f"2 outputs); got task={self.task!r} with {self.output.shape[1]} output(s). A "
                "multi-label classifier's outputs are already each label's log-odds."
            )
        experts = self.expert_outputs[:, :, 1:] - self.expert_outputs[:, :, :1]
        members = self.member_outputs
        offset = self.absence_offset
        return replace(
            self,
            absence_offset=None if offset is None else offset[:, 1:] - offset[:, :1],
            expert_outputs=experts,
            member_outputs=None if members is None else members[..., 1:] - members[..., :1],
            output=self.output[:, 1:] - self.output[:, :1],
            output_names=[f"log-odds({self.output_names[1]})"],
            task="log_odds",
        )

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (sample, expert).

        Returns
        -------
        DataFrame
            Columns ``sample`` (the row label when ``sample_ids`` is set,
            else the row number), ``expert``, ``weight``, then
            ``output[<name>]`` and ``contribution[<name>]`` for every output,
            ``usable`` (whether the sample has the modalities the expert
            needs: an unusable expert's output was computed without them and
            gets weight 0) when ``usable`` is set, and ``absent`` (the
            sample's absent modalities, comma-separated) when ``absent`` is
            set.

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
        ids = np.arange(n) if self.sample_ids is None else np.asarray(self.sample_ids)
        frame = {
            "sample": np.repeat(ids, n_experts),
            "expert": pd.Categorical(np.tile(self.expert_names, n), categories=self.expert_names),
            "weight": self.weights.reshape(-1),
        }
        contributions = self.contributions
        for k, name in enumerate(self.output_names):
            frame[f"output[{name}]"] = self.expert_outputs[:, :, k].reshape(-1)
        for k, name in enumerate(self.output_names):
            frame[f"contribution[{name}]"] = contributions[:, :, k].reshape(-1)
        if self.usable is not None:
            frame["usable"] = np.asarray(self.usable, dtype=bool).reshape(-1)
        if self.absent is not None:
            frame["absent"] = np.repeat(np.asarray(self.absent_names(), dtype=object), n_experts)
        return pd.DataFrame(frame)

    def summary(self) -> pd.DataFrame:
        """Distribution of each expert's interaction weight over the samples.

        The global view of the paper: how much the data set, as a whole,
        leans on every kind of interaction, and how that varies by sample.
        Every sample counts, including the weight 0 of an expert whose
        modality a sample lacks (the means sum to 1);
        :func:`interaction_report` and the violins of
        :func:`~sk_i2moe.plotting.plot_interaction_weights` use only the
        samples that can use each expert.

        Returns
        -------
        DataFrame of shape (n_experts, 7)
            Indexed by expert name (index name ``"expert"``), with columns
            ``mean``, ``std`` (population, ``ddof=0``) and the quantiles
            ``5%``, ``25%``, ``50%``, ``75%``, ``95%`` (as in
            :meth:`pandas.DataFrame.describe`).

        Raises
        ------
        ValueError
            For an explanation of no sample (no distribution to summarise).

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
        if not len(weights):
            raise ValueError("The explanation has no samples, so no weights to summarise.")
        columns = {"mean": weights.mean(axis=0), "std": weights.std(axis=0)}
        for q in _SUMMARY_QUANTILES:
            columns[f"{100 * q:g}%"] = np.quantile(weights, q, axis=0)
        return pd.DataFrame(columns, index=pd.Index(list(self.expert_names), name="expert"))


def explain(estimator: object, X: object) -> Explanation:
    """Local explanation of a fitted estimator's predictions, Pipelines included.

    Parameters
    ----------
    estimator : I2MoE estimator or Pipeline ending in one
        Fitted; a fitted search (``GridSearchCV``, ...) stands for its
        ``best_estimator_``.
    X : object
        Input of ``estimator`` (for a Pipeline, what its first step takes).

    Returns
    -------
    Explanation
        As :meth:`I2MoEClassifier.explain <sk_i2moe.I2MoEClassifier.explain>`,
        with the row index of ``X`` (a DataFrame, or a mapping of
        DataFrames) as ``sample_ids``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sk_i2moe import I2MoEClassifier
    >>> from sk_i2moe.datasets import load_breast_cancer_views
    >>> from sk_i2moe.inspection import explain
    >>> views, y = load_breast_cancer_views()
    >>> X = pd.concat({k: pd.DataFrame(v) for k, v in views.items()}, axis=1)
    >>> X.columns = [f"{m}__{f}" for m, f in X.columns]
    >>> X.index = [f"patient{i}" for i in range(len(X))]
    >>> pipe = make_pipeline(StandardScaler().set_output(transform="pandas"),
    ...                      I2MoEClassifier(max_epochs=2, hidden_dim=8, random_state=0))
    >>> explain(pipe.fit(X, y), X.iloc[:2]).to_frame()["sample"].unique().tolist()
    ['patient0', 'patient1']
    """
    final, Xt = final_estimator(estimator, X)
    explanation = final.explain(Xt)
    ids = row_labels(X)
    return explanation if ids is None else replace(explanation, sample_ids=ids)


def expert_scores(
    estimator: object,
    X: object,
    y: object,
    *,
    scoring: str | Callable | None = None,
    sample_weight: object = None,
) -> pd.DataFrame:
    """Score every interaction expert on its own, next to the whole mixture.

    Each expert is a complete predictor: its clean output alone is turned
    into predictions by the estimator's own decision rule (the one
    ``predict`` applies to the mixture; probabilities are the softmax, or
    per-label sigmoid, of its logits) and scored with ``scoring``. All the
    rows come from one forward pass. An expert that scores close to the
    mixture can carry the task alone; an expert with a large weight but a
    poor score only helps in combination. Every row is scored, including
    rows that lack an expert's modalities (the expert then predicts without
    them, and its weight there is 0); :func:`interaction_report` scores each
    expert on the rows that can use it instead.

    Parameters
    ----------
    estimator : I2MoE estimator or Pipeline ending in one
        Fitted; a fitted search (``GridSearchCV``, ...) stands for its
        ``best_estimator_``.
    X : mapping, DataFrame or array-like
        Input of ``estimator``.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        True targets.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name (``"roc_auc"``, ``"neg_brier_score"``,
        ``"balanced_accuracy"``, ...) or a callable ``scorer(estimator, X,
        y)``; None is the estimator's default metric (accuracy, subset
        accuracy for multi-label targets, or R^2), the one ``score`` uses.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights for every score, paired with the rows by position (a
        pandas Series whose index holds ``X``'s row labels in another order
        is refused).

    Returns
    -------
    DataFrame of shape (n_experts + 1, 2)
        Indexed by expert name, then ``"mixture"`` (index name ``"expert"``);
        column ``score`` and ``mean_weight`` (the expert's mean interaction
        weight on ``X``, weighted by ``sample_weight`` when given; 1 for the
        mixture). ``frame.attrs["metric"]`` names
        the metric.

    Raises
    ------
    TypeError
        If ``estimator`` is not an I2MoE estimator, a Pipeline ending in one or
        a fitted search over one.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        For ``y`` without one target per row of ``X``, of another form than
        the fitted outputs, with missing values or labels the estimator was
        not fitted on, a pandas ``y`` whose row labels are ``X``'s in another
        order or whose columns put a fitted output name (``target_names_``)
        at another position, or ``sample_weight`` or ``scoring`` that the
        checks refuse.

    Examples
    --------
    >>> from sk_i2moe import I2MoEClassifier
    >>> from sk_i2moe.datasets import make_interaction_classification
    >>> from sk_i2moe.inspection import expert_scores
    >>> X, y, _ = make_interaction_classification("redundancy", n_samples=100, random_state=0)
    >>> clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, random_state=0).fit(X, y)
    >>> scores = expert_scores(clf, X, y, scoring="roc_auc")
    >>> scores.index.tolist()
    ['uniqueness[m0]', 'uniqueness[m1]', 'uniqueness[m2]', 'synergy', 'redundancy', 'mixture']
    >>> scores.columns.tolist(), scores.attrs["metric"]
    (['score', 'mean_weight'], 'roc_auc')
    """
    final, Xt = final_estimator(estimator, X)
    explanation = final.explain(Xt)
    sample_weight = check_score_arguments(
        final, y, scoring, sample_weight, len(explanation.output), row_labels(X)
    )
    outputs = np.asarray(explanation.expert_outputs)
    candidates = [outputs[:, e] for e in range(outputs.shape[1])] + [explanation.output]
    scores = [score_outputs(final, o, y, scoring, sample_weight) for o in candidates]
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
    frame.attrs["metric"] = metric_name(final, scoring)
    return frame


def modality_importance(
    estimator: object,
    X: object,
    y: object,
    *,
    scoring: str | Callable | None = None,
    n_repeats: int = 5,
    random_state: int | np.random.RandomState | None = None,
    sample_weight: object = None,
) -> pd.DataFrame:
    """Permutation importance of whole modalities: what the predictions need.

    For each modality, its rows are shuffled across samples (all its columns
    together, so the modality stays internally consistent) ``n_repeats``
    times, and the drop of the score is recorded. Where samples lack the
    modality, it is shuffled among the samples that have it: which samples
    lack it stays as it was (what an absence says is not part of the
    importance), and no sample is left with every modality absent. Interaction weights say
    how a prediction is *composed*; this says what it *needs*: a modality
    whose shuffling costs nothing is not needed by this model's predictions
    while the other modalities are present, whatever the weights of its
    experts (two redundant modalities each look unneeded alone; check by
    refitting without it).

    Parameters
    ----------
    estimator : I2MoE estimator or Pipeline ending in one
        Fitted; a fitted search (``GridSearchCV``, ...) stands for its
        ``best_estimator_``.
    X : mapping, DataFrame or array-like
        Held-out input of ``estimator``.
    y : array-like
        True targets.
    scoring : str, callable or None, default=None
        As in :func:`expert_scores`.
    n_repeats : int, default=5
        Shuffles per modality.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffles. They permute rows by position, so the same rows
        in another order are shuffled differently (as in
        :func:`sklearn.inspection.permutation_importance`).
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights of the score, paired with the rows by position (a
        pandas Series whose index holds ``X``'s row labels in another order
        is refused).

    Returns
    -------
    DataFrame of shape (n_modalities, 2 + n_repeats)
        Indexed by modality (index name ``"modality"``): ``importance_mean``
        and ``importance_std`` (population, as
        :func:`sklearn.inspection.permutation_importance`), then one column
        per repeat; NaN for a modality present in fewer than two rows of
        ``X`` (nothing to shuffle), with a warning. ``frame.attrs`` holds
        ``"metric"`` and ``"baseline_score"``.

    Raises
    ------
    TypeError
        If ``estimator`` is not an I2MoE estimator, a Pipeline ending in one or
        a fitted search over one.
    ValueError
        For ``n_repeats`` that is not a positive integer, or ``y``,
        ``sample_weight`` or ``scoring`` that does not fit ``X`` and the
        estimator (a pandas ``y`` whose row labels are ``X``'s in another
        order, or whose columns put a fitted output name at another
        position, included).

    Examples
    --------
    >>> from sk_i2moe import I2MoEClassifier
    >>> from sk_i2moe.datasets import make_interaction_classification
    >>> from sk_i2moe.inspection import modality_importance
    >>> X, y, _ = make_interaction_classification("uniqueness", n_samples=200, random_state=0)
    >>> clf = I2MoEClassifier(max_epochs=5, hidden_dim=8, random_state=0).fit(X, y)
    >>> imp = modality_importance(clf, X, y, n_repeats=3, random_state=0)
    >>> imp.columns.tolist()[:2], imp.index.tolist()
    (['importance_mean', 'importance_std'], ['m0', 'm1', 'm2'])
    """
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, Integral) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")
    final, Xt = final_estimator(estimator, X)
    arrays = list(final._input_spec.transform(Xt).values())
    sample_weight = check_score_arguments(
        final, y, scoring, sample_weight, arrays[0].shape[0], row_labels(X)
    )
    rng = check_random_state(random_state)
    baseline = score_outputs(final, final._explain_arrays(arrays).output, y, scoring, sample_weight)
    having = [np.flatnonzero(~absent) for absent in absent_modalities(arrays).T]
    unmeasured = [name for name, rows in zip(final.modalities_, having) if len(rows) < 2]
    if unmeasured:
        warn(
            f"Modalities {unmeasured[:5]} are present in fewer than 2 rows of X, so shuffling "
            "them cannot change a prediction: their importance is NaN (not measured), not 0 "
            "(which would say this model does not need them). Measure on data that have them.",
            UserWarning,
        )
    drops = np.full((len(arrays), n_repeats), np.nan)
    for m in range(len(arrays)):
        rows = having[m]
        if len(rows) < 2:
            continue
        for r in range(n_repeats):
            shuffled = list(arrays)
            shuffled[m] = arrays[m].copy()
            shuffled[m][rows] = arrays[m][rows[rng.permutation(len(rows))]]
            output = final._explain_arrays(shuffled).output
            drops[m, r] = baseline - score_outputs(final, output, y, scoring, sample_weight)
    frame = pd.DataFrame(
        {"importance_mean": drops.mean(axis=1), "importance_std": drops.std(axis=1)},
        index=pd.Index(list(final.modalities_), name="modality"),
    )
    for r in range(n_repeats):
        frame[f"repeat_{r}"] = drops[:, r]
    frame.attrs["metric"] = metric_name(final, scoring)
    frame.attrs["baseline_score"] = baseline
    return frame
