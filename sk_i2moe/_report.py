"""The interaction report: which interaction the held-out evidence supports, if any.

Weights say how the fitted mixture composed its predictions; they are not
evidence about the data. :func:`interaction_report` adds the evidence, from
held-out data only:

- every expert's own predictive **skill** (how much of the chance-level loss
  it removes when it predicts alone), with a bootstrap interval;
- each **modality on its own** (its uniqueness expert; in the paper's kind of
  mixture, whose experts see every modality, with every other modality
  shuffled across samples, which also checks the expert's name);
- a **rule per kind of interaction** deciding whether the data support it
  (:attr:`InteractionReport.table`'s ``supported`` and ``reason`` columns);
- the **dominant** interaction: of the experts whose interaction the
  evidence supports, the one with the largest ``overall_weight`` (the one the
  predictions lean on most), or None where the evidence supports none (for
  instance on shuffled labels, where the mixture should be no better than
  chance on held-out data).

"Supported" is a statement about the fitted model's experts on these
held-out samples: it speaks about the data only as far as the experts learned
what the data hold, and "not supported" means "not shown", not "absent".

Intervals are percentile bootstrap intervals over the held-out samples
(paired: every quantity is computed on the same resamples). Where the synergy
expert's swap test pairs the samples, a resample draws pairs, each with both
of its samples, because the test's values of the two are not independent.
For an ensemble (``n_members > 1``) each resample of the weights also draws
one member, so that the weight intervals cover the randomness of training as
well: where one fit from another random initialisation could put its weight.
The dominant interaction is also decided with narrower and wider intervals
from the same resamples (``SENSITIVITY_FACTORS``), and the summary says when
the answer changes with them; another supported expert whose weight the
resamples do not show to be below the dominant's (the model's weights, paired
differences) is named beside it (:attr:`InteractionReport.ties`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputClassifier, MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._data import standardization
from ._evidence import (
    CROSS_FIT_FOLDS,
    MIN_CLAIM_SAMPLES,
    N_MOMENTS,
    _absence_losses,
    _added_up,
    _additive_surrogates,
    _base_rates,
    _beyond_label,
    _bootstrap_means,
    _chance_floor,
    _chance_losses,
    _content_order,
    _group_partners,
    _interval,
    _losses,
    _masked_mean,
    _pair_clusters,
    _pair_moments,
    _predictions,
    _probe_losses,
    _shared_information,
    _simultaneous_low,
    _skill,
    _swap_partners,
    _units,
)
from ._groups import group_numbers, shared_groups
from ._modalities import (
    absent_rows,
    regression_targets,
    row_labels,
    training_scale,
)
from ._scoring import (
    check_score_arguments,
    metric_name,
    score_outputs,
)
from ._warn import warn
from .nn.ensemble import mixtures_of

#: a synergy claim needs more than this share of the synergy expert's gain over the best
#: single modality to be lost when the expert is made additive across some modality
JOINT_SHARE = 0.5
#: a uniqueness claim needs the single-modality predictions added up to beat the modality's
#: own by less than this share of its gain over chance (over the whole interval)
ADDED_SHARE = 0.05

#: the least difference of the absent samples' skills, with and without the absence
#: offsets, that the summary reads as the absence informing the predictions (or harming them)
ABSENCE_MARGIN = 0.01
#: how much higher the mixture's skill must be with its outputs matched to the held-out
#: samples' rates (one shift per class, label or output) for the summary to say that the
#: predictions do not average to them: a tenth of the chance-level loss
BASE_RATE_GAIN = 0.1
#: the least weight (on the samples that have its modalities) of an expert whose own held-out
#: predictions are shown to do worse than chance that the summary names as pulling the
#: mixture's predictions down (a regressor's noise expert at 0.067-0.091 cost 0.016-0.036 R^2)
HARMFUL_WEIGHT = 0.05
#: the report also decides the dominant interaction with intervals whose error rate
#: ``1 - confidence`` is multiplied by each of these (0.90 and 0.99 for 0.95): an answer that
#: changes between them rests on evidence near the rules' thresholds
SENSITIVITY_FACTORS = (2.0, 0.2)
#: ... where each tail of the resamples holds at least this many of them (a 99 % interval
#: needs 1,000 resamples: n_bootstrap below that checks the answer at the narrower level only);
#: intervals at ``confidence`` itself with fewer are computed, with a warning
MIN_TAIL_RESAMPLES = 5
#: the training-row check needs some feature with more distinct values than this: features of
#: few values have the same mean and standard deviation on other rows of the same frequencies
MANY_VALUES = 20


def final_estimator(estimator: object, X: object) -> tuple[object, object]:
    """The I2MoE estimator (the last step of a Pipeline) and ``X`` in its input form.

    Parameters
    ----------
    estimator : I2MoE estimator or Pipeline ending in one
        Fitted. A Pipeline's last step may itself be such a Pipeline, and
        a fitted hyperparameter search (``GridSearchCV`` and the like, with
        ``refit``) stands for its ``best_estimator_``, whose predictions it
        serves.
    X : object
        Input of ``estimator``.

    Returns
    -------
    final : I2MoE estimator
    Xt : object
        ``X`` transformed by the steps before the last one.
    """
    final = estimator
    while True:
        if isinstance(final, Pipeline):
            X = final[:-1].transform(X) if len(final) > 1 else X
            final = final[-1]
        elif hasattr(final, "cv_results_") and hasattr(final, "best_estimator_"):
            final = final.best_estimator_  # a fitted search predicts with it
        else:
            break
    if not hasattr(final, "_explain_arrays"):
        search = any(hasattr(final, name) for name in ("param_grid", "param_distributions"))
        if search and hasattr(final, "cv_results_"):
            hint = " A search fitted with refit=False keeps no model: refit the best parameters."
        elif search:
            hint = " The search is not fitted: fit it first."
        elif any(hasattr(final, name) for name in ("estimator", "regressor")):
            inside = _models_inside(final)
            hint = (
                " Pass the I2MoE model itself (a wrapper such as CalibratedClassifierCV or "
                "TransformedTargetRegressor predicts something other than the mixture's output)"
                + (f"; this {type(final).__name__} holds {inside}." if inside else ".")
            )
        else:
            hint = ""
        raise TypeError(
            "Expected a fitted I2MoEClassifier or I2MoERegressor, a Pipeline ending in one, or "
            f"a fitted search over one; got {type(final).__name__}.{hint}"
        )
    check_is_fitted(final, "net_")
    return final, X


def _models_inside(wrapper: object) -> str:
    """Where a fitted scikit-learn wrapper keeps its I2MoE models, on which ``y``; "" if nowhere.

    The attributes scikit-learn's wrappers fit: ``estimator_`` (one model,
    fitted on ``y``), ``regressor_`` (one model, fitted on ``y`` transformed),
    ``estimators_`` (one per class of a one-vs-rest wrapper, one per output
    of a multi-output one; others' members are described generically),
    ``calibrated_classifiers_`` (one per fold, each ``.estimator``).
    """

    def is_model(obj: object) -> bool:  # a fitted one (bagging's estimator_ is a template)
        last = obj[-1] if isinstance(obj, Pipeline) else obj
        return hasattr(last, "_explain_arrays") and hasattr(last, "net_")

    if is_model(getattr(wrapper, "estimator_", None)):
        return "it as .estimator_, fitted on the same y"
    if is_model(getattr(wrapper, "regressor_", None)):
        return (
            "it as .regressor_, fitted on y transformed (score it against the transformed y, "
            "e.g. .transformer_.transform(y))"
        )
    members = getattr(wrapper, "estimators_", None)
    if isinstance(members, list) and members and all(map(is_model, members)):
        where = f".estimators_[i] (i < {len(members)})"
        if isinstance(wrapper, OneVsRestClassifier):
            if len(members) == 1:  # a binary target: one model, of the second class
                return "it as .estimators_[0], fitted on y == .classes_[1]"
            return f"one per class as {where}, each fitted on y == .classes_[i]"
        if isinstance(wrapper, (MultiOutputClassifier, MultiOutputRegressor)):
            return f"one per output as {where}, each fitted on y[:, i]"
        return f"its I2MoE models as {where}, each fitted on what the wrapper gave it"
    folds = getattr(wrapper, "calibrated_classifiers_", None)
    if (
        isinstance(folds, list)
        and folds
        and all(is_model(getattr(fold, "estimator", None)) for fold in folds)
    ):
        if len(folds) == 1:
            return "it as .calibrated_classifiers_[0].estimator, fitted on the same y"
        return (
            f"one per fold as .calibrated_classifiers_[i].estimator (i < {len(folds)}), each "
            "fitted on part of the training rows"
        )
    return ""


@dataclass(frozen=True, eq=False)
class InteractionReport:
    """Held-out evidence for each interaction expert of a fitted mixture.

    Attributes
    ----------
    table : DataFrame
        One row per expert (index ``expert``): ``mean_weight`` with its
        interval ``weight_low``/``weight_high`` (over held-out resamples and,
        for an ensemble, its members: then a range for one fit's weight, not
        a confidence interval for the mean printed); ``score`` (the estimator's
        own metric, accuracy or R^2, or ``scoring``, of the expert
        predicting alone);
        ``skill`` with ``skill_low``/``skill_high`` (the share of the
        chance-level loss the expert removes: 0 is chance, 1 is perfect;
        the Brier score for classifiers, squared error for regressors, each
        output in units of its training standard deviation so that every
        output of a multi-output target counts alike; the
        chance level is the best constant prediction on the samples the
        expert is scored on; NaN where those samples all have the same
        target, which leaves no chance level to beat; every resample is
        scored against that chance level, so a resample that happens to hold
        one class keeps a defined skill);
        ``n_usable`` (the held-out samples that have the modalities the
        expert needs; every statistic of the row is over those samples only,
        but ``overall_weight``); ``overall_weight`` (the mean weight over
        every held-out sample, 0 counted where a sample lacks the expert's
        modalities, as in ``Explanation.summary()``: how much the
        predictions as a whole lean on the expert; ``mean_weight`` on
        complete data);
        ``name_check`` (True/False, or None where each expert's inputs are
        fixed by construction, the structured mixture); ``supported``
        (bool) and ``reason`` (plain words).
    dominant : str or None
        Of the experts whose interaction the held-out evidence supports, the
        one the predictions lean on most (the largest ``overall_weight``);
        None when it supports none.
    mixture : dict
        ``score``, ``skill``, ``skill_low``, ``skill_high`` of the whole
        mixture, and ``skill_rates_matched``, its skill with its outputs
        shifted by one constant per class (label, output) so that they
        average to these samples' rates, fitted on them (see
        :attr:`base_rates`).
    metric : str
        The name of the ``score`` column's metric: ``"accuracy"`` or
        ``"r2"``, or ``scoring``'s.
    dominant_by_confidence : dict
        ``{level: dominant}``: the dominant interaction the same resamples
        give with intervals at other levels (``1 - confidence`` doubled and
        divided by five: 0.90 and 0.99 for 0.95; a level outside (0, 1),
        or one whose tails would hold fewer than five resamples, is left
        out: 99 % needs ``n_bootstrap >= 1000``). Where one differs from
        ``dominant``, the answer rests on evidence near the rules'
        thresholds: another seed or held-out split may well give another,
        and :meth:`summary` says so. The check is itself computed from the
        resamples, so near a threshold it can differ with ``random_state``.
    n_samples : int
        Held-out samples the report is computed on (of positive weight).
    n_groups : int or None
        The groups among them where ``groups`` were given (and some group
        has more than one sample): the resamples and folds took each group
        whole. None otherwise.
    training_rows : bool
        Whether those samples look like the model's training rows (each
        feature's mean and standard deviation equal the training rows', and
        some feature takes more than 20 distinct values): the report then
        warns, and :meth:`summary` says so, since its claims need held-out
        samples. Not every case is caught (see the interpretation guide).
    weighted : bool
        Whether the samples were weighted (``sample_weight``).
    absence_pattern : dict or None
        Where some modality is absent from some held-out samples and present
        in others: the ``skill`` (with ``skill_low``, ``skill_high``) of a
        prediction made from which modalities are missing alone (a linear
        model on the absence indicators, one effect per modality, logistic
        for classifiers, cross-fitted on the held-out samples), against the
        same chance level as the mixture's, and ``mixture_minus`` (with its
        ends) the mixture's skill minus it, paired within each resample.
        Where its lower end is above 0 the absences themselves predict the
        target (a cautious end: fitted on part of a small held-out set, the
        model understates what the absences predict, and the interval misses
        the truth more often than its level says, mostly lying below it), and
        :meth:`summary` says whether the mixture is shown to do
        better than them, not shown to (its skill may rest on them), or
        worse (the absences carry information the model does not use).
        None where no modality is absent from some samples and present in
        others, for an estimator that holds no absences (its explanation
        gives none), and where the model cannot be fitted (multi-label
        targets, fewer than ten samples, a class with fewer than five).
    n_weight_zero : int
        Samples given weight 0, left out of the report (``n_samples`` does
        not count them); :meth:`summary` says how many.
    confidence : float
        Level of the bootstrap intervals.
    n_bootstrap : int or None
        Resamples the intervals are taken over; :meth:`summary` says when
        each tail of the ``confidence`` intervals holds fewer than five of
        them (their ends are then rough). None where not recorded.
    ties : tuple of str
        The other supported experts whose ``overall_weight`` the resamples
        do not show to be below the dominant's: the lower end of the
        ``confidence`` interval of the difference (the dominant's weight
        minus theirs, paired within each resample; the ends hold for all the
        differences at once) is not above 0. :meth:`summary` names them
        ("report both"): the dominant one is the heavier by the point
        estimates only. A statement about this model's weights on samples
        like these (an ensemble's mean over its members, as ``dominant``);
        where another fit could put its weight is what the weight intervals
        say. Empty where there is no dominant or no such expert.
    n_members : int
        Members of the ensemble whose weights the report read (1: one
        mixture). Above 1, each weight interval is where a single member's
        mean weight falls (each resample draws one member), not an interval
        for the ensemble's mean weight printed, which :meth:`summary` says.
    names_by_construction : bool
        Whether the kind of mixture guarantees the expert names.
    estimator_name : str
        Class name of the estimator.
    absence : dict or None
        Where held-out samples lack modalities and the model's absence terms
        change their predictions (the learned ``absence_offset``, which a
        model fitted on complete data never learns, and the move towards the
        constant of what they lack, ``absence_shrinkage_``; see
        :attr:`~sk_i2moe.inspection.Explanation.absence_offset`): ``n_samples``
        (the incomplete samples), and the mixture's ``skill`` on them with
        these terms and ``skill_without_offsets`` with them taken out. The
        gap is how much those predictions rest on the *fact* that a modality
        is missing rather than on any expert. ``missingness_counted`` is
        the model's ``absence_offset``: where False there are no offsets and
        the move goes towards the constant of all the training rows, so the
        gap says how much moving the predictions without a modality towards
        it helps, not what the missingness says. None otherwise.
    n_targets : int
        The targets the mixture's weights serve at once: the outputs of a
        multi-output regressor or the labels of a multi-label classifier
        (their scores are pooled); 1 otherwise.
    base_rates : DataFrame or None
        One row per class (label, output), indexed by name: ``observed``,
        its rate (mean) in these samples, ``predicted``, the mixture's mean
        prediction of it as the report scores it (for a classifier fitted
        with ``class_weight``, with the weights' tilt undone, not the mean
        of ``predict_proba``), and ``z``, their difference over its standard
        error. A model fitted to another balance of classes, or samples
        whose features are shifted from the training rows' (another site, a
        recalibrated assay), predicts rates these samples do not have; the
        skills, measured against these samples' rates, are then understated.
        :meth:`summary` says so where ``mixture["skill_rates_matched"]`` is
        at least ``BASE_RATE_GAIN`` (0.1) above the skill, as printed, and
        some ``|z|`` exceeds the normal distribution's two-sided quantile at
        the strictest level of :attr:`dominant_by_confidence` (0.99 for
        0.95), that level's error divided among the rows (one test for two
        classes). None where not recorded.
    """

    table: pd.DataFrame
    dominant: str | None
    mixture: dict = field(repr=False)
    metric: str = "accuracy"
    n_samples: int = 0
    n_groups: int | None = None
    confidence: float = 0.95
    names_by_construction: bool = True
    estimator_name: str = ""
    absence: dict | None = field(default=None, repr=False)
    weighted: bool = False
    dominant_by_confidence: dict = field(default_factory=dict, repr=False)
    training_rows: bool = False
    n_bootstrap: int | None = None
    ties: tuple[str, ...] = ()
    n_members: int = 1
    n_weight_zero: int = 0
    absence_pattern: dict | None = field(default=None, repr=False)
    n_targets: int = 1
    base_rates: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Hold ``ties`` as a tuple (a list given to ``dataclasses.replace`` stays mutable)."""
        object.__setattr__(self, "ties", tuple(self.ties))

    def summary(self) -> str:
        """The report as plain text for a clinical or methods report.

        Returns
        -------
        str
            A few lines: what was evaluated (and with how many resamples,
            saying where they are too few), a warning where the samples look
            like the training rows, what an ensemble's weight intervals are,
            the mixture's held-out skill, whether its predictions miss these
            samples' rates by enough to understate every skill
            (:attr:`base_rates`), the
            dominant interaction (or that none is supported), any other
            supported expert not shown to weigh less (:attr:`ties`), whether it
            holds with other interval levels, the expert the mixture leans
            on most where its interaction is not supported, every expert
            that takes a twentieth of the weight or more (on the samples
            that have its modalities) while its own predictions there are
            shown to do worse than chance, every expert scored on every
            sample whose skill interval lies above the mixture's (the weights
            do not make full use of it; said where its interaction is not
            supported; with several targets, the advice to
            fit one model per target), whether the
            expert names are guaranteed, whether samples lack modalities and
            what the absence offsets add for them, whether which modalities
            are missing predicts the target by itself (and whether the
            mixture does better), and one line per expert with its weight,
            skill, verdict and reason. The first line counts the samples
            (their groups, where given, and, where weighted, those of
            weight 0 left out).
        """
        level = f"{100 * self.confidence:g}%"
        m = self.mixture
        samples = "samples" if self.training_rows else "held-out samples"
        fusion_only = list(self.table.index) == ["fusion"]  # experts="single"
        lines = [
            f"Interaction report for {self.estimator_name} on {self.n_samples} {samples}"
            + ("" if self.n_groups is None else f" in {self.n_groups} groups")
            + f"{', weighted' if self.weighted else ''}"
            + (f", {self.n_weight_zero} of weight 0 left out" if self.n_weight_zero else "")
            + f" ({level} bootstrap intervals"
            + ("" if self.n_bootstrap is None else f", {self.n_bootstrap} resamples")
            + ").",
            *(
                []
                if self.n_bootstrap is None
                else _too_few_line(
                    self.confidence, self.n_bootstrap, bool(self.dominant_by_confidence)
                )
            ),
            *(
                [
                    "WARNING: these samples look like the model's training data, NOT held out: "
                    "the skills below are overstated and unsupported interactions can look "
                    "supported. Report on held-out samples."
                ]
                if self.training_rows
                else []
            ),
            *(
                [
                    f"An ensemble of {self.n_members} members: each weight interval is where a "
                    "single member's mean weight falls (members and resamples pooled), not an "
                    "interval for the ensemble's mean weight printed."
                ]
                if self.n_members > 1
                else []
            ),
            f"Mixture: {self.metric} {m['score']:.3f}; skill "
            f"{_signed_interval(m['skill'], m['skill_low'], m['skill_high'])} (share of the "
            "chance-level loss removed; 0 = chance).",
            *self._base_rate_lines(),
        ]
        if fusion_only:
            lines.append(
                "No interaction to name: the mixture is one expert over every modality "
                "(experts='single'), which tests no interaction; fit with experts='all' to "
                "test them."
            )
        elif self.dominant is None:
            lines.append(f"Dominant interaction: none supported by these {samples}.")
        else:
            row = self.table.loc[self.dominant]
            share = 1 / len(self.table)
            over = (
                f" over its {row.n_usable} usable samples" if row.n_usable < self.n_samples else ""
            )
            little = (
                "; its interaction is supported, but it gets less than an equal share of the "
                + (
                    f"weight ({row.overall_weight:.2f} over every sample, against an equal "
                    f"share of {share:.2f})"
                    if over
                    else f"weight (an equal share is {share:.2f})"
                )
                + ": the predictions rest mostly on other experts"
                if round(row.overall_weight, 2) < round(share, 2)  # as printed
                else ""
            )
            lines.append(
                f"Dominant interaction: {self.dominant} (mean weight {row.mean_weight:.2f} "
                f"[{row.weight_low:.2f}, {row.weight_high:.2f}]{over}{little})."
            )
        # (vanilla fusion names no interaction: no answer to check at other levels, or to lean on)
        if not fusion_only and self.dominant_by_confidence and self.n_samples >= MIN_CLAIM_SAMPLES:
            levels = " and ".join(f"{100 * level:g}%" for level in self.dominant_by_confidence)
            if all(d == self.dominant for d in self.dominant_by_confidence.values()):
                lines.append(f"The same answer with {levels} intervals.")
            else:
                answers = ", ".join(
                    f"{dominant or 'none'} with {100 * level:g}% intervals"
                    for level, dominant in self.dominant_by_confidence.items()
                )
                lines.append(
                    f"Fragile: intervals at another level change the answer ({answers}). The "
                    "evidence sits near the point where the rules decide, so another model seed "
                    "or held-out split may well give another answer: check it on several before "
                    "reporting it."
                )
        if self.ties:
            against = self.table.loc[self.dominant, "overall_weight"]
            rivals = ", ".join(
                f"{name} (weight {self.table.loc[name, 'overall_weight']:.2f} over every "
                f"sample, against the dominant's {against:.2f})"
                for name in self.ties
            )
            lines.append(
                f"Also supported, and not shown to weigh less than the dominant (simultaneous "
                f"{level} intervals of the paired weight differences): {rivals}. The dominant one "
                "is the heavier by the point estimates only: report "
                + ("both." if len(self.ties) == 1 else "them all.")
            )
        heaviest = str(self.table["overall_weight"].idxmax())
        if not fusion_only and not self.table.loc[heaviest, "supported"]:
            every = (
                " over every sample, 0 where one lacks its modalities"
                if (self.table["n_usable"] < self.n_samples).any()
                else ""
            )
            lines.append(
                f"The mixture leans most on {heaviest} (mean weight "
                f"{self.table.loc[heaviest, 'overall_weight']:.2f}{every}), whose interaction "
                "is not supported here (its reason below)"
                + (
                    ": the dominant interaction is the heaviest of the supported ones, not the "
                    "heaviest overall."
                    if self.dominant is not None
                    else "."
                )
            )
        if not fusion_only:
            lines.extend(self._harmful_lines())
            lines.extend(self._unused_lines())
        if not self.names_by_construction and len(self.table) > 1:
            shuffled = any(str(name).startswith("uniqueness[") for name in self.table.index)
            lines.append(
                "Expert names are not guaranteed by this kind of mixture"
                + (
                    ": each uniqueness verdict rests on the expert with the other modalities "
                    "shuffled across samples (the reason gives that skill's lower bound where the "
                    "test reached it), not on the skill on its row, which is the expert's with "
                    "every modality."
                    if shuffled
                    else "."
                )
            )
        incomplete = (self.table["n_usable"] < self.n_samples).any()
        if incomplete:
            lines.append(
                "Some samples lack modalities: each expert is evaluated on the samples that "
                "have the modalities it needs (n)."
            )
        if self.absence is not None:
            a = self.absence
            counted = a.get("missingness_counted", True)  # reports from before the key: True
            gain = round(a["skill"], 3) - round(a["skill_without_offsets"], 3)  # as printed
            if np.isnan(gain):
                reading = "their skill is undefined (their targets do not vary)"
            elif max(round(a["skill"], 3), round(a["skill_without_offsets"], 3)) <= 0:
                reading = "with or without it their predictions are no better than chance" + (
                    f" (counting it improves them by {gain:.3f})" if gain >= ABSENCE_MARGIN else ""
                )
            elif gain >= ABSENCE_MARGIN:
                reading = (
                    "their predictions rest in part on the fact that a modality is missing"
                    if counted
                    else "the mixture's own predictions without those modalities are trusted "
                    "too much, and the move helps"
                )
            elif gain <= -ABSENCE_MARGIN:
                reading = (
                    "nothing here says the missingness is informative "
                    "(absence_offset=False leaves the offsets out)"
                    if counted
                    else "the move makes them worse"
                )
            elif gain == 0:
                reading = "the absence makes no difference to them"
            else:
                reading = (
                    f"the absence makes little difference to them (less than {ABSENCE_MARGIN})"
                )
            what = (
                "the absence itself counted (the absence offsets and the move towards the "
                "constant of what they lack, absence_shrinkage_; not an interaction)"
                if counted
                else "the move towards the constant of all the training rows counted "
                "(absence_shrinkage_; with absence_offset=False what the missingness says is "
                "not counted; not an interaction)"
            )
            lines.append(
                f"On the {a['n_samples']} samples lacking a modality, the skill is "
                f"{_signed(a['skill'])} with {what} and {_signed(a['skill_without_offsets'])} "
                f"without it (point estimates): {reading}."
            )
        pattern = self.absence_pattern
        if pattern is not None and pattern["skill_low"] > 0:
            gap = _signed_interval(
                pattern["mixture_minus"],
                pattern["mixture_minus_low"],
                pattern["mixture_minus_high"],
            )
            if pattern["mixture_minus_low"] > 0:
                reading = (
                    f"the mixture does better (by {gap}): part of its skill may rest on the "
                    "absences rather than on what the modalities hold"
                )
            elif pattern["mixture_minus_high"] < 0:
                ahead = _signed_interval(
                    -pattern["mixture_minus"],
                    -pattern["mixture_minus_high"],
                    -pattern["mixture_minus_low"],
                )
                reading = (
                    f"better than the mixture does (by {ahead}): the absences carry information "
                    "the model does not use"
                )
            else:
                reading = (
                    f"the mixture is not shown to do better (difference {gap}): its skill may "
                    "rest on the absences, in part or whole, rather than on what the modalities "
                    "hold"
                )
            lines.append(
                "Which modalities are missing predicts the target by itself: skill "
                f"{_signed_interval(pattern['skill'], pattern['skill_low'], pattern['skill_high'])}"
                " for a linear model of the absences alone "
                "(cross-fitted; against the chance level of all the samples"
                + (", not the incomplete samples' own as above" if self.absence else "")
                + f"); {reading}."
            )
        width = max(len(str(name)) for name in self.table.index)
        for name, row in self.table.iterrows():
            verdict = (
                "no interaction tested"
                if fusion_only
                else "supported"
                if row.supported
                else "not supported"
            )
            count = f"  n={row.n_usable}" if incomplete else ""
            lines.append(
                f"  {name:<{width}}  weight {row.mean_weight:.2f} [{row.weight_low:.2f}, "
                f"{row.weight_high:.2f}]  skill "
                f"{_signed_interval(row.skill, row.skill_low, row.skill_high)}{count}  "
                f"{verdict}: {row.reason}"
            )
        return "\n".join(lines)

    def _base_rate_lines(self) -> list[str]:
        """A line where these samples' rates are shown missed, at a cost to every skill.

        Where shifting the mixture's outputs by one constant per class
        (label, output) so that they average to these samples' rates, fitted
        on them, raises its skill by ``BASE_RATE_GAIN`` or more (as printed)
        and some rate's difference is beyond chance (see :attr:`base_rates`;
        the shift alone gains a little by chance on few samples); at least
        ``MIN_CLAIM_SAMPLES`` samples. For two classes the second class is
        named (the first's rate is its complement); of more, the five
        furthest in standard errors.
        """
        rates, m = self.base_rates, self.mixture
        matched = m.get("skill_rates_matched", np.nan)
        if (
            rates is None
            or self.n_samples < MIN_CLAIM_SAMPLES
            or not round(matched, 3) - round(m["skill"], 3) >= BASE_RATE_GAIN - 1e-9
        ):
            return []
        kind = rates.index.name
        tests = rates.iloc[1:] if kind == "class" and len(rates) == 2 else rates
        # at the strictest of the report's levels: the line names causes, so chance must be rare
        level = 1 - min(SENSITIVITY_FACTORS) * (1 - self.confidence)
        critical = NormalDist().inv_cdf(1 - (1 - level) / (2 * len(tests)))
        far = tests["z"].abs()
        if not (far > critical).any():
            return []
        shown = tests.loc[far.sort_values(ascending=False).index[:5]]
        if kind == "output":
            what = "mean targets"
            parts = [
                f"{name!r}: {row.observed:.4g} here, {row.predicted:.4g} predicted on average"
                for name, row in shown.iterrows()
            ]
        else:
            what = f"{kind} rates"
            parts = [
                f"{name!r}: {100 * row.observed:.1f}% of these samples, "
                f"{100 * row.predicted:.1f}% predicted on average"
                for name, row in shown.iterrows()
            ]
        more = "; ..." if len(tests) > len(shown) else ""
        fitted_to = {
            "class": "another balance of classes",
            "label": "other label rates",
            "output": "another mean target",
        }
        recorded = {
            "class": "labels recorded otherwise than these (a code that misses some cases)",
            "label": "labels recorded otherwise than these (a code that misses some cases)",
            "output": "targets measured otherwise than these",
        }
        return [
            f"Check: the mixture's predictions do not average to these samples' {what} "
            f"({'; '.join(parts)}{more}); matched to them alone (one shift of its outputs "
            f"per {kind}, fitted on these samples), its skill would be {matched:+.3f}, not "
            f"{m['skill']:+.3f}. The model was fitted to {fitted_to[kind]} or to "
            f"{recorded[kind]}, or these samples' features are shifted from the training "
            "rows' (another site, a recalibrated assay): the skills below are understated, "
            "and interactions the model uses may not be shown. Read the interactions on "
            "samples drawn and labelled as the training rows were, or on a model fitted to "
            "samples like these."
        ]

    def _harmful_lines(self) -> list[str]:
        """A line per expert whose skill is shown below chance on the samples it weighs.

        Those of ``mean_weight`` at least ``HARMFUL_WEIGHT`` (the weight on
        the samples that have its modalities, where its skill is measured:
        a modality few samples have would dilute its weight over every
        sample), both as printed.
        """
        table = self.table
        harmful = table[
            (table["mean_weight"].round(2) >= HARMFUL_WEIGHT) & (table["skill_high"].round(3) < 0)
        ]
        lines = []
        for name, row in harmful.iterrows():
            where = (
                f"on the {row.n_usable} samples that have its modalities"
                if row.n_usable < self.n_samples
                else "on these samples"
            )
            lines.append(
                f"{name} takes {row.mean_weight:.2f} of the weight {where}, though its own "
                "predictions do worse than chance on them (skill "
                f"{_signed_interval(row.skill, row.skill_low, row.skill_high)}): that part of "
                "the mixture pulls its predictions towards worse than chance. An expert fitted "
                "to noise does this, such as the uniqueness expert of a modality that few "
                "training rows have (fit warns of those), and so do samples unlike the training "
                "rows (another site, another case mix)."
            )
        return lines

    def _unused_lines(self) -> list[str]:
        """A line per expert shown to predict these samples better alone than the mixture does.

        Those scored on every sample (the mixture's samples, at least
        ``MIN_CLAIM_SAMPLES`` of them) whose skill interval lies wholly above
        the mixture's, both as printed: the weights do not make full use of
        what that expert learned. An expert's name is not evidence of what
        it learned, so the line says where its interaction is not supported.
        With several targets one weight per sample serves them all, so
        targets resting on different interactions compete for it.
        """
        table, mixture = self.table, self.mixture
        high = mixture.get("skill_high")
        if self.n_samples < MIN_CLAIM_SAMPLES or high is None or not np.isfinite(high):
            return []
        better = table[
            (table["n_usable"] == self.n_samples)
            & (table["skill_low"].round(3) > round(float(high), 3))
        ]
        lines = []
        for name, row in better.iterrows():
            lines.append(
                f"{name} alone predicts these samples better than the mixture does (skill "
                f"{_signed_interval(row.skill, row.skill_low, row.skill_high)} against "
                f"{_signed_interval(mixture['skill'], mixture['skill_low'], high)}), where it "
                f"takes {row.mean_weight:.2f} of the weight: the weights do not make full use of "
                "what it learned"
                + (
                    "."
                    if row.supported
                    else " (its interaction is not supported: its row says why)."
                )
                + (
                    f" One weight per sample serves all {self.n_targets} targets: where the "
                    "targets rest on different interactions, fit one model per target "
                    "(MultiOutputRegressor or MultiOutputClassifier over the estimator, given a "
                    "DataFrame or a SliceDict) and read a report for each."
                    if self.n_targets > 1
                    else ""
                )
            )
        return lines

    def __repr__(self) -> str:
        return self.summary()


