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
- the **dominant** interaction: the expert with the largest mean weight (the
  one the predictions lean on most) when the evidence supports its
  interaction, or None (for instance on shuffled labels, where the mixture
  is no better than chance on held-out data).

Intervals are percentile bootstrap intervals over the held-out samples
(paired: every quantity is computed on the same resamples). For an ensemble
(``n_members > 1``) each resample of the weights also draws one member, so
that the weight intervals cover the randomness of training as well: where
one fit from another random initialisation could put its weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._evidence import (
    EPS,
    N_MOMENTS,
    _added_up,
    _additive_surrogates,
    _beyond_label,
    _bootstrap_means,
    _chance_losses,
    _interval,
    _losses,
    _masked_mean,
    _pair_moments,
    _predictions,
    _shared_information,
)
from ._scoring import default_scoring, score_outputs

#: a synergy claim needs more than this share of the synergy expert's gain over the best
#: single modality to be lost when the expert is made additive across some modality
JOINT_SHARE = 0.5
#: a uniqueness claim fails when the single-modality predictions added up beat the
#: modality's own by more than this share of its gain over chance (over the whole interval)
ADDED_SHARE = 0.05


def final_estimator(estimator: object, X: object) -> tuple[object, object]:
    """The I2MoE estimator (the last step of a Pipeline) and ``X`` in its input form.

    Parameters
    ----------
    estimator : I2MoE estimator or Pipeline ending in one
        Fitted.
    X : object
        Input of ``estimator``.

    Returns
    -------
    final : I2MoE estimator
    Xt : object
        ``X`` transformed by the steps before the last one.
    """
    if isinstance(estimator, Pipeline):
        final = estimator[-1]
        X = estimator[:-1].transform(X) if len(estimator) > 1 else X
    else:
        final = estimator
    if not hasattr(final, "_explain_arrays"):
        raise TypeError(
            "Expected a fitted I2MoEClassifier or I2MoERegressor, or a Pipeline ending in one; "
            f"got {type(final).__name__}."
        )
    check_is_fitted(final, "net_")
    return final, X