def _targets(final: object, y: object) -> tuple[np.ndarray, str]:
    """``y``, checked by :func:`check_score_arguments`, in the form the losses need; the task."""
    y = np.asarray(y)
    if not is_classifier(final):
        return regression_targets(y).reshape(len(y), -1), "regression"
    if final._multilabel:
        return y.astype(np.float64), "multilabel"
    return np.searchsorted(np.asarray(final.classes_), y.ravel()), "classification"


def _training_rows(final: object, arrays: list[np.ndarray]) -> bool:
    """Whether ``arrays`` look like the rows the model was fitted on, warning if so.

    A model keeps each feature's mean and standard deviation over its
    training rows (``standardize``): the same statistics on the report's
    rows, to float32 precision, mean the same rows (in any order), where
    some feature takes more than ``MANY_VALUES`` distinct values (a rule of
    thumb). Features of fewer values can match on other rows with the same
    frequencies, so data whose features all take ``MANY_VALUES`` or fewer are
    never flagged; nor are a subset of the training rows, data in which a
    modality is absent from every row, or a model whose statistics cover
    part of its training rows (``early_stopping=True`` keeps its validation
    split out of them; rows of weight 0 are left out).
    """
    if not getattr(final, "standardize", False) or not hasattr(final, "_module"):
        return False  # nothing kept to compare with
    present = np.column_stack([~absent_rows(a) for a in arrays])
    if not present.any(axis=0).all():
        return False  # a modality no row has: the training rows had it somewhere
    if not any(
        _distinct_counts(a[present[:, m]]).max() > MANY_VALUES for m, a in enumerate(arrays)
    ):
        return False
    mixture = mixtures_of(final._module())[0]
    stored = [
        getattr(mixture, f"{kind}_{m}", None)
        for kind in ("loc", "scale")
        for m in range(len(arrays))
    ]
    if any(buffer is None for buffer in stored):
        return False
    locs, scales = standardization([np.asarray(a, dtype=np.float32) for a in arrays], present)
    stored = [buffer.detach().cpu().numpy().astype(np.float64) for buffer in stored]
    # float32 sums of the same rows in another order differ by a few ulps of the values,
    # whose size is the feature's spread: an absolute tolerance in the features' own units
    # matched any data in units of 1e-7 (audit helper-70 S4)
    spreads = stored[len(arrays) :]
    same = all(
        np.all(np.abs(mine.numpy() - theirs) <= 1e-6 * (np.abs(theirs) + spread))
        for mine, theirs, spread in zip([*locs, *scales], stored, [*spreads, *spreads])
    )
    if same:
        warn(
            "X looks like the data the model was fitted on: every feature's mean and standard "
            "deviation equal those of its training rows. The report's claims need samples the "
            "model did not see (a held-out split, or a cross-validation fold); on training "
            "rows the experts' skills are overstated and unsupported interactions can look "
            "supported.",
            UserWarning,
        )
    return same


def _added_unfit(
    final: object,
    targets: np.ndarray,
    task: str,
    weighted: bool,
    clusters: np.ndarray | None = None,
) -> str:
    """Why the added-up model cannot be fitted on these held-out data, in words.

    With ``clusters`` (the report's ``groups``) a class counts its groups.
    """
    if task == "multilabel":
        return "multi-label targets"
    if task != "classification":
        return f"fewer than {MIN_CLAIM_SAMPLES} held-out samples"
    counts = np.bincount(targets, minlength=len(final.classes_))
    if clusters is not None:
        present = np.flatnonzero(counts)
        counts[present] = _units(targets[:, None] == present, clusters)
    unit = "samples" if clusters is None else "groups"
    rare = [
        (label.item() if isinstance(label, np.generic) else label, int(n))
        for label, n in zip(final.classes_, counts)
        if 0 < n < CROSS_FIT_FOLDS
    ]
    if not rare:
        if (counts > 0).sum() < 2:
            return "fewer than two classes among the held-out samples"
        return (
            f"the held-out groups cannot be dealt to {CROSS_FIT_FOLDS} folds that leave every "
            "class in each fold's fit: add held-out groups of the rarer classes"
        )
    counted = " of positive weight" if weighted else ""
    needs = (
        f"the added-up model is cross-fitted in {CROSS_FIT_FOLDS} stratified folds, so it needs "
        f"{CROSS_FIT_FOLDS} held-out {unit}{counted} of every class present"
    )
    if len(rare) == 1:
        ((label, n),) = rare
        return f"{needs}; class {label!r} has {n}: add held-out {unit} of it"
    named = ", ".join(f"{label!r} ({n})" for label, n in rare[:5])
    more = f" and {len(rare) - 5} more" if len(rare) > 5 else ""
    return f"{needs}; classes {named}{more} have fewer: add held-out {unit} of them"