@dataclass(frozen=True)
class InteractionReport:
    """Held-out evidence for each interaction expert of a fitted mixture.

    Attributes
    ----------
    table : DataFrame
        One row per expert (index ``expert``): ``mean_weight`` with its
        interval ``weight_low``/``weight_high`` (over held-out resamples and,
        for an ensemble, its members); ``score`` (the estimator's
        own metric, accuracy or R^2, of the expert predicting alone);
        ``skill`` with ``skill_low``/``skill_high`` (the share of the
        chance-level loss the expert removes: 0 is chance, 1 is perfect;
        the Brier score for classifiers, squared error for regressors; the
        chance level is the best constant prediction on the samples the
        expert is scored on);
        ``n_usable`` (the held-out samples that have the modalities the
        expert needs; every statistic of the row is over those samples only);
        ``name_check`` (True/False, or None where the names hold by
        construction); ``supported`` (bool) and ``reason`` (plain words).
    dominant : str or None
        The expert with the largest mean weight, when the held-out evidence
        supports its interaction; None otherwise.
    mixture : dict
        ``score``, ``skill``, ``skill_low``, ``skill_high`` of the whole
        mixture.
    metric : str
        ``"accuracy"`` or ``"r2"``.
    n_samples : int
        Held-out samples the report is computed on.
    confidence : float
        Level of the bootstrap intervals.
    names_by_construction : bool
        Whether the kind of mixture guarantees the expert names.
    estimator_name : str
        Class name of the estimator.
    absence : dict or None
        Where held-out samples lack modalities and the model learns what an
        absence says (``absence_offset``): ``n_samples`` (the incomplete
        samples), and the mixture's ``skill`` on them with its absence
        offsets and ``skill_without_offsets`` with them taken out. The gap
        is how much those predictions rest on the *fact* that a modality is
        missing rather than on any expert. None otherwise.
    """

    table: pd.DataFrame
    dominant: str | None
    mixture: dict = field(repr=False)
    metric: str = "accuracy"
    n_samples: int = 0
    confidence: float = 0.95
    names_by_construction: bool = True
    estimator_name: str = ""
    absence: dict | None = field(default=None, repr=False)

    def summary(self) -> str:
        """The report as plain text for a clinical or methods report.

        Returns
        -------
        str
            A few lines: what was evaluated, the mixture's held-out skill,
            the dominant interaction (or that none is supported), and one
            line per expert with its weight, skill, verdict and reason.
        """
        level = f"{100 * self.confidence:g}%"
        m = self.mixture
        lines = [
            f"Interaction report for {self.estimator_name} on {self.n_samples} held-out samples "
            f"({level} bootstrap intervals).",
            f"Mixture: {self.metric} {m['score']:.3f}; skill {m['skill']:.3f} "
            f"[{m['skill_low']:.3f}, {m['skill_high']:.3f}] (share of the chance-level loss "
            "removed; 0 = chance).",
        ]
        if self.dominant is None:
            lines.append("Dominant interaction: none supported by the held-out data.")
        else:
            row = self.table.loc[self.dominant]
            lines.append(
                f"Dominant interaction: {self.dominant} (mean weight {row.mean_weight:.2f} "
                f"[{row.weight_low:.2f}, {row.weight_high:.2f}])."
            )
        if not self.names_by_construction:
            lines.append(
                "Expert names are not guaranteed by this kind of mixture: each uniqueness expert "
                "was evaluated with the other modalities shuffled across samples."
            )
        incomplete = (self.table["n_usable"] < self.n_samples).any()
        if incomplete:
            lines.append(
                "Some samples lack modalities: each expert is evaluated on the samples that "
                "have the modalities it needs (n)."
            )
        if self.absence is not None:
            a = self.absence
            lines.append(
                f"On the {a['n_samples']} samples lacking a modality, the absence itself (not an "
                f"interaction) is part of the prediction: skill {a['skill']:.3f} with it, "
                f"{a['skill_without_offsets']:.3f} without it."
            )
        width = max(len(str(name)) for name in self.table.index)
        for name, row in self.table.iterrows():
            verdict = "supported" if row.supported else "not supported"
            count = f"  n={row.n_usable}" if incomplete else ""
            lines.append(
                f"  {name:<{width}}  weight {row.mean_weight:.2f} [{row.weight_low:.2f}, "
                f"{row.weight_high:.2f}]  skill {row.skill:+.3f} [{row.skill_low:+.3f}, "
                f"{row.skill_high:+.3f}]{count}  {verdict}: {row.reason}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def _targets(final: object, y: object, n: int) -> tuple[np.ndarray, str]:
    """``y`` in the form the losses need, and the kind of task."""
    y = np.asarray(y)
    if len(y) != n:
        raise ValueError(f"y has {len(y)} samples but X has {n}; they must match.")
    if not is_classifier(final):
        return y.reshape(n, -1).astype(np.float64), "regression"
    if final._multilabel:
        return y.reshape(n, -1).astype(np.float64), "multilabel"
    y = y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y
    classes = np.asarray(final.classes_)
    unknown = np.setdiff1d(y, classes)
    if unknown.size:
        raise ValueError(
            f"y contains labels {unknown[:5].tolist()} the estimator was not fitted on "
            f"(classes_={classes.tolist()[:10]})."
        )
    return np.searchsorted(classes, y), "classification"


def _absence_evidence(
    explanation: object, output: np.ndarray, targets: np.ndarray, task: str, chance: np.ndarray
) -> dict | None:
    """The mixture's skill on the incomplete samples with and without their absence offsets."""
    offset = explanation.absence_offset
    if offset is None:
        return None
    rows = np.asarray(explanation.absent).any(axis=1)
    base = max(float(chance[rows].mean()), EPS)
    with_offsets = _losses(output[rows], targets[rows], task).mean()
    without = _losses(output[rows] - offset[rows], targets[rows], task).mean()
    return {
        "n_samples": int(rows.sum()),
        "skill": float(1.0 - with_offsets / base),
        "skill_without_offsets": float(1.0 - without / base),
    }


def _unique_modality(name: str, modalities: list[str]) -> int | None:
    if name.startswith("uniqueness[") and name.endswith("]"):
        return modalities.index(name[len("uniqueness[") : -1])
    return None


def interaction_report(
    estimator: object,
    X: object,
    y: object,
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    random_state: int | None = 0,
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
      its own (the ``low`` of each paired loss difference > 0): it carries
      information the others lack; **and** the others add little to it:
      the single-modality predictions added up (the cross-fitted linear
      model below) do not beat the same model on ``m``'s prediction alone
      by more than ``ADDED_SHARE`` (a twentieth) of that model's gain over
      chance (the ``low`` of the paired difference is not > 0). Where the
      modalities inform the target separately, the strongest one beats each
      other alone, but the target rests on all of them, not on it. "On its
      own" is the uniqueness expert, which sees only ``m`` in the
      structured mixture; in the paper's mixture, whose experts see every
      modality, it is the uniqueness expert with every other modality
      shuffled across samples (``name_check`` says whether that expert still
      predicts);
    - **synergy**: the expert predicts better than chance, better than the
      best single modality on its own, better than the redundancy expert and
      better than the single-modality predictions added up (a linear model
      on them, cross-fitted on the held-out samples; the ``low`` of each
      paired difference of losses > 0): combining modalities adds
      information that no single one has and that pooling them (which also
      averages their noise away) or adding up what each says separately
      does not explain; **and** the expert's own prediction needs the
      modalities jointly: made additive across some modality (swapping that
      modality between paired samples, which leaves a sum unchanged), it
      loses more than ``JOINT_SHARE`` (one half) of its gain over the best
      single modality (``low`` > 0). A backbone that sees which modalities
      are present can learn a sum of their effects; this is what tells it;
    - **redundancy**: the expert predicts better than chance, at least two
      modalities predict on their own, and for at least one pair of those
      their single-modality predictions (predicted probabilities, label rates
      or outputs) agree across the samples more than their errors do once the
      label is known (the ``low`` of their correlation minus the absolute
      correlation of what a least-squares fit on the label leaves of them
      > 0): the two carry the same information about the target, so together
      they tell less than the sum of what each tells. Modalities that inform
      the target separately predict independently of each other, and given
      the label one explains the other away (their errors are opposed);
    - **fusion** (vanilla fusion's single expert): the mixture's verdict.

    ``dominant`` is the expert with the largest mean weight (the one the
    predictions lean on most) when it is supported, else None.

    Parameters
    ----------
    estimator : I2MoEClassifier, I2MoERegressor or Pipeline ending in one
        Fitted.
    X : mapping, DataFrame or array-like
        Held-out input, in the form the estimator (or pipeline) takes.
    y : array-like
        Held-out targets.
    confidence : float, default=0.95
        Level of the bootstrap intervals.
    n_bootstrap : int, default=1000
        Bootstrap resamples of the held-out samples.
    random_state : int or None, default=0
        Seeds the resamples and the shuffles of the name check.

    Returns
    -------
    InteractionReport
        ``.table``, ``.dominant``, ``.summary()``.

    Raises
    ------
    TypeError
        If ``estimator`` is not an I2MoE estimator or a Pipeline ending in one.
    ValueError
        For fewer than 2 held-out samples, mismatched lengths or labels the
        estimator does not know.

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
    >>> print(report.summary().splitlines()[0])
    Interaction report for I2MoEClassifier on 100 held-out samples (95% bootstrap intervals).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
    if n_bootstrap < 10:
        raise ValueError(f"n_bootstrap must be at least 10; got {n_bootstrap}.")
    final, Xt = final_estimator(estimator, X)
    arrays = list(final._input_spec.transform(Xt).values())
    n = arrays[0].shape[0]
    if n < 2:
        raise ValueError(f"interaction_report needs at least 2 held-out samples; got {n}.")
    targets, task = _targets(final, y, n)
    metric = default_scoring(final)
    explanation = final._explain_arrays(arrays)
    names = list(explanation.expert_names)
    outputs = np.asarray(explanation.expert_outputs, dtype=np.float64)
    mixture_output = np.asarray(explanation.output, dtype=np.float64)
    weights = np.asarray(explanation.weights, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    modalities = list(final.modalities_)
    module = final.net_.module_
    by_construction = bool(getattr(module, "names_by_construction", True))
    n_e = len(names)
    # the samples each expert could be used on (all, unless modalities are absent)
    usable = np.ones((n, n_e), dtype=bool) if explanation.usable is None else explanation.usable

    losses = np.column_stack(
        [_losses(outputs[:, e], targets, task) for e in range(len(names))]
        + [_losses(mixture_output, targets, task)]
    )  # [n, E + 1], the mixture last
    loss_mask = np.column_stack([usable, np.ones(n, dtype=bool)])
    chance = _chance_losses(targets, task)
    unique = [e for e, name in enumerate(names) if _unique_modality(name, modalities) is not None]
    # each modality on its own: the uniqueness expert, with every other modality shuffled
    # across samples where the kind of mixture does not keep it from seeing them
    alone, alone_out = {}, {}
    for e in unique:
        if by_construction:
            alone[e], alone_out[e] = losses[:, e], outputs[:, e]
            continue
        m = _unique_modality(names[e], modalities)
        order = rng.permutation(n)
        shuffled = [a if k == m else a[order] for k, a in enumerate(arrays)]
        alone_out[e] = final._explain_arrays(shuffled).expert_outputs[:, e].astype(np.float64)
        alone[e] = _losses(alone_out[e], targets, task)
    synergy = names.index("synergy") if "synergy" in names else None
    redundancy = names.index("redundancy") if "redundancy" in names else None
    # the best single-modality predictor, the rival a synergy claim must beat
    rival = min(alone, key=lambda e: alone[e].mean()) if alone else redundancy
    rival_loss = None
    if rival is not None:
        rival_loss = alone[rival] if rival in alone else losses[:, rival]
    pairs = [(e, k) for e in unique for k in unique if k != e]
    # (values, mask) column blocks; each mean is over the samples the mask keeps
    # an ensemble's members: each resample takes one member's weights, so the weight
    # intervals also cover the randomness of training (one fit from another seed)
    members = explanation.member_weights
    n_members = 1 if members is None else members.shape[1]
    member_columns = weights if members is None else members.reshape(n, n_members * n_e)
    columns = [(member_columns, np.tile(usable, n_members)), (losses, loss_mask)]
    # chance on the same samples: each expert's constant fitted on the samples it is scored on
    chances = np.column_stack(
        [_chance_losses(targets, task, usable[:, e]) for e in range(n_e)] + [chance]
    )
    columns += [(chances, loss_mask)]
    columns += [(alone[e][:, None], usable[:, [e]]) for e in unique]
    columns += [  # > 0: e beats k, on the samples that have both modalities
        ((alone[k] - alone[e])[:, None], (usable[:, e] & usable[:, k])[:, None]) for e, k in pairs
    ]
    if synergy is not None and rival is not None:
        both = usable[:, synergy] & usable[:, rival]
        columns.append(((rival_loss - losses[:, synergy])[:, None], both[:, None]))
    # an additive pooling of the modalities gains from averaging their noise too: synergy
    # must also beat the redundancy expert, which pools them
    pooled = synergy is not None and redundancy is not None and rival != redundancy
    if pooled:
        columns.append(
            ((losses[:, redundancy] - losses[:, synergy])[:, None], usable[:, [synergy]])
        )
    # ... and the modalities' own predictions added up, which is all that modalities
    # informing the target independently need: synergy must be more than that
    # (and a claim of uniqueness asks that it beat the modality's own prediction,
    # refitted the same way, by little: the others add little to that modality)
    fold_seed = int(rng.integers(2**31)) if len(unique) >= 2 else 0
    additive = (
        _added_up([alone_out[e] for e in unique], usable[:, unique], targets, task, fold_seed)
        if len(unique) >= 2
        else None
    )
    added = additive is not None
    if added:
        additive_loss = _losses(additive, targets, task)
        if synergy is not None:
            columns.append(((additive_loss - losses[:, synergy])[:, None], usable[:, [synergy]]))
        for e in unique:  # > 0: the others add more than ADDED_SHARE of e's own gain to it
            own = _losses(
                _added_up([alone_out[e]], usable[:, [e]], targets, task, fold_seed), targets, task
            )
            added_gain = own - additive_loss - ADDED_SHARE * (chances[:, e] - own)
            columns.append((added_gain[:, None], usable[:, [e]]))
    # ... and its own prediction made additive across each modality in turn: an expert
    # that only adds the modalities up (it can learn to, seeing which are present) is no
    # synergy whatever its construction
    swap = synergy is not None and rival is not None and len(modalities) >= 2
    if swap:
        surrogates, pairable = _additive_surrogates(
            final, arrays, outputs[:, synergy], explanation.absent, synergy, rng
        )
        # > 0: more than JOINT_SHARE of the gain over the best single modality is lost
        # when the expert is made additive across this modality
        gain = rival_loss - losses[:, synergy]
        columns += [
            (
                (_losses(surrogate, targets, task) - losses[:, synergy] - JOINT_SHARE * gain)[
                    :, None
                ],
                (pairable & usable[:, synergy] & usable[:, rival])[:, None],
            )
            for surrogate in surrogates
        ]
    # shared information: two modalities' predictions agree across the samples more than
    # what the label leaves of them does
    signal = {e: _predictions(alone_out[e], task) for e in unique}
    residual = {e: _beyond_label(alone_out[e], targets, task) for e in unique}
    upper = [(e, k) for e, k in pairs if e < k]
    for e, k in upper:
        both = usable[:, e] & usable[:, k]
        moments = _pair_moments((signal[e], signal[k]), (residual[e], residual[k]), both)
        columns.append((moments, np.repeat(both[:, None], moments.shape[1], axis=1)))
    draws = _bootstrap_means(
        np.hstack([v for v, _ in columns]), np.hstack([m for _, m in columns]), n_bootstrap, rng
    )
    offset = 0

    def take(width: int) -> np.ndarray:
        nonlocal offset
        offset += width
        return draws[:, offset - width : offset]

    w_draws = take(n_members * n_e).reshape(n_bootstrap, n_members, n_e)
    drawn = rng.integers(n_members, size=n_bootstrap) if n_members > 1 else 0
    w_draws = w_draws[np.arange(n_bootstrap), drawn]
    loss_draws, chance_draws = take(n_e + 1), take(n_e + 1)
    alone_draws, pair_draws = take(len(unique)), take(len(pairs))
    margin_draws = take(1) if synergy is not None and rival is not None else None
    pooled_low = _interval(take(1), confidence)[0][0] if pooled else None
    added_low = _interval(take(1), confidence)[0][0] if added and synergy is not None else None
    others_low = dict(zip(unique, _interval(take(len(unique)), confidence)[0])) if added else {}
    swap_low = _interval(take(len(modalities)), confidence)[0] if swap else None
    moments = take(N_MOMENTS * len(upper)).reshape(n_bootstrap, len(upper), N_MOMENTS)
    agree_low = dict(zip(upper, _interval(_shared_information(moments), confidence)[0]))

    def skill_of(loss_draws: np.ndarray, chance_draws: np.ndarray) -> np.ndarray:
        return 1.0 - loss_draws / np.maximum(chance_draws, EPS)

    skill = 1.0 - _masked_mean(losses, loss_mask) / np.maximum(
        _masked_mean(chances, loss_mask), EPS
    )
    w_low, w_high = _interval(w_draws, confidence)
    s_low, s_high = _interval(skill_of(loss_draws, chance_draws), confidence)
    alone_low = dict(
        zip(unique, _interval(skill_of(alone_draws, chance_draws[:, unique]), confidence)[0])
    )
    pair_low = dict(zip(pairs, _interval(pair_draws, confidence)[0]))
    margin_low = _interval(margin_draws, confidence)[0][0] if margin_draws is not None else None

    def label(e: int) -> str:
        return repr(modalities[_unique_modality(names[e], modalities)])

    mixture_ok = s_low[-1] > 0
    informative = [e for e in unique if alone_low[e] > 0]
    name_ok = {e: (None if by_construction else bool(alone_low[e] > 0)) for e in unique}
    supported, reasons = [], []
    for e in range(n_e):
        if not mixture_ok:
            ok, why = False, "the mixture is not better than chance on these data"
        elif not usable[:, e].any():
            ok, why = False, "no held-out sample has the modalities it needs"
        elif e in unique:
            beaten = [k for k in unique if k != e and not pair_low[(e, k)] > 0]
            if alone_low[e] <= 0:
                check = "" if by_construction else " with the other modalities shuffled"
                ok, why = False, f"{label(e)} alone is not better than chance{check}"
            elif beaten:
                others = ", ".join(label(k) for k in beaten)
                ok, why = (
                    False,
                    (
                        f"{label(e)} alone predicts, but not better than {others} alone: the "
                        "target does not rest on it more than on them"
                    ),
                )
            elif others_low.get(e, 0.0) > 0:
                ok, why = (
                    False,
                    (
                        f"{label(e)} alone predicts better than the others, but adding up what "
                        "the other modalities predict on their own improves on it by more than "
                        f"a twentieth of its skill: the target does not rest on {label(e)} alone"
                    ),
                )
            else:
                ok, why = (
                    True,
                    (
                        f"{label(e)} alone predicts better than chance and than the others, and "
                        "the others add little to it"
                    ),
                )
        elif s_low[e] <= 0:
            ok, why = False, "not better than chance when predicting alone"
        elif e == synergy:
            if rival is None:
                ok, why = False, "no single-modality predictor to compare with"
            elif margin_low > 0 and pooled and not pooled_low > 0:
                ok, why = (
                    False,
                    (
                        "beats every single modality but not the redundancy expert: pooling the "
                        "modalities explains the gain"
                    ),
                )
            elif margin_low > 0 and added_low is not None and not added_low > 0:
                ok, why = (
                    False,
                    (
                        "beats every single modality but not their predictions added up: the "
                        "modalities inform the target separately, not jointly"
                    ),
                )
            elif margin_low > 0 and swap and not (swap_low > 0).any():
                ok, why = (
                    False,
                    (
                        "beats every single modality, but keeps most of that gain when made "
                        "additive across any one modality (swapping it between samples): it "
                        "mostly adds the modalities up"
                    ),
                )
            elif margin_low > 0:
                ok, why = True, f"beats the best single-modality predictor ({names[rival]})"
            else:
                ok, why = (
                    False,
                    (f"not better than the best single-modality predictor ({names[rival]})"),
                )
        elif e == redundancy:
            if not unique:
                ok, why = True, "better than chance (no uniqueness experts to check sharing)"
            elif len(informative) >= 2:
                sharing = [
                    (a, b)
                    for a, b in upper
                    if a in informative and b in informative and agree_low[(a, b)] > 0
                ]
                if sharing:
                    shared = ", ".join(f"{label(a)} and {label(b)}" for a, b in sharing)
                    ok, why = (
                        True,
                        f"several modalities predict on their own, and {shared} predict alike "
                        "more than the label explains: they share information",
                    )
                else:
                    ok, why = (
                        False,
                        (
                            "several modalities predict on their own, but no two predict alike "
                            "more than the label explains: each carries its own information"
                        ),
                    )
            else:
                ok, why = False, "fewer than two modalities predict on their own"
        else:  # vanilla fusion's single expert
            ok, why = True, "the mixture predicts better than chance"
        supported.append(bool(ok))
        reasons.append(why)

    table = pd.DataFrame(
        {
            "mean_weight": _masked_mean(weights, usable),
            "weight_low": w_low,
            "weight_high": w_high,
            "score": [
                score_outputs(final, outputs[usable[:, e], e], np.asarray(y)[usable[:, e]])
                if usable[:, e].any()
                else np.nan
                for e in range(n_e)
            ],
            "n_usable": usable.sum(axis=0),
            "skill": skill[:n_e],
            "skill_low": s_low[:n_e],
            "skill_high": s_high[:n_e],
            "name_check": pd.array([name_ok.get(e) for e in range(n_e)], dtype="boolean"),
            "supported": supported,
            "reason": reasons,
        },
        index=pd.Index(names, name="expert"),
    )
    # the expert the predictions lean on most, if the evidence backs its interaction
    heaviest = str(table["mean_weight"].idxmax())
    dominant = heaviest if table.loc[heaviest, "supported"] else None
    mixture = {
        "score": score_outputs(final, mixture_output, y),
        "skill": float(skill[-1]),
        "skill_low": float(s_low[-1]),
        "skill_high": float(s_high[-1]),
    }
    return InteractionReport(
        table=table,
        dominant=dominant,
        mixture=mixture,
        metric=metric,
        n_samples=n,
        confidence=confidence,
        names_by_construction=by_construction,
        estimator_name=type(final).__name__,
        absence=_absence_evidence(explanation, mixture_output, targets, task, chance),
    )