def _checked_groups(clusters: np.ndarray | None, order: np.ndarray) -> np.ndarray | None:
    """The group numbers in the report's row ``order``, renumbered by first appearance.

    Numbered in that order, the resamples and folds depend on which samples
    share a group, not on what the groups are called or the order the rows
    came in. Refuses fewer than ``MIN_CLAIM_SAMPLES`` groups: the bootstrap
    draws groups, and no claim rests on fewer. None for groups of one
    sample each (:func:`~sk_i2moe._groups.shared_groups`).
    """
    clusters = shared_groups(clusters)
    if clusters is None:
        return None
    codes = pd.factorize(clusters[order], sort=False)[0].astype(np.int64)
    g = int(codes.max()) + 1
    if g < MIN_CLAIM_SAMPLES:
        raise ValueError(
            f"groups holds {g} groups among the held-out samples; the report resamples whole "
            f"groups and needs at least {MIN_CLAIM_SAMPLES}: report on more groups (patients, "
            "sites), or pass groups=None if the samples are independent."
        )
    return codes


def _distinct_counts(values: np.ndarray) -> np.ndarray:
    """Distinct values of each column of ``values`` ``(n, p)`` (one sort of all columns)."""
    if len(values) == 0:
        return np.zeros(values.shape[1], dtype=int)
    ordered = np.sort(values, axis=0)
    return 1 + (np.diff(ordered, axis=0) != 0).sum(axis=0)


def _warn_absent_classes(classes: np.ndarray, targets: np.ndarray) -> None:
    """Warn that held-out targets lack classes the model was fitted with."""
    counts = np.bincount(targets, minlength=len(classes))
    absent = np.asarray(classes)[counts == 0].tolist()
    if absent:
        warn(
            f"The held-out y has no sample of classes {absent[:5]} the model was fitted with. "
            "Chance is the held-out class rates, so the probability the model gives those "
            "classes counts against its skill; evaluate on data with every class where you "
            "can.",
            UserWarning,
        )


def _absence_evidence(
    explanation: object,
    output: np.ndarray,
    targets: np.ndarray,
    task: str,
    unit: np.ndarray | float = 1.0,
    weights: np.ndarray | None = None,
    missingness_counted: bool = True,
) -> dict | None:
    """The mixture's skill on the incomplete samples with and without their absence offsets.

    ``output`` and ``targets`` are in ``unit`` (see :func:`_output_unit`);
    ``weights`` weigh the samples' losses; ``missingness_counted`` is the
    model's ``absence_offset`` (False: the terms only move towards the
    constant of all the training rows), kept in the result.
    """
    offset = explanation.absence_offset
    if offset is None:
        return None
    offset = np.asarray(offset, dtype=np.float64) / unit
    rows = np.asarray(explanation.absent).any(axis=1)
    if not np.any(offset[rows]):  # none learned (fitted on complete data), none moved
        return None
    w = None if weights is None else weights[rows]
    losses = [
        np.average(_losses(o, targets[rows], task), weights=w)
        for o in (output[rows], output[rows] - offset[rows])
    ]
    # chance on these samples: the best constant for them (their class rates, or mean)
    chance = np.average(_chance_losses(targets, task, rows, weights)[rows], weights=w)
    floor = _chance_floor(targets, task, weights)
    skills = _skill(np.asarray(losses), np.full(2, chance), floor)
    return {
        "n_samples": int(rows.sum()),
        "skill": float(skills[0]),
        "skill_without_offsets": float(skills[1]),
        "missingness_counted": missingness_counted,
    }


def _displayed_score(
    final: object,
    outputs: np.ndarray,
    y: np.ndarray,
    scoring: str | Callable | None,
    weights: np.ndarray | None,
) -> float:
    """The score column's value: NaN where a chosen metric cannot score these samples.

    The default metrics (accuracy, R^2) score any samples; a chosen one such
    as ROC-AUC raises a ``ValueError`` on samples of one class, which is not
    the caller's error here (the samples are the expert's usable ones).
    """
    try:
        return score_outputs(final, outputs, y, scoring, sample_weight=weights)
    except ValueError:
        if scoring is None:
            raise
        return float("nan")


def _prior_shift(final: object, task: str) -> np.ndarray | float:
    """What the report subtracts from a classifier's logits to undo its class weights.

    A network trained with class weights ``w_c`` predicts probabilities
    proportional to ``w_c p(c | x)``; subtracting ``log w_c`` from the logits
    gives back ``p(c | x)``, which the skills compare with the held-out class
    rates. 0 without class weights (and for a class of weight 0, which was
    not trained to be predicted at all).
    """
    weights = getattr(final, "class_weight_", None)
    if task != "classification" or weights is None:
        return 0.0
    weights = np.asarray(weights, dtype=np.float64)
    return np.log(weights, out=np.zeros_like(weights), where=weights > 0)


def _base_rate_table(
    rates: dict[str, np.ndarray], names: list, task: str, unit: np.ndarray | float
) -> pd.DataFrame:
    """:attr:`InteractionReport.base_rates` from :func:`_base_rates` (regression in target units).

    The index is named ``"class"``, ``"label"`` or ``"output"`` after the task.
    """
    scale = unit if task == "regression" else 1.0
    kind = {"classification": "class", "multilabel": "label"}.get(task, "output")
    return pd.DataFrame(
        {
            "observed": rates["observed"] * scale,
            "predicted": rates["predicted"] * scale,
            "z": rates["z"],
        },
        index=pd.Index(names, name=kind),
    )


def _output_unit(final: object, task: str) -> np.ndarray | float:
    """What the report divides outputs and targets by before scoring them.

    A regressor's training standard deviation of each output (1 for one
    constant in training); 1 for classifiers, whose losses are on
    probabilities.
    """
    if task != "regression":
        return 1.0
    return training_scale(final._y_scale)


def _unique_modality(name: str, modalities: list[str]) -> int | None:
    if name.startswith("uniqueness[") and name.endswith("]"):
        return modalities.index(name[len("uniqueness[") : -1])
    return None


def _stack(columns: list[np.ndarray], n: int, dtype: type = np.float64) -> np.ndarray:
    """The columns side by side, ``(n, len(columns))`` (``(n, 0)`` for none)."""
    return np.column_stack(columns) if columns else np.zeros((n, 0), dtype=dtype)


def _first(lows: np.ndarray | None) -> float | None:
    """The one lower bound of a one-column block, or None where the block was not measured."""
    return None if lows is None else lows[0]


def _sensitivity_levels(confidence: float, n_bootstrap: int) -> list[float]:
    """The other levels the dominant interaction is decided at (``SENSITIVITY_FACTORS``).

    Only levels in (0, 1) whose interval ends ``n_bootstrap`` resamples can
    estimate: each tail holds at least ``MIN_TAIL_RESAMPLES`` of them.
    """
    return [level for level in _other_levels(confidence) if not _too_few(level, n_bootstrap)]


def _other_levels(confidence: float) -> list[float]:
    """The levels in (0, 1) that ``SENSITIVITY_FACTORS`` make of ``confidence``."""
    levels = [round(1 - f * (1 - confidence), 10) for f in SENSITIVITY_FACTORS]
    return [level for level in levels if 0 < level < 1]


def _too_few(level: float, n_bootstrap: int) -> bool:
    """Whether each tail of a ``level`` interval holds fewer than ``MIN_TAIL_RESAMPLES``."""
    return n_bootstrap < _resamples_needed(level)


def _resamples_needed(level: float) -> int:
    """The fewest resamples whose ``level`` intervals have ``MIN_TAIL_RESAMPLES`` per tail."""
    return int(np.ceil(round(2 * MIN_TAIL_RESAMPLES / (1 - level), 6)))


def _too_few_line(confidence: float, n_bootstrap: int, checked: bool) -> list[str]:
    """The summary's line on too few resamples (none when there are enough).

    ``checked``: whether the answer was also decided at another level. The
    number of resamples it asks for places the ends and, where no other
    level was checked, lets the first that can be checked be.
    """
    if not _too_few(confidence, n_bootstrap):
        return []
    needed = _resamples_needed(confidence)
    if not checked:
        needed = max(needed, min(map(_resamples_needed, _other_levels(confidence)), default=0))
    return [
        f"Too few resamples: fewer than {MIN_TAIL_RESAMPLES} lie beyond each end of the "
        f"{100 * confidence:g}% intervals, so their ends are rough"
        + ("" if checked else " and no other interval level checks the answer")
        + f"; pass n_bootstrap={needed} or more."
    ]


def _dominant(table: pd.DataFrame) -> str | None:
    """The supported expert with the largest overall weight; None when none is supported.

    The evidence decides which interactions are supported; among those, the
    weights say which one the predictions lean on most: the mean weight over
    every sample (``overall_weight``), not over the samples that can use the
    expert, so that an expert of a modality few samples have does not win
    on its weight where it is usable. An expert the
    mixture leans on more whose interaction the evidence does not back
    (:meth:`InteractionReport.summary` names it) does not hide one it does.
    """
    supported = table.loc[table["supported"], "overall_weight"]
    return str(supported.idxmax()) if len(supported) else None


def _ties(
    table: pd.DataFrame, dominant: str | None, overall_draws: np.ndarray, confidence: float
) -> tuple[str, ...]:
    """The other supported experts whose overall weight is not shown to be below the dominant's.

    ``overall_draws`` ``(B, E)``: each resample's mean weights over every sample
    (the model's: an ensemble's mean over its members). The difference of the
    dominant's weight and another's is taken within each resample (paired: the
    weights of one sample move together, and they sum to 1); where the lower
    end of its interval is not above 0, the resamples do not separate them.
    The ends hold for all the differences at once (Bonferroni: each interval at
    level ``1 - (1 - confidence) / k`` for ``k`` differences, since a max-type
    bound would widen a near-constant difference by a noisy one's spread), so
    that naming none says the dominant outweighs every other supported expert
    at the ``confidence`` level.
    """
    if dominant is None:
        return ()
    d = table.index.get_loc(dominant)
    others = [k for k in np.flatnonzero(table["supported"].to_numpy()) if k != d]
    if not others:
        return ()
    level = 1 - (1 - confidence) / len(others)
    low, _ = _interval(overall_draws[:, [d]] - overall_draws[:, others], level)
    return tuple(str(table.index[k]) for k, lo in zip(others, low) if not lo > 0)


def _shuffled_others(
    final: object, arrays: list[np.ndarray], m: int, e: int, rng: np.random.Generator
) -> np.ndarray:
    """Expert ``e``'s outputs with every modality but ``m`` shuffled across the samples.

    In the paper's mixture every expert sees every modality; this is the
    uniqueness expert of ``m`` on ``m`` alone (and its name check).
    """
    order = rng.permutation(arrays[0].shape[0])
    shuffled = [a if k == m else a[order] for k, a in enumerate(arrays)]
    return final._explain_arrays(shuffled).expert_outputs[:, e].astype(np.float64)


def _enough(masks: np.ndarray, clusters: np.ndarray | None = None) -> np.ndarray:
    """``masks`` ``(n, k)`` with every column of fewer than ``MIN_CLAIM_SAMPLES`` samples emptied.

    A comparison of two experts (or of an expert with a surrogate) is made on
    the samples both can score; on fewer than a claim needs (one or two
    samples, where a modality is rare) its interval would rest on them
    alone, so it counts as not made. With ``clusters`` (the report's
    ``groups``) a column counts its groups: the bootstrap resamples groups,
    and the samples of one group leave a mean over them unchanged.
    """
    return masks & (_units(masks, clusters) >= MIN_CLAIM_SAMPLES)


def _signed(value: float) -> str:
    """``value`` to three decimals with its sign (``+0.250``), or ``nan``."""
    return "nan" if np.isnan(value) else f"{value:+.3f}"


def _signed_interval(value: float, low: float, high: float) -> str:
    """``"+0.250 [-0.100, +0.400]"``: an estimate and its interval, signed."""
    return f"{_signed(value)} [{_signed(low)}, {_signed(high)}]"


def _listed(names: list[str], word: str = "or") -> str:
    """``"'a'"``, ``"'a' or 'b'"``, ``"'a', 'b' or 'c'"`` (``word`` between the last two)."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {word} {names[-1]}"


class _Blocks:
    """Named blocks of per-sample columns, each with the mask of the samples it is averaged over.

    :meth:`bootstrap` resamples them all together (paired: every block's mean
    is over the same resamples of the samples).
    """

    def __init__(self) -> None:
        self._blocks: list[tuple[str, np.ndarray, np.ndarray]] = []

    def add(self, name: str, values: np.ndarray, mask: np.ndarray) -> None:
        """Add ``values`` ``(n,)`` or ``(n, k)`` with a mask of the same or one-column shape."""
        values = values.reshape(len(values), -1)
        mask = np.broadcast_to(mask.reshape(len(mask), -1), values.shape)
        self._blocks.append((name, values, mask))

    def bootstrap(
        self,
        n_bootstrap: int,
        rng: np.random.Generator,
        clusters: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Each block's column means over the resamples, ``(n_bootstrap, k)``, by name.

        ``clusters``: groups of samples resampled together; ``weights``: the
        samples' weights in each mean (:func:`_bootstrap_means`).
        """
        draws = _bootstrap_means(
            np.hstack([v for _, v, _ in self._blocks]),
            np.hstack([m for _, _, m in self._blocks]),
            n_bootstrap,
            rng,
            clusters,
            weights,
        )
        out, start = {}, 0
        for name, values, _ in self._blocks:
            out[name] = draws[:, start : start + values.shape[1]]
            start += values.shape[1]
        return out


@dataclass
class _Evidence:
    """The ends of the report's intervals, and the rule per kind of expert.

    ``*_low`` are lower interval ends: ``skill_low`` per expert (the mixture
    last), ``alone_low`` each modality's skill on its own (by uniqueness
    expert), ``pair_low[(e, k)]`` how much ``e``'s modality beats ``k``'s
    alone, ``margin_low[k]`` / ``pooled_low`` / ``added_low`` how much the
    synergy expert beats single-modality predictor ``k`` (every one,
    ``rival`` the best) / the redundancy expert / the predictions added up,
    and ``swap_low`` per modality what made-additive copies of it lose beyond
    ``JOINT_SHARE`` (lower ends that hold for every modality at once), and
    ``probe_low[e]`` the skill of a linear model of ``e``'s modality's own
    features (lower ends that hold for every modality at once).
    ``others_low[e]`` and ``others_high[e]`` are both ends of how much the
    modalities added up beat ``e``'s own by more than ``ADDED_SHARE``, and ``agree_draws``
    the resampled agreement beyond the label of the modality pairs
    ``agree_pairs`` (one column each). None (or empty) where a quantity was
    not measured.
    ``undefined`` marks, per expert (the mixture last), a skill that cannot
    be measured: the samples it is scored on all have the same target.
    ``added_unfit`` says in words why the added-up model cannot be fitted
    on these samples, for the reasons that need it (the report names the
    rare classes; the default, the general rule, serves evidence built by
    hand). ``clusters`` are the report's ``groups`` (None: every sample its
    own): the rules' minimum numbers count groups then.
    """

    names: list[str]
    modalities: list[str]
    unique: list[int]
    synergy: int | None
    redundancy: int | None
    rival: int | None
    by_construction: bool
    usable: np.ndarray
    undefined: np.ndarray
    skill_low: np.ndarray
    alone_low: dict[int, float]
    pair_low: dict[tuple[int, int], float]
    others_low: dict[int, float]
    others_high: dict[int, float]
    margin_low: dict[int, float]
    pooled_low: float | None
    added_low: float | None
    swap_low: np.ndarray | None
    probe_low: dict[int, float]
    agree_pairs: list[tuple[int, int]]
    agree_draws: np.ndarray
    confidence: float
    added_unfit: str = "multi-label targets, or fewer than five samples of a class"
    clusters: np.ndarray | None = None

    @property
    def units(self) -> str:
        """What the rules' minimum numbers count: held-out samples, or their groups."""
        return "held-out samples" if self.clusters is None else "held-out groups"

    def count(self, mask: np.ndarray) -> int:
        """The samples ``mask`` ``(n,)`` keeps, or with ``clusters`` their groups."""
        return int(_units(mask.reshape(-1, 1), self.clusters)[0])

    def label(self, e: int) -> str:
        """The quoted modality name of uniqueness expert ``e``."""
        return repr(self.modalities[_unique_modality(self.names[e], self.modalities)])

    def name_check(self, e: int) -> bool | None:
        """Whether a uniqueness expert that sees every modality predicts from its own alone."""
        if self.by_construction or e not in self.unique:
            return None
        return bool(self.alone_low[e] > 0)

    def verdict(self, e: int) -> tuple[bool, str]:
        """``(supported, reason)`` for expert ``e``."""
        if not self.usable[:, e].any():
            return False, "no held-out sample has the modalities it needs"
        n_total = self.count(np.ones(len(self.usable), dtype=bool))
        n_usable = self.count(self.usable[:, e])
        if min(n_total, n_usable) < MIN_CLAIM_SAMPLES:
            what = (
                self.units if n_total < MIN_CLAIM_SAMPLES else f"{self.units} have its modalities"
            )
            return False, (
                f"only {min(n_total, n_usable)} {what}; a claim needs at least {MIN_CLAIM_SAMPLES}"
            )
        if self.undefined[-1]:
            return False, (
                "every held-out sample has the same target, so there is no chance level to "
                "beat; evaluate on data with more than one class or value"
            )
        if not self.skill_low[-1] > 0:
            return False, "the mixture is not shown to be better than chance on these data"
        if self.undefined[e]:
            return False, (
                "the held-out samples that have its modalities all have the same target: "
                "its skill there is undefined"
            )
        if e in self.unique:
            ok, why = self._uniqueness(e)
            if not self.by_construction and self.alone_low[e] > 0:
                why += (
                    " (alone: with the other modalities shuffled, skill lower bound "
                    f"{self.alone_low[e]:+.3f})"
                )
            return ok, why
        if self.skill_low[e] <= 0:
            return False, "not shown to be better than chance when predicting alone"
        if e == self.synergy:
            return self._synergy()
        if e == self.redundancy:
            return self._redundancy()
        return True, "the mixture predicts better than chance"  # vanilla fusion's single expert

    def _uniqueness(self, e: int) -> tuple[bool, str]:
        name = self.label(e)
        if not self.alone_low[e] > 0:
            check = (
                ""
                if self.by_construction
                else f" with the other modalities shuffled (lower bound {self.alone_low[e]:+.3f})"
            )
            probe = self.probe_low.get(e, np.nan)
            linear = (
                f"; a linear model of its own features is (skill lower end {probe:+.3f}): its "
                "expert is not shown to predict what a linear model finds in it"
                if probe > 0
                else ""
            )
            return False, f"{name} alone is not shown to be better than chance{check}{linear}"
        others = [k for k in self.unique if k != e]
        unmeasured = [k for k in others if np.isnan(self.pair_low[(e, k)])]
        if unmeasured:
            return False, (
                f"{name} alone predicts, but fewer than {MIN_CLAIM_SAMPLES} {self.units} "
                f"have both it and {', '.join(self.label(k) for k in unmeasured)} to compare "
                "them on"
            )
        beaten = [k for k in others if not self.pair_low[(e, k)] > 0]
        if beaten:
            listed = ", ".join(self.label(k) for k in beaten)
            return False, (
                f"{name} alone predicts, but is not shown to be better than {listed} alone "
                "(the lower end of the paired difference's interval is not above 0; it may be "
                f"worse): the data do not show that the target rests on {name} more than on "
                + _listed([self.label(k) for k in beaten], "and")
            )
        if others and np.isnan(self.others_high.get(e, np.nan)):
            return False, (
                f"{name} alone predicts better than chance and than the others, but whether "
                "the others added up improve on it cannot be checked on these held-out data "
                f"({self.added_unfit})"
            )
        if self.others_low.get(e, 0.0) > 0:
            return False, (
                f"{name} alone predicts better than the others, but adding up what the other "
                "modalities predict on their own improves on it by more than a twentieth of "
                f"its skill: the target does not rest on {name} alone"
            )
        if others and not self.others_high[e] < 0:
            return False, (
                f"{name} alone predicts better than the others, but these held-out data do "
                "not show that adding up what the other modalities predict on their own "
                f"improves on it by less than a twentieth of its skill: the target may rest on "
                f"more than {name}"
            )
        if not others:
            return True, f"{name}, the only modality, predicts better than chance"
        partners = [b if a == e else a for a, b in self._sharing()[0] if e in (a, b)]
        if partners:
            # a cleaner or more learnable copy of what another modality holds beats it alone
            # and gains little from it: the redundancy test tells the two cases apart
            return False, (
                f"{name} alone predicts better than the others, and they add little to it, but "
                f"it predicts alike with {', '.join(self.label(k) for k in partners)} more than "
                "the label explains (the redundancy rule's test of sharing): part of what it "
                "carries is shared, and the report does not call it unique"
            )
        unlearnt = self._unlearnt(others)
        if unlearnt:
            many = len(unlearnt) > 1
            listed = _listed([self.label(k) for k in unlearnt], "and")
            lows = ", ".join(f"{self.label(k)} {self.probe_low[k]:+.3f}" for k in unlearnt)
            return False, (
                f"{name} alone predicts better than the others, and their experts add little to "
                f"it, but a linear model of the features of {listed} alone, cross-fitted on "
                f"these samples, is shown to predict (skill lower end{'s' if many else ''} "
                f"{lows}) where {'their experts are' if many else 'its expert is'} not: the "
                f"comparisons rest on {'experts' if many else 'an expert'} that may have missed "
                f"what {listed} hold{'' if many else 's'}, and the report does not call {name} "
                "unique (a model whose expert learns what the linear model finds may settle it)"
            )
        return True, (
            f"{name} alone predicts better than chance and than the others, and the others "
            "add little to it"
        )

    def _synergy(self) -> tuple[bool, str]:
        if self.rival is None:
            return False, "no single-modality predictor to compare with"
        rival = self.names[self.rival]
        unmeasured = [self.names[k] for k, margin in self.margin_low.items() if np.isnan(margin)]
        if unmeasured:
            return False, (
                f"fewer than {MIN_CLAIM_SAMPLES} {self.units} can be scored by both it and "
                f"{', '.join(unmeasured)} to compare them on"
            )
        unbeaten_by = [k for k, margin in self.margin_low.items() if not margin > 0]
        unbeaten = [self.names[k] for k in unbeaten_by]
        # experts="synergy_redundancy": the redundancy expert stands in for the single modalities
        uncompared = (
            "this mixture has no single-modality experts: single modalities and their sum are "
            "not compared"
        )
        if not self.unique:
            if unbeaten:
                return False, f"not shown to be better than the redundancy expert ({uncompared})"
            beats = "beats the redundancy expert"
        else:
            if unbeaten:
                return False, (
                    "not shown to be better than the single-modality predictor"
                    + ("s " if len(unbeaten) > 1 else " ")
                    + _listed(unbeaten)
                    + self._compared_on(unbeaten_by)
                )
            beats = "beats every single modality"
        if self.pooled_low is not None and not self.pooled_low > 0:
            return False, (
                "beats every single modality but is not shown to beat the redundancy expert: "
                "pooling the modalities may explain the gain"
            )
        if self.added_low is None and len(self.unique) >= 2:
            # the rival applies (single-modality experts to add up) but could not be fitted
            return False, (
                "beats every single modality, but whether their predictions added up explain "
                f"the gain cannot be checked on these held-out data ({self.added_unfit})"
            )
        if self.added_low is not None and not self.added_low > 0:
            return False, (
                "beats every single modality but is not shown to beat their predictions added "
                "up: what the modalities tell may add up, and joint information is not shown"
            )
        if self.swap_low is not None and not (self.swap_low > 0).any():
            unmade = np.isnan(self.swap_low)
            too_few = (
                f"{MIN_CLAIM_SAMPLES} {self.units} that have it, among those both the "
                f"synergy expert and {rival} can score, have a partner with the same modalities "
                + (
                    "to swap it with"
                    if self.clusters is None
                    else "in another group to swap it with"
                )
            )
            if unmade.all():
                return False, (
                    f"{beats}, but whether it only adds the modalities up "
                    "cannot be checked: for no modality do at least " + too_few
                )
            tested = [repr(m) for m, skip in zip(self.modalities, unmade) if not skip]
            untested = [repr(m) for m, skip in zip(self.modalities, unmade) if skip]
            return False, (
                f"{beats}, but is not shown to lose more than half of that "
                f"gain when made additive across {_listed(tested)} (swapping that modality "
                "between paired samples): it may mostly add the modalities up"
                + (f"; for {_listed(untested)}, fewer than " + too_few if untested else "")
            )
        if not self.unique:
            return True, (
                f"{beats}, and loses more than half of that gain when made additive across a "
                f"modality ({uncompared})"
            )
        return True, f"beats every single-modality predictor (the best: {rival})"

    def _unlearnt(self, experts: list[int]) -> list[int]:
        """Uniqueness experts not shown to predict whose modality's linear model is."""
        return [
            k for k in experts if self.probe_low.get(k, np.nan) > 0 and not self.alone_low[k] > 0
        ]

    def _compared_on(self, rivals: list[int]) -> str:
        """Where synergy was compared with ``rivals`` on samples its printed skills are not over."""
        own = self.usable[:, self.synergy]
        both = [int((own & self.usable[:, k]).sum()) for k in rivals]
        theirs = [int(self.usable[:, k].sum()) for k in rivals]
        if all(count == own.sum() for count in both + theirs):
            return ""
        counts = _listed([str(count) for count in both], "and")
        who = "both" if len(both) == 1 else "it and each of them"
        return (
            f" (compared on the {counts} samples that {who} can score; the skills printed are "
            f"over the synergy expert's {int(own.sum())} and "
            + _listed([str(count) for count in theirs], "and")
            + ")"
        )

    def _sharing(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The pairs of modalities shown to share information, and those not measured.

        Pairs of modalities that each predict on their own, whose agreement
        beyond the label has a lower end above 0 that holds for all such pairs
        at once ("some pair shares" is then no likelier by chance with more
        modalities); NaN ends are the pairs seen together too rarely.
        """
        informative = [e for e in self.unique if self.alone_low[e] > 0]
        tested = [
            i for i, (a, b) in enumerate(self.agree_pairs) if a in informative and b in informative
        ]
        if len(informative) < 2 or not tested:
            return [], []
        lows = _simultaneous_low(self.agree_draws[:, tested], self.confidence)
        sharing = [self.agree_pairs[i] for i, low in zip(tested, lows) if low > 0]
        unmeasured = [self.agree_pairs[i] for i, low in zip(tested, lows) if np.isnan(low)]
        return sharing, unmeasured

    def _redundancy(self) -> tuple[bool, str]:
        if not self.unique:
            # the sharing the rule rests on is measured between single-modality experts
            return False, (
                "better than chance, but the mixture has no single-modality experts "
                "(experts='synergy_redundancy') to show that modalities share information; "
                "fit with experts='all' to test it"
            )
        if sum(self.alone_low[e] > 0 for e in self.unique) < 2:
            missed = [self.label(k) for k in self._unlearnt(self.unique)]
            experts = "their experts are" if len(missed) > 1 else "its expert is"
            return False, "fewer than two modalities are shown to predict on their own" + (
                f" (by their experts; a linear model of the features of {_listed(missed, 'and')} "
                f"is shown to predict, where {experts} not: the sharing of information is not "
                "tested on them)"
                if missed
                else ""
            )
        sharing, unmeasured = self._sharing()
        if not sharing:
            if unmeasured:
                listed = ", ".join(f"{self.label(a)} and {self.label(b)}" for a, b in unmeasured)
                return False, (
                    "several modalities predict on their own, but no two are shown to predict "
                    f"alike more than the label explains, and {listed} are seen together on "
                    f"fewer than {MIN_CLAIM_SAMPLES} {self.units} to compare them"
                )
            return False, (
                "several modalities predict on their own, but no two are shown to predict "
                "alike more than the label explains"
            )
        shared = ", ".join(f"{self.label(a)} and {self.label(b)}" for a, b in sharing)
        return True, (
            f"several modalities predict on their own, and {shared} predict alike more than "
            "the label explains: they share information"
        )


def interaction_report(
    estimator: object,
    X: object,
    y: object,
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    random_state: int | np.random.Generator | np.random.RandomState | None = 0,
    sample_weight: object = None,
    scoring: str | Callable | None = None,
    groups: object = None,
) -> InteractionReport:
    """Which interaction the held-out data support, with uncertainty.

    Pass data the estimator was **not** trained on (a test split, or the
    held-out fold of a cross-validation): a model can fit any interaction
    to its training data, shuffled labels included.

    What ``supported`` means, in plain words (``low`` is the lower end of
    an interval):

    - the **mixture** must predict better than chance on the held-out data
      (its skill's ``low`` > 0); if it does not, no interaction is
      supported and ``dominant`` is None;
    - **uniqueness[m]**: modality ``m`` on its own predicts better than
      chance (skill ``low`` > 0) **and** better than every other modality on
      its own (the ``low`` of each paired loss difference > 0): in this
      model, ``m`` carries predictive information the other modalities'
      experts did not recover; **and** the others add little to it:
      the single-modality predictions added up (the cross-fitted linear
      model below) beat the same model on ``m``'s prediction alone by less
      than ``ADDED_SHARE`` (a twentieth) of that model's gain over chance,
      over the whole interval (its *upper* end < 0: held-out data too few
      to show it support no uniqueness claim); **and** the redundancy rule's
      test of sharing (below) does not show ``m`` predicting alike with
      another modality more than the label explains (a cleaner copy of what
      another also holds beats it alone and gains little from it; this
      holds even where the redundancy expert itself is not supported); **and**
      no other modality whose expert is not shown to predict on its own
      (skill ``low`` <= 0) is shown to predict from its own features by a
      linear model (ridge regression onto the one-hot classes or the target,
      its penalty chosen by generalised cross-validation, cross-fitted on the
      held-out samples; its skill's ``low``, holding for every modality at
      once, > 0): the comparisons above rest on the other experts having
      learned what their modalities carry. The linear model tests what a
      modality predicts on its own, not what it adds to ``m``. Where the
      modalities inform the target separately, the strongest one beats each
      other alone, but the target rests on all of them, not on it. "On its
      own" is the uniqueness expert, which sees only ``m`` in the
      structured mixture; in the paper's mixture, whose experts see every
      modality, it is the uniqueness expert with every other modality
      shuffled across samples (``name_check`` says whether that expert still
      predicts);
    - **synergy**: the expert predicts better than chance, better than
      every single modality on its own (each on the samples that have it),
      better than the redundancy expert and
      better than the single-modality predictions added up (a linear model
      on them, cross-fitted on the held-out samples; the ``low`` of each
      paired difference of losses > 0): the model's joint prediction beats
      its single-modality predictions, their pooling (which also averages
      their noise away) and a linear sum of them; **and** the expert's own
      prediction needs the
      modalities jointly: made additive across some modality (swapping that
      modality between paired samples, which leaves a sum unchanged), it
      loses more than ``JOINT_SHARE`` (one half) of its gain over the best
      single modality (``low`` > 0, with lower ends that hold for every
      modality at once). Where the added-up rival cannot be fitted
      (multi-label targets, a class with fewer than five held-out samples)
      synergy is not supported, as uniqueness is not. A backbone that sees which modalities
      are present can learn a sum of their effects; this is what tells it;
    - **redundancy**: the expert predicts better than chance, at least two
      modalities predict on their own, and for at least one pair of those
      their single-modality predictions (predicted probabilities, label rates
      or outputs) agree across the samples more than their errors do once the
      label is known (the ``low`` of their correlation minus the absolute
      correlation of what a least-squares fit on the label leaves of them
      > 0, with lower ends that hold for every such pair at once, so that
      more modalities do not make a chance claim likelier): the two
      modalities' predictions share information about the target (for
      jointly Gaussian, positively correlated predictions: positive
      co-information, together they tell less than the sum of what each
      tells). Modalities that inform
      the target separately predict independently of each other, and given
      the label one explains the other away (their errors are opposed);
    - **fusion** (vanilla fusion's single expert): the mixture's verdict.

    "Supported" is a statement about the fitted model's experts on these
    held-out samples: it speaks about the data only as far as the experts
    learned what the data hold, and "not supported" means "not shown", not
    "absent".

    A classifier fitted with ``class_weight`` predicts probabilities tilted
    towards the heavier classes; the skills are computed with the tilt
    undone (``log class_weight_`` subtracted from every logit), so that
    they compare the model with the held-out class rates as they are.

    ``dominant`` is, of the supported experts, the one with the largest
    ``overall_weight`` (the mean weight over every held-out sample, 0 where a
    sample lacks the expert's modalities; ``mean_weight`` on complete data):
    the one the predictions lean on most; None when no expert is supported.
    Where the mixture leans more on an expert whose interaction is not
    supported, :meth:`InteractionReport.summary` says so.

    Parameters
    ----------
    estimator : I2MoEClassifier, I2MoERegressor or Pipeline ending in one
        Fitted; a fitted search (``GridSearchCV``, ...) stands for its
        ``best_estimator_``.
    X : mapping, DataFrame or array-like
        Held-out input, in the form the estimator (or pipeline) takes.
    y : array-like
        Held-out targets.
    confidence : float, default=0.95
        Level of the bootstrap intervals.
    n_bootstrap : int, default=1000
        Bootstrap resamples of the held-out samples.
    random_state : int, Generator, RandomState instance or None, default=0
        Passed to :func:`numpy.random.default_rng`: a ``Generator``'s or a
        ``RandomState``'s stream is used and advanced, None draws fresh
        entropy. Seeds the resamples, the shuffles of the name check, the
        folds that cross-fit the added-up predictions and the linear model of
        each modality's features, the pairing of samples in the
        synergy expert's swap test and the ensemble member each resample
        takes. The folds and the pairing are not resampled, so where the
        evidence sits near a rule's boundary the verdict can change with
        the seed (not with the order of the rows: they are sorted by what
        they hold before anything is drawn); a claim that matters is worth
        checking on a few seeds (the summary calls an answer fragile where
        other interval levels change it).
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the held-out samples (e.g. survey or inverse-probability
        weights). Every mean, chance level and score is weighted, so that the
        table's estimates for an integer weight are those of the sample
        repeated; the cross-fitted rivals and the linear models of each
        modality's features are fitted with the weights; the
        bootstrap, the folds, the swap test's pairs and the name check's
        shuffles draw the samples themselves, so the intervals reflect how
        many samples there are, not the weights' sum. A sample of weight 0 is
        left out, as if it were not given; ``n_samples`` and ``n_usable``
        count the samples of positive weight, and so do the rules' minimum
        numbers of samples.
    scoring : str, callable or None, default=None
        The metric of the ``score`` column and of the mixture's score in the
        summary (e.g. ``"roc_auc"``, or a callable ``scorer(estimator, X,
        y)``); None is the estimator's own, accuracy or R^2. Only what is
        displayed: the skills and the verdicts rest on the Brier score or
        squared error whatever it is. An expert whose samples the metric
        cannot score (e.g. ROC-AUC where they hold one class) gets NaN.
    groups : array-like of shape (n_samples,), default=None
        A label per held-out sample naming the group it belongs to, where
        samples are not independent: the visits of one patient, the
        patients of one hospital, the slides of one biopsy (as for
        scikit-learn's ``GroupKFold``). The bootstrap then resamples whole
        groups; the cross-fitted linear models keep each group in one fold
        (and the linear model of each modality's features chooses its
        penalty on folds of groups too); the swap test pairs samples of two
        different groups (as many as both have with the same modalities:
        groups of very different sizes leave many samples unpaired) and
        resamples both groups together; the rules' minimum numbers
        (``MIN_CLAIM_SAMPLES``, 10) count groups, so that no claim rests on
        a modality seen in fewer groups; and the base-rate check's standard
        errors allow for a group's samples moving together. The intervals
        then are those of as many independent samples as there are groups:
        with few groups (tens), like those of few samples, narrower than
        their level. Without ``groups`` every sample counts as independent,
        and the intervals of samples that repeat a patient are too narrow.
        Labels of any hashable kind, not missing (labels that compare equal,
        ``1`` and ``1.0``, are one group); how they are named and ordered
        does not matter. Needs at least 10 groups. Groups of one sample each
        are the same as None.

    Returns
    -------
    InteractionReport
        ``.table``, ``.dominant``, ``.dominant_by_confidence`` (the answer
        with narrower and wider intervals from the same resamples: where it
        changes, the summary calls it fragile), ``.ties`` (other supported
        experts not shown to weigh less than the dominant one),
        ``.summary()``.

    Raises
    ------
    TypeError
        If ``estimator`` is not an I2MoE estimator, a Pipeline ending in one
        or a fitted search over one, ``n_bootstrap`` is not an integer or
        ``confidence`` not a number.
    ValueError
        For fewer than 2 held-out samples (of positive weight, with
        ``sample_weight``), mismatched lengths, labels the estimator does not
        know, a pandas ``y`` whose row labels are ``X``'s in another order or
        whose columns put a fitted output name (``target_names_``) at another
        position, a pandas ``sample_weight`` or ``groups`` whose row labels
        are ``X``'s in another order, ``groups`` not one label per sample,
        with a missing label or fewer than 10 groups, ``confidence`` outside
        (0, 1) or ``n_bootstrap`` below 10.

    Warns
    -----
    UserWarning
        When ``X`` looks like the model's training rows
        (``InteractionReport.training_rows``), when ``n_bootstrap`` leaves
        fewer than five resamples beyond each end of the intervals, and when
        the held-out ``y`` lacks classes the model was fitted with.

    Notes
    -----
    The estimator is not refitted. Beyond one prediction pass, most of the
    time goes to the added-up rival: ``1 + M`` cross-validated (five folds)
    linear models on the held-out samples, for ``M`` modalities. For a
    classifier of ``C`` classes they are multinomial logistic regressions
    (on ``M x C`` features for the joint one, ``C`` for each modality's),
    whose time grows with the square of ``C``. The linear model of each
    modality's features (five ridge regressions per modality) costs little
    on narrow modalities and grows with a modality's width, up to
    ``PROBE_COMPONENTS`` (256) principal components; the interpretation
    guide gives measured times.

    Examples
    --------
    >>> from sk_i2moe import I2MoEClassifier
    >>> from sk_i2moe.datasets import make_interaction_classification
    >>> from sk_i2moe.inspection import interaction_report
    >>> X, y, _ = make_interaction_classification("redundancy", n_samples=300, random_state=0)
    >>> clf = I2MoEClassifier(max_epochs=3, hidden_dim=8, random_state=0)
    >>> clf = clf.fit({k: v[:200] for k, v in X.items()}, y[:200])
    >>> report = interaction_report(clf, {k: v[200:] for k, v in X.items()}, y[200:])
    >>> report.table.columns.tolist()[:4]
    ['mean_weight', 'weight_low', 'weight_high', 'score']
    >>> print(report.summary().splitlines()[0])  # doctest: +ELLIPSIS
    Interaction report for I2MoEClassifier on 100 held-out samples (95% bootstrap intervals, ...).
    """
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise TypeError(f"confidence must be a number in (0, 1); got {confidence!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
    confidence = float(confidence)  # e.g. a Fraction, as a float
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, numbers.Integral):
        raise TypeError(f"n_bootstrap must be an integer; got {n_bootstrap!r}.")
    if n_bootstrap < 10:
        raise ValueError(f"n_bootstrap must be at least 10; got {n_bootstrap}.")
    if _too_few(confidence, n_bootstrap):
        warn(
            f"n_bootstrap={n_bootstrap} leaves fewer than {MIN_TAIL_RESAMPLES} resamples beyond "
            f"each end of the {100 * confidence:g}% intervals, too few to place them; pass "
            f"n_bootstrap={_resamples_needed(confidence)} or more.",
            UserWarning,
        )
    final, Xt = final_estimator(estimator, X)
    arrays = list(final._input_spec.transform(Xt).values())
    n = arrays[0].shape[0]
    if n < 2:
        raise ValueError(f"interaction_report needs at least 2 held-out samples; got {n}.")
    if y is None:
        raise TypeError("y is required: the held-out targets of X.")
    if sp.issparse(y):  # a multi-label indicator matrix: dense, as every use below reads it
        y = y.toarray()
    w = check_score_arguments(final, y, scoring, sample_weight, n, row_labels(X))
    clusters = group_numbers(groups, n, row_labels(X), "held-out")
    n_weight_zero = 0
    targets, task = _targets(final, y)
    if w is not None:  # a sample of weight 0 is not given
        given = w > 0
        if given.sum() < 2:
            raise ValueError(
                "interaction_report needs at least 2 held-out samples of positive weight; got "
                f"{int(given.sum())}."
            )
        n_weight_zero = int((~given).sum())
        arrays, targets, y = [a[given] for a in arrays], targets[given], np.asarray(y)[given]
        n, w = int(given.sum()), w[given]
        clusters = None if clusters is None else clusters[given]
    # the rows in an order of their own, so that the resamples, folds and pairs drawn by
    # position (and so the verdict, to the last bit) are the same whatever order the rows
    # are given in
    order = _content_order([*arrays, targets] + ([] if w is None else [w]))
    arrays, targets, y = [a[order] for a in arrays], targets[order], np.asarray(y)[order]
    clusters = _checked_groups(clusters, order)
    n_groups = None if clusters is None else int(clusters.max()) + 1
    if w is not None:
        w = w[order] / w.max()  # then / mean: no overflow of the sum near 1e308
        w = w / w.mean()
    if task == "classification":
        _warn_absent_classes(final.classes_, targets)
    training_rows = _training_rows(final, arrays)
    explanation = final._explain_arrays(arrays)
    names = list(explanation.expert_names)
    # the losses below in units of each output's training standard deviation (regression), so
    # that every output of a multi-output target counts alike whatever its units (the model
    # trains on standardised targets); the estimator's own metric stays in the target's units
    # (and a classifier's logits without the tilt its class weights gave them)
    unit, shift = _output_unit(final, task), _prior_shift(final, task)
    raw_outputs = np.asarray(explanation.expert_outputs, dtype=np.float64)
    outputs = raw_outputs / unit - shift
    raw_mixture = np.asarray(explanation.output, dtype=np.float64)
    mixture_output = raw_mixture / unit - shift
    targets = targets / unit if task == "regression" else targets
    weights = np.asarray(explanation.weights, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    modalities = list(final.modalities_)
    by_construction = bool(getattr(final.net_.module_, "names_by_construction", True))
    n_e = len(names)
    # the samples each expert could be used on (all, unless modalities are absent)
    usable = np.ones((n, n_e), dtype=bool) if explanation.usable is None else explanation.usable

    losses = np.column_stack(
        [_losses(outputs[:, e], targets, task) for e in range(n_e)]
        + [_losses(mixture_output, targets, task)]
    )  # [n, E + 1], the mixture last
    loss_mask = np.column_stack([usable, np.ones(n, dtype=bool)])
    chance = _chance_losses(targets, task, weights=w)
    unique = [e for e, name in enumerate(names) if _unique_modality(name, modalities) is not None]
    # each modality on its own: its uniqueness expert (with every other modality shuffled
    # across samples where the kind of mixture does not keep the expert from seeing them)
    alone, alone_out = {}, {}
    for e in unique:
        if by_construction:
            alone[e], alone_out[e] = losses[:, e], outputs[:, e]
        else:
            alone_out[e] = (
                _shuffled_others(final, arrays, _unique_modality(names[e], modalities), e, rng)
                / unit
                - shift
            )
            alone[e] = _losses(alone_out[e], targets, task)
    synergy = names.index("synergy") if "synergy" in names else None
    redundancy = names.index("redundancy") if "redundancy" in names else None
    # the single-modality predictors a synergy claim must beat, each on the samples that have
    # its modality (the redundancy expert where there are none), and the best of them
    single = {e: alone[e] for e in unique}
    if not single and redundancy is not None:
        single = {redundancy: losses[:, redundancy]}
    rival, rival_loss = None, None
    if synergy is not None and single:
        single_losses = _stack(list(single.values()), n)
        compared = _stack([usable[:, synergy] & usable[:, k] for k in single], n, dtype=bool)
        means = _masked_mean(single_losses, compared, w)
        rival = list(single)[int(np.argmin(np.where(np.isnan(means), np.inf, means)))]
        rival_loss = single[rival]
    pairs = [(e, k) for e in unique for k in unique if k != e]
    upper = [(e, k) for e, k in pairs if e < k]

    # every quantity below is a column of per-sample values with the mask of the samples its
    # mean is over, bootstrapped on the same resamples (paired)
    blocks = _Blocks()
    # an ensemble's members: each resample takes one member's weights, so the weight
    # intervals also cover the randomness of training (one fit from another seed)
    members = explanation.member_weights
    n_members = 1 if members is None else members.shape[1]
    member_columns = weights if members is None else members.reshape(n, n_members * n_e)
    blocks.add("weights", member_columns, np.tile(usable, n_members))
    blocks.add("losses", losses, loss_mask)
    # chance on the same samples: each expert's constant fitted on the samples it is scored on
    chances = np.column_stack(
        [_chance_losses(targets, task, usable[:, e], w) for e in range(n_e)] + [chance]
    )
    blocks.add("chances", chances, loss_mask)
    blocks.add("alone", _stack([alone[e] for e in unique], n), usable[:, unique])
    # > 0: e beats k, on the samples that have both modalities
    blocks.add(
        "pairs",
        _stack([alone[k] - alone[e] for e, k in pairs], n),
        _enough(_stack([usable[:, e] & usable[:, k] for e, k in pairs], n, dtype=bool), clusters),
    )
    if rival is not None:
        blocks.add("margin", single_losses - losses[:, synergy, None], _enough(compared, clusters))
    # an additive pooling of the modalities gains from averaging their noise too: synergy
    # must also beat the redundancy expert, which pools them
    if synergy is not None and redundancy is not None and rival != redundancy:
        blocks.add("pooled", losses[:, redundancy] - losses[:, synergy], usable[:, synergy])
    # ... and the modalities' own predictions added up, which is all that modalities
    # informing the target independently need: synergy must be more than that
    # (and a claim of uniqueness asks that it beat the modality's own prediction,
    # refitted the same way, by little: the others add little to that modality)
    fold_seed = int(rng.integers(2**31)) if len(unique) >= 2 else 0
    additive = (
        _added_up(
            [alone_out[e] for e in unique], usable[:, unique], targets, task, fold_seed, w, clusters
        )
        if len(unique) >= 2
        else None
    )
    if additive is not None:
        additive_loss = _losses(additive, targets, task)
        if synergy is not None:
            blocks.add("added", additive_loss - losses[:, synergy], usable[:, synergy])
        others = []
        for e in unique:  # > 0: the others add more than ADDED_SHARE of e's own gain to it
            own = _losses(
                _added_up([alone_out[e]], usable[:, [e]], targets, task, fold_seed, w, clusters),
                targets,
                task,
            )
            others.append(own - additive_loss - ADDED_SHARE * (chances[:, e] - own))
        blocks.add("others", _stack(others, n), usable[:, unique])
    # each modality's own features, whatever its expert learned: > 0 where a linear model of
    # them beats chance (a uniqueness claim rests on the other experts having learned what
    # their modalities hold)
    # (not for multi-label targets, where no uniqueness claim can be checked)
    probed, probe_losses, probe_chances, probe_rows = [], [], [], []
    for e in unique if len(unique) >= 2 and task != "multilabel" else []:
        features = arrays[_unique_modality(names[e], modalities)]
        rows = usable[:, e] & ~np.isnan(features.reshape(n, -1)).any(axis=1)
        probe = _probe_losses(features, rows, targets, task, fold_seed, w, clusters)
        if probe is not None:
            probed.append(e)
            probe_losses.append(probe)
            probe_chances.append(_chance_losses(targets, task, rows, w))
            probe_rows.append(rows)
    if probed:
        blocks.add("probe", _stack(probe_losses, n), _stack(probe_rows, n, dtype=bool))
        blocks.add("probe_chances", _stack(probe_chances, n), _stack(probe_rows, n, dtype=bool))
    # ... and its own prediction made additive across each modality in turn: an expert
    # that only adds the modalities up (it can learn to, seeing which are present) is no
    # synergy whatever its construction
    partner, swap_blocks = None, _Blocks()
    if synergy is not None and rival is not None and len(modalities) >= 2:
        # pairs of the same modalities (the test's condition), formed within them
        absent = explanation.absent
        patterns = None if absent is None else np.unique(absent, axis=0, return_inverse=True)[1]
        if clusters is None:
            partner = _swap_partners(n, rng, patterns)
        else:  # pairs of samples of two groups: both groups resampled together
            partner, group_pairs = _group_partners(rng, clusters, patterns)
        surrogates, pairable = _additive_surrogates(
            final, arrays, raw_outputs[:, synergy], explanation.absent, synergy, partner
        )
        surrogates = [surrogate / unit - shift for surrogate in surrogates]
        # > 0: more than JOINT_SHARE of the gain over the best single modality is lost
        # when the expert is made additive across this modality
        gain = rival_loss - losses[:, synergy]
        # (with groups the swap test's own resamples: of the pairs of groups it pairs samples of)
        (blocks if clusters is None else swap_blocks).add(
            "swap",
            _stack(
                [
                    _losses(surrogate, targets, task) - losses[:, synergy] - JOINT_SHARE * gain
                    for surrogate in surrogates
                ],
                n,
            ),
            # (a pair has one set of modalities: the partner can use the expert too)
            _enough(pairable & (usable[:, synergy] & usable[:, rival])[:, None], clusters),
        )
    # shared information: two modalities' predictions agree across the samples more than
    # what the label leaves of them does
    signal = {e: _predictions(alone_out[e], task) for e in unique}
    residual = {e: _beyond_label(alone_out[e], targets, task, usable[:, e], w) for e in unique}
    moments, both = [], []
    for e, k in upper:
        both.append(usable[:, e] & usable[:, k])
        moments.append(
            _pair_moments((signal[e], signal[k]), (residual[e], residual[k]), both[-1], w)
        )
    blocks.add(
        "moments",
        np.hstack(moments) if moments else np.zeros((n, 0)),
        np.repeat(_enough(_stack(both, n, dtype=bool), clusters), N_MOMENTS, axis=1),
    )
    # what the mere absence of modalities predicts, whatever they hold
    pattern = (
        None
        if explanation.absent is None
        else _absence_losses(np.asarray(explanation.absent), targets, task, fold_seed, w, clusters)
    )
    if pattern is not None:
        blocks.add("pattern", pattern, np.ones(n, dtype=bool))
    # every sample's weights (0 where a sample lacks the expert's modalities; an ensemble's
    # mean), whose means are the overall weights dominant is chosen by
    blocks.add("overall", weights, np.ones(weights.shape, dtype=bool))
    # the swap test's two rows of a pair share their samples: resample the pairs (with
    # groups: each group whole, and for the swap test each pair of groups it pairs samples of)
    if clusters is None:
        draws = blocks.bootstrap(
            n_bootstrap, rng, None if partner is None else _pair_clusters(partner), w
        )
    else:
        draws = blocks.bootstrap(n_bootstrap, rng, clusters, w)
        if partner is not None:
            draws |= swap_blocks.bootstrap(n_bootstrap, rng, group_pairs, w)

    # every resample is scored against the chance level of all the samples an expert is
    # scored on (its per-sample chance losses), so a resample of one class keeps a skill;
    # where those samples themselves do not vary, the chance level is 0: NaN, undefined
    floor = _chance_floor(targets, task, w)
    w_draws = draws["weights"].reshape(n_bootstrap, n_members, n_e)
    drawn = rng.integers(n_members, size=n_bootstrap) if n_members > 1 else 0
    w_low, w_high = _interval(w_draws[np.arange(n_bootstrap), drawn], confidence)
    chance_means = _masked_mean(chances, loss_mask, w)
    skill = _skill(_masked_mean(losses, loss_mask, w), chance_means, floor)
    skill_draws = _skill(draws["losses"], draws["chances"], floor)
    alone_draws = _skill(draws["alone"], draws["chances"][:, unique], floor)
    agree = _shared_information(draws["moments"].reshape(n_bootstrap, len(upper), N_MOMENTS))
    probe_draws = _skill(draws["probe"], draws["probe_chances"], floor) if probed else None

    added_unfit = _added_unfit(final, targets, task, w is not None, clusters)

    def evidence_at(level: float) -> _Evidence:
        """The rules' inputs with intervals at ``level``, from the same resamples."""

        def low(name: str) -> np.ndarray | None:
            return _interval(draws[name], level)[0] if name in draws else None

        def high(name: str) -> np.ndarray | None:
            return _interval(draws[name], level)[1] if name in draws else None

        return _Evidence(
            names=names,
            modalities=modalities,
            unique=unique,
            synergy=synergy,
            redundancy=redundancy,
            rival=rival,
            by_construction=by_construction,
            usable=usable,
            undefined=np.isnan(skill) & loss_mask.any(axis=0),
            skill_low=_interval(skill_draws, level)[0],
            alone_low=dict(zip(unique, _interval(alone_draws, level)[0])),
            pair_low=dict(zip(pairs, low("pairs"))),
            others_low=dict(zip(unique, low("others"))) if "others" in draws else {},
            others_high=dict(zip(unique, high("others"))) if "others" in draws else {},
            margin_low=dict(zip(single, low("margin"))) if "margin" in draws else {},
            pooled_low=_first(low("pooled")),
            added_low=_first(low("added")),
            swap_low=_simultaneous_low(draws["swap"], level) if "swap" in draws else None,
            probe_low=(dict(zip(probed, _simultaneous_low(probe_draws, level))) if probed else {}),
            agree_pairs=upper,
            agree_draws=agree,
            confidence=level,
            added_unfit=added_unfit,
            clusters=clusters,
        )

    evidence = evidence_at(confidence)
    s_low, s_high = _interval(skill_draws, confidence)
    verdicts = [evidence.verdict(e) for e in range(n_e)]
    table = pd.DataFrame(
        {
            "mean_weight": _masked_mean(weights, usable, w),
            "weight_low": w_low,
            "weight_high": w_high,
            "score": [
                _displayed_score(
                    final,
                    raw_outputs[usable[:, e], e],
                    np.asarray(y)[usable[:, e]],
                    scoring,
                    None if w is None else w[usable[:, e]],
                )
                if usable[:, e].any()
                else np.nan
                for e in range(n_e)
            ],
            "n_usable": usable.sum(axis=0),
            "overall_weight": np.average(weights, axis=0, weights=w),
            "skill": skill[:n_e],
            "skill_low": s_low[:n_e],
            "skill_high": s_high[:n_e],
            "name_check": pd.array([evidence.name_check(e) for e in range(n_e)], dtype="boolean"),
            "supported": [ok for ok, _ in verdicts],
            "reason": [why for _, why in verdicts],
        },
        index=pd.Index(names, name="expert"),
    )
    dominant = _dominant(table)
    ties = _ties(table, dominant, draws["overall"], confidence)
    dominant_by_confidence = {}
    for level in _sensitivity_levels(confidence, n_bootstrap):
        other = evidence_at(level)
        supported = [other.verdict(e)[0] for e in range(n_e)]
        dominant_by_confidence[level] = _dominant(table.assign(supported=supported))
    absence_pattern = None
    if pattern is not None:
        pattern_draws = _skill(draws["pattern"], draws["chances"][:, -1:], floor)
        pattern_low, pattern_high = _interval(pattern_draws, confidence)
        # > 0: the mixture beats the prediction from the absences alone (paired resamples)
        beyond_low, beyond_high = _interval(skill_draws[:, -1:] - pattern_draws, confidence)
        pattern_skill = float(_skill(np.average(pattern, weights=w), chance_means[-1], floor))
        absence_pattern = {
            "skill": pattern_skill,
            "skill_low": float(pattern_low[0]),
            "skill_high": float(pattern_high[0]),
            "mixture_minus": float(skill[-1] - pattern_skill),
            "mixture_minus_low": float(beyond_low[0]),
            "mixture_minus_high": float(beyond_high[0]),
        }
    rates = _base_rates(mixture_output, targets, task, w, clusters)
    mixture = {
        "score": _displayed_score(final, raw_mixture, np.asarray(y), scoring, w),
        "skill": float(skill[-1]),
        "skill_low": float(s_low[-1]),
        "skill_high": float(s_high[-1]),
        "skill_rates_matched": float(
            _skill(
                np.average(_losses(rates["matched"], targets, task), weights=w),
                chance_means[-1],
                floor,
            )
        ),
    }
    return InteractionReport(
        table=table,
        dominant=dominant,
        mixture=mixture,
        metric=metric_name(final, scoring),
        n_samples=n,
        n_groups=n_groups,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        names_by_construction=by_construction,
        estimator_name=type(final).__name__,
        absence=_absence_evidence(
            explanation,
            mixture_output,
            targets,
            task,
            unit,
            w,
            bool(getattr(final, "absence_offset", True)),
        ),
        weighted=w is not None,
        dominant_by_confidence=dominant_by_confidence,
        training_rows=training_rows,
        ties=ties,
        n_members=n_members,
        n_weight_zero=n_weight_zero,
        absence_pattern=absence_pattern,
        n_targets=targets.shape[1] if task != "classification" else 1,
        base_rates=_base_rate_table(rates, list(explanation.output_names), task, unit),
    )
