"""The statistics the interaction report rests on (:mod:`sk_i2moe._report`).

Per-sample losses and chance levels of held-out predictions, paired
bootstrap means and percentile intervals, the single-modality predictions
added up (cross-fitted on the held-out samples), a linear probe of each
modality's own features and a linear model of which modalities are missing
(cross-fitted likewise), what a modality's prediction
says beyond the label, and an expert's output made additive across one
modality by swapping it between paired samples. The rules that turn these
into verdicts live in :mod:`sk_i2moe._report` (its ``_Evidence`` class).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.extmath import randomized_svd

from ._groups import group_folds

EPS = 1e-12
#: a regression target's chance level below this share of its mean square is 0 (constant)
REGRESSION_FLOOR = 1e-20
_CHUNK = 100  # bootstrap resamples evaluated at once
#: folds of the cross-fitted linear models on the held-out samples (the added-up rival, the
#: model on the absence indicators, the probes of each modality's features)
CROSS_FIT_FOLDS = 5
#: the penalties the linear probe of a modality's features chooses from (generalised
#: cross-validation), for features scaled to unit variance: from almost none to a fit that
#: is nearly the constant, so that a wide modality of few samples is not overfitted
PROBE_ALPHAS = np.logspace(-2, 7, 19)
#: a modality with more features and more samples than this is probed on this many leading
#: principal components of its scaled features (the time of the fits grows with the square of
#: the smaller of the two: a 2,000-column modality on 5,000 rows took 104 s in full)
PROBE_COMPONENTS = 256
#: the fewest held-out samples a claim rests on (an expert's, the mixture's): percentile
#: bootstrap intervals of fewer are far too narrow, and the cross-fitted rivals below need
#: as many
MIN_CLAIM_SAMPLES = 2 * CROSS_FIT_FOLDS
#: fixed-point steps that move the mixture's outputs to these samples' rates
#: (:func:`_base_rates`); each multiplies the mean prediction's error by far less than 1
RATE_MATCH_STEPS = 100


def _content_order(columns: list[np.ndarray]) -> np.ndarray:
    """An order of the rows set by what each row holds, not by where it stands.

    ``columns`` are numeric arrays with the samples on their first axis. The
    rows are sorted by their bytes (every NaN written alike, ``-0.0`` as
    ``0.0``), so that the same rows given in any order come out in one order,
    and rows that come out side by side in a different order hold the same
    values. Statistics that draw samples by position (the bootstrap, the
    folds, the pairs) then depend on the rows and the seed alone.

    >>> x, y = np.array([[2.0], [np.nan], [1.0], [-0.0]]), np.array([0, 1, 1, 0])
    >>> order, back = _content_order([x, y]), _content_order([x[::-1], y[::-1]])
    >>> np.array_equal(x[order], x[::-1][back], equal_nan=True)
    True
    """
    n = columns[0].shape[0]
    parts = []
    for column in columns:
        values = np.asarray(column).reshape(n, -1)
        if values.dtype.kind == "f":  # one bit pattern per value that compares equal
            values = np.where(np.isnan(values), np.nan, values) + values.dtype.type(0.0)
        parts.append(np.ascontiguousarray(values).view(np.uint8).reshape(n, -1))
    rows = np.ascontiguousarray(np.hstack(parts))
    return np.argsort(rows.view(np.dtype((np.void, rows.shape[1]))).ravel(), kind="stable")


def _losses(outputs: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Per-sample loss of outputs ``(n, C)``: Brier score (classes, labels) or squared error.

    The Brier score (squared error of the predicted probabilities) is proper
    and bounded: a few confident mistakes cannot outweigh many right answers,
    as they can with the log-loss.
    """
    return _squared_errors(_predictions(outputs, task), y, task)


def _squared_errors(predicted: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Per-sample Brier score of probabilities, or squared error of other predictions.

    ``predicted`` ``(n, C)``: class probabilities (``y`` the class indices),
    label rates or outputs (``y`` alike; the error averaged over columns).
    """
    if task == "classification":
        error = predicted.copy()
        error[np.arange(len(y)), y] -= 1.0
        return np.square(error).sum(axis=1)
    return np.square(predicted - y).mean(axis=1)


def _predictions(outputs: np.ndarray, task: str) -> np.ndarray:
    """What outputs ``(n, C)`` predict: class probabilities, label rates, or the outputs."""
    if task == "classification":
        return np.exp(_log_proba(outputs))
    if task == "multilabel":
        return 0.5 * (1.0 + np.tanh(0.5 * outputs))  # the logistic function, overflow-free
    return outputs


def _base_rates(
    outputs: np.ndarray,
    targets: np.ndarray,
    task: str,
    weights: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Each output's mean over the samples, the mixture's mean prediction, and both matched.

    ``outputs`` ``(n, C)`` are the mixture's outputs as the report scores
    them (logits, or outputs in the report's units), ``targets`` the encoded
    targets (class indices, or ``(n, C)`` labels or outputs). A model whose
    predictions fit samples like these predicts their class rates (or mean
    target) on average; where the training rows had another balance of
    classes, or these samples' features are shifted from the training
    rows', it does not. Returns ``observed`` and ``predicted`` ``(C,)``
    (means, weighted where ``weights`` are given), ``z`` ``(C,)``, their
    difference over its standard error were the predictions right (the
    predicted probabilities' Bernoulli spread; a regressor's: its errors'
    own; 0 where none varies), and ``matched`` ``(n, C)``, the outputs shifted
    by one constant per column so that their mean prediction is
    ``observed``: what calibration to these samples' rates alone, fitted on
    them (one number per column), would make of the mixture. Fitted on the
    samples it is scored on, that shift gains a little even where the
    predictions fit them (about one part in ``n``); ``z`` tells that chance
    from a real difference. With ``clusters`` (``(n,)`` group numbers, ``0`` to
    ``G - 1``: samples of one group are not independent) the standard error
    is cluster-robust: each group's gaps from the mean gap summed before they
    are squared, times ``G / (G - 1)``; for classes and labels the larger of
    that and the Bernoulli one (a rare class's own gaps, in few groups, can
    understate its spread).
    """
    n = len(targets)
    if task == "classification":
        observed = np.zeros((n, outputs.shape[1]))
        observed[np.arange(n), targets] = 1.0
    else:
        observed = np.asarray(targets, dtype=np.float64).reshape(n, -1)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    rates = w @ observed / w.sum()
    shifted = np.array(outputs, dtype=np.float64)
    if task == "regression":
        shifted += rates - w @ shifted / w.sum()
    else:  # logits: each column moved by the log of the ratio of the rates, to a fixed point
        goal = np.clip(rates, 0.5 / n, 1 - 0.5 / n)
        for _ in range(RATE_MATCH_STEPS):
            mean = np.clip(w @ _predictions(shifted, task) / w.sum(), 1e-12, 1 - 1e-12)
            step = np.log(goal / mean)
            if task == "multilabel":  # each label on its own: the log of the odds' ratio
                step = step - np.log((1 - goal) / (1 - mean))
            shifted += step
            if np.abs(step).max() < 1e-9:
                break
    predicted = _predictions(np.asarray(outputs, dtype=np.float64), task)
    gap = observed - predicted
    mean_gap = w @ gap / w.sum()
    # the spread the gap would have were the predictions right: Bernoulli for a class or label
    # (from the samples' own gaps a rare class's spread is far too small), the gaps' own for
    # a regressor's outputs
    spread = predicted * (1 - predicted) if task != "regression" else (gap - mean_gap) ** 2
    error = np.sqrt(w**2 @ spread) / w.sum()
    if clusters is not None:  # each group's deviations summed before they are squared
        g = int(clusters.max()) + 1
        summed = np.zeros((g, gap.shape[1]))
        np.add.at(summed, clusters, w[:, None] * (gap - mean_gap))
        robust = np.sqrt(g / (g - 1) * np.square(summed).sum(axis=0)) / w.sum()
        error = robust if task == "regression" else np.maximum(error, robust)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(error > 0, mean_gap / error, np.where(mean_gap == 0, 0.0, np.inf))
    return {
        "observed": rates,
        "predicted": w @ predicted / w.sum(),
        "z": np.where(np.isnan(z), 0.0, z),
        "matched": shifted,
    }


def _chance_losses(
    y: np.ndarray,
    task: str,
    fitted_on: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Per-sample loss of the best constant prediction (the chance level).

    The constant is the best one on the samples ``fitted_on`` keeps (all when
    None or when it keeps none): an expert evaluated on the samples that have
    its modalities is compared with the class rates (or mean target) of those
    samples, which differ from the others' where modalities go missing more
    often in one class. ``weights`` (positive, per sample) weigh the rates
    and the mean.
    """
    keep = slice(None) if fitted_on is None or not fitted_on.any() else fitted_on
    ref = y[keep]
    w = None if weights is None else weights[keep]
    if task == "classification":
        total = len(ref) if w is None else w.sum()
        freq = np.bincount(ref, weights=w, minlength=y.max() + 1) / total
        onehot_error = np.tile(freq, (len(y), 1))
        onehot_error[np.arange(len(y)), y] -= 1.0
        return np.square(onehot_error).sum(axis=1)
    centre = np.average(ref, axis=0, weights=w)  # label rates, or the mean target
    return np.square(y - centre).mean(axis=1)


def _chance_floor(targets: np.ndarray, task: str, weights: np.ndarray | None = None) -> float:
    """The chance-level loss at or below which a skill is undefined.

    A chance level of 0 means the targets do not vary on the samples scored
    (one class, one target value): the best constant is exact, and no
    prediction can remove a share of its loss. Relative to the targets'
    magnitude for regression, whose losses are in the target's units
    squared: the variance float64 computes for a constant target ``c`` is
    about ``(2e-16 c)^2``, far below ``REGRESSION_FLOOR * c^2``, while a
    target that varies by more than ``1e-10`` of its magnitude (a large
    offset, a tiny scale) stays above it.
    """
    if task == "regression":
        if weights is None:
            return REGRESSION_FLOOR * float(np.mean(np.square(targets)))
        squares = np.square(targets).mean(axis=1)
        return REGRESSION_FLOOR * float(np.average(squares, weights=weights))
    return EPS


def _skill(losses: np.ndarray, chances: np.ndarray, floor: float) -> np.ndarray:
    """``1 - losses / chances``, NaN where the chance level is at most ``floor`` (undefined).

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe._evidence import _skill
    >>> _skill(np.array([0.1, 0.2]), np.array([0.4, 0.0]), 1e-12).tolist()
    [0.75, nan]
    """
    chances = np.asarray(chances, dtype=np.float64)
    defined = chances > floor
    ratio = np.divide(losses, chances, out=np.full(chances.shape, np.nan), where=defined)
    return 1.0 - ratio


def _bootstrap_means(
    values: np.ndarray,
    mask: np.ndarray,
    n_bootstrap: int,
    rng: np.random.Generator,
    clusters: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Means of the columns of ``values`` ``(n, k)`` over ``n_bootstrap`` resamples ``(B, k)``.

    Each column's mean is over the samples its ``mask`` column keeps (NaN in a
    resample that keeps none), weighted by ``weights`` ``(n,)`` when given.
    ``clusters`` ``(n,)`` numbers the groups of samples that are not
    independent, ``0`` to ``G - 1``: a resample then draws ``G`` groups, each
    with all its samples (None: every sample is its own group).
    """
    n = values.shape[0]
    groups = np.arange(n) if clusters is None else clusters
    g = int(groups.max()) + 1 if n else 0
    kept = mask.astype(np.float64)
    masked = np.where(mask, values, 0.0)
    if weights is not None:
        kept, masked = kept * weights[:, None], masked * weights[:, None]
    out = []
    for start in range(0, n_bootstrap, _CHUNK):
        size = min(_CHUNK, n_bootstrap - start)
        counts = rng.multinomial(g, np.full(g, 1.0 / g), size=size)[:, groups]  # [size, n]
        totals, kept_totals = counts @ masked, counts @ kept
        out.append(
            np.divide(totals, kept_totals, out=np.full_like(totals, np.nan), where=kept_totals > 0)
        )
    return np.concatenate(out)


def _masked_mean(
    values: np.ndarray, mask: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Column means of ``values`` ``(n, k)`` over the rows ``mask`` keeps (NaN where none).

    Weighted by ``weights`` ``(n,)`` when given.
    """
    if weights is None:
        kept = mask.sum(axis=0)
        totals = np.where(mask, values, 0.0).sum(axis=0)
    else:
        share = mask * weights.reshape(-1, *(1,) * (mask.ndim - 1))
        kept = share.sum(axis=0)
        totals = np.where(mask, values * share, 0.0).sum(axis=0)
    return np.divide(totals, kept, out=np.full(totals.shape, np.nan), where=kept > 0)


def _interval(draws: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column of ``draws`` ``(B, ...)`` over its finite draws.

    NaN for a column without a finite draw (an expert no resample could use),
    computed without NumPy's all-NaN warning: a library does not touch the
    process-wide warning filters to hide it.
    """
    tail = 100 * (1 - confidence) / 2
    low, high = np.full(draws.shape[1:], np.nan), np.full(draws.shape[1:], np.nan)
    measured = np.isfinite(draws).any(axis=0)
    if measured.any():
        kept = draws[:, measured]
        low[measured] = np.nanpercentile(kept, tail, axis=0)
        high[measured] = np.nanpercentile(kept, 100 - tail, axis=0)
    return low, high


def _simultaneous_low(draws: np.ndarray, confidence: float) -> np.ndarray:
    """Lower ends ``(k,)`` that hold for all the columns of ``draws`` ``(B, k)`` at once.

    A studentised max-type bootstrap bound. Each column's scale is how far
    below its mean its own percentile lower end lies (the ``(1 + confidence)
    / 2`` quantile of its resamples' shortfalls); a resample's shortfall is
    the largest number of those scales by which any of its columns falls
    below its mean; each column's lower end is its mean less its scale times
    the ``(1 + confidence) / 2`` quantile of the shortfalls of the resamples
    in which it is measured (at least 1 scale, so never above its own
    percentile lower end). "Some column's lower end is above 0" is then a
    claim at the level of one percentile interval's lower end, whatever the
    number of columns. Measured in its own scale, a column that varies
    little is not held to the shortfalls of one that varies much (a pair of
    copies of one modality, whose agreement barely varies, beside pairs of
    separate modalities). One column's bound is its percentile lower end; of
    several, a column whose percentile lower end is not below its mean gets
    its mean. NaN for a column without a finite draw.
    """
    out = np.full(draws.shape[1], np.nan)
    measured = np.isfinite(draws).any(axis=0)
    if not measured.any():
        return out
    kept = draws[:, measured]
    centre = np.nanmean(kept, axis=0)
    level = 100 * (1 + confidence) / 2
    scale = np.nanpercentile(centre - kept, level, axis=0)
    if kept.shape[1] == 1:
        out[measured] = centre - scale
        return out
    finite = np.isfinite(kept)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(
            finite & (scale > 0), (centre - kept) / scale, np.where(finite, 0.0, np.nan)
        )
    shortfall = np.full(len(kept), np.nan)
    rows = finite.any(axis=1)  # a resample that could use no column is left out
    shortfall[rows] = np.nanmax(scaled[rows], axis=1)
    # each column's quantile over the resamples that measure it
    multiple = np.nanpercentile(np.where(finite, shortfall[:, None], np.nan), level, axis=0)
    out[measured] = centre - np.maximum(multiple, 1.0) * np.maximum(scale, 0.0)
    return out


def _log_proba(outputs: np.ndarray) -> np.ndarray:
    """Log-softmax of logits ``(n, C)``."""
    z = outputs - outputs.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _added_up(
    alone: list[np.ndarray],
    usable: np.ndarray,
    targets: np.ndarray,
    task: str,
    seed: int,
    weights: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> np.ndarray | None:
    """The single-modality predictions added up, cross-fitted on the held-out samples.

    A linear model (logistic for classifiers, least squares for regressors)
    on each modality's own prediction (its centred log-probabilities, or its
    output; 0 where a sample lacks the modality), fitted on four fifths of the
    held-out samples and predicting the other fifth, in turn. This is what
    modalities that inform the target separately (additively) need: the rival
    that a claim of synergy, information the modalities hold only jointly,
    must beat; and, given one modality's prediction alone, the same model on
    that modality only, which a claim of uniqueness must not fall behind.
    ``seed`` sets the folds (the same for every call on the same samples),
    ``clusters`` keeps each group's samples in one fold (:func:`_fold_splits`);
    ``weights`` are the fits' sample weights.
    None where it cannot be fitted: multilabel targets, fewer than ten
    held-out samples, or a class with fewer than five (with ``clusters``:
    found in fewer than five groups).
    """
    if task == "classification":
        features = [_log_proba(a) - _log_proba(a).mean(axis=1, keepdims=True) for a in alone]
    elif task == "regression":
        features = alone
    else:
        return None
    design = np.hstack([np.where(u[:, None], f, 0.0) for f, u in zip(features, usable.T)])
    predicted = _linear_cross_fit(design, targets, task, seed, weights, alone[0].shape[1], clusters)
    if predicted is None or task != "classification":
        return predicted
    return np.log(np.maximum(predicted, EPS))  # log-probabilities serve as logits


def _linear_cross_fit(
    design: np.ndarray,
    targets: np.ndarray,
    task: str,
    seed: int,
    weights: np.ndarray | None = None,
    n_classes: int = 0,
    clusters: np.ndarray | None = None,
) -> np.ndarray | None:
    """A linear model's predictions of ``targets`` from ``design``, cross-fitted.

    Logistic regression for classifiers (``(n, n_classes)`` probabilities, at
    least as many columns as the largest class present; a class absent from
    ``targets`` is predicted 0), least squares ``(n, outputs)`` for regressors,
    fitted on four fifths of the samples and predicting the other fifth, in
    turn (:func:`_fold_splits`: stratified folds for classifiers, each of
    ``clusters``' groups in one fold; ``seed`` sets them), with ``weights`` as
    sample weights. None where it cannot be fitted: multilabel targets, fewer
    than ten samples, or a class with fewer than five (with ``clusters``:
    found in fewer than five groups, or missing from some fold's fit).
    """
    if task == "classification":
        counts = np.bincount(targets)
        per_class = _units(targets[:, None] == np.flatnonzero(counts), clusters)
        if (counts > 0).sum() < 2 or (per_class < CROSS_FIT_FOLDS).any():
            return None
        splits = _fold_splits(targets, targets, seed, clusters)
        if splits is None:
            return None
        model = LogisticRegression(max_iter=1000)
        present = _cross_fitted(model, "predict_proba", design, targets, splits, weights)
        proba = np.zeros((len(targets), max(n_classes, len(counts))))
        proba[:, np.flatnonzero(counts)] = present
        return proba
    if task == "regression" and len(targets) >= MIN_CLAIM_SAMPLES:
        splits = _fold_splits(targets, None, seed, clusters)
        if splits is None:
            return None
        y = targets.ravel() if targets.shape[1] == 1 else targets
        predicted = _cross_fitted(LinearRegression(), "predict", design, y, splits, weights)
        return predicted.reshape(len(targets), -1)
    return None


def _units(masks: np.ndarray, clusters: np.ndarray | None = None) -> np.ndarray:
    """The samples each column of ``masks`` ``(n, k)`` keeps, or with ``clusters`` their groups.

    The independent units a mean over a column rests on: with ``clusters``
    (a group number per sample) the samples of one group count once.
    """
    if clusters is None:
        return masks.sum(axis=0)
    present = np.zeros((int(clusters.max()) + 1, masks.shape[1]), dtype=bool)
    np.logical_or.at(present, clusters, masks)
    return present.sum(axis=0)


def _fold_splits(
    rows: np.ndarray,
    classes: np.ndarray | None,
    seed: int,
    clusters: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """``CROSS_FIT_FOLDS`` train/test splits of ``len(rows)`` samples, shuffled by ``seed``.

    Stratified by ``classes`` (class indices) where given. With ``clusters``
    (a group number per sample) every group's samples fall in one fold, so
    that no fit sees a group it predicts (the samples of a patient seen at
    several visits, say): :func:`~sk_i2moe._groups.group_folds`, None where
    the groups are fewer than the folds, or a class present among the
    samples is missing from some fold's training samples.
    """
    if clusters is not None:
        return group_folds(classes, clusters, CROSS_FIT_FOLDS, seed)
    if classes is None:
        return list(KFold(CROSS_FIT_FOLDS, shuffle=True, random_state=seed).split(rows))
    folds = StratifiedKFold(CROSS_FIT_FOLDS, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(rows)), classes))


def _probe_losses(
    features: np.ndarray,
    rows: np.ndarray,
    targets: np.ndarray,
    task: str,
    seed: int,
    weights: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> np.ndarray | None:
    """Per-sample loss of a linear model of one modality's features, cross-fitted.

    Whether the modality's own features predict the target, whatever its
    expert learned: ridge regression (penalty chosen by generalised
    cross-validation) on the features scaled to unit variance, onto the
    one-hot classes (a linear probability model), the labels or the
    outputs, fitted on four fifths of the held-out samples ``rows`` keeps
    (those that have the modality) and predicting the other fifth, in turn.
    Its loss is the Brier score (squared error) of :func:`_losses`, which
    the model minimises. The scaling (and, for a modality of more than
    ``PROBE_COMPONENTS`` features and samples, the projection on that many
    leading principal components, where ridge regression shrinks the
    others most) uses every such sample's features, never the target.
    ``seed`` sets the folds and the projection, ``clusters`` keeps each
    group's samples in one fold (:func:`_fold_splits`), and the penalty is
    then chosen on folds of the fit's groups (:func:`_grouped_penalty`);
    ``weights`` are the fits' sample weights. NaN outside ``rows``; None where fewer than
    ``MIN_CLAIM_SAMPLES`` samples (or, with ``clusters``, fewer groups than
    folds) have the modality.
    """
    keep = np.flatnonzero(rows)
    if len(keep) < MIN_CLAIM_SAMPLES:
        return None
    design = features[keep].reshape(len(keep), -1).astype(np.float64)
    spread = design.std(axis=0)
    design = (design - design.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    if min(design.shape) > PROBE_COMPONENTS:
        left, values, _ = randomized_svd(design, PROBE_COMPONENTS, random_state=seed)
        design = left * values
    if task == "classification":
        goal = np.eye(targets.max() + 1)[targets[keep]]
    else:
        goal = targets[keep].astype(np.float64)
    splits = _fold_splits(keep, None, seed, None if clusters is None else clusters[keep])
    if splits is None:
        return None
    kept_weights = None if weights is None else weights[keep]
    if clusters is None:
        # the penalty search through the SVD of the design where samples outnumber features,
        # its Gram matrix elsewhere: the same losses, and the faster way for each shape
        fitted_rows = len(keep) * (CROSS_FIT_FOLDS - 1) / CROSS_FIT_FOLDS
        mode = "svd" if fitted_rows > design.shape[1] else "eigen"
        model = RidgeCV(alphas=PROBE_ALPHAS, gcv_mode=mode)
        predicted = _cross_fitted(model, "predict", design, goal, splits, kept_weights)
    else:  # leaving out one sample would leave its group's others in: the penalty by groups too
        predicted = np.empty(goal.shape)
        for train, test in splits:
            inner = _fold_splits(train, None, seed, clusters[keep][train])
            fold_weights = None if kept_weights is None else kept_weights[train]
            alpha = _grouped_penalty(design[train], goal[train], fold_weights, inner)
            fitted = Ridge(alpha=alpha).fit(design[train], goal[train], sample_weight=fold_weights)
            predicted[test] = fitted.predict(design[test]).reshape(len(test), *goal.shape[1:])
    predicted = predicted.reshape(goal.shape)
    out = np.full(len(targets), np.nan)
    out[keep] = _squared_errors(predicted, targets[keep], task)
    return out


def _grouped_penalty(
    design: np.ndarray,
    goal: np.ndarray,
    weights: np.ndarray | None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None,
) -> float:
    """The ``PROBE_ALPHAS`` penalty of least (weighted) squared error over ``splits``.

    Ridge regression of ``goal`` on ``design`` fitted on each split's first
    part, with an intercept and ``weights`` as sample weights (as
    :class:`~sklearn.linear_model.Ridge` fits them), scored on its second;
    every penalty from one SVD per split. The largest penalty where
    ``splits`` is None (too few groups to split: the fit nearest the
    constant).
    """
    if splits is None:
        return float(PROBE_ALPHAS[-1])
    goal = goal.reshape(len(goal), -1)
    errors = np.zeros(len(PROBE_ALPHAS))
    for train, test in splits:
        w = np.ones(len(train)) if weights is None else weights[train]
        mean_x = np.average(design[train], axis=0, weights=w)
        mean_y = np.average(goal[train], axis=0, weights=w)
        root = np.sqrt(w)[:, None]
        left, values, right = np.linalg.svd((design[train] - mean_x) * root, full_matrices=False)
        projected = left.T @ ((goal[train] - mean_y) * root)  # [k, C]
        rotated = (design[test] - mean_x) @ right.T  # [m, k]
        w_test = np.ones(len(test)) if weights is None else weights[test]
        for i, alpha in enumerate(PROBE_ALPHAS):
            shrunk = (values / (values**2 + alpha))[:, None] * projected
            error = np.square(rotated @ shrunk + mean_y - goal[test]).sum(axis=1)
            errors[i] += w_test @ error
    return float(PROBE_ALPHAS[int(np.argmin(errors))])


def _absence_losses(
    absent: np.ndarray,
    targets: np.ndarray,
    task: str,
    seed: int,
    weights: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> np.ndarray | None:
    """Per-sample loss of a prediction from which modalities are missing, cross-fitted.

    ``absent`` ``(n, M)`` marks each sample's absent modalities. A linear
    model on those indicators (logistic for classifiers, least squares for
    regressors: one effect per modality's absence, added up, as the
    estimators' absence offsets are), fitted on four fifths of the held-out
    samples and predicting the other fifth, in turn; its loss is
    :func:`_losses`' Brier score or squared error. What a model can learn
    from the absences alone, whatever the modalities hold. ``seed`` sets
    the folds, ``clusters`` keeps each group in one; ``weights`` are the
    fits' sample weights. None where it
    cannot be fitted: no modality absent from some samples and present in
    others, multilabel targets, fewer than ten samples, or a class with
    fewer than five.
    """
    varies = absent.any(axis=0) & ~absent.all(axis=0)
    if not varies.any():
        return None
    design = absent[:, varies].astype(np.float64)
    predicted = _linear_cross_fit(design, targets, task, seed, weights, clusters=clusters)
    return None if predicted is None else _squared_errors(predicted, targets, task)


def _cross_fitted(
    model: object,
    method: str,
    design: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    weights: np.ndarray | None,
) -> np.ndarray:
    """Each fold's ``method`` output by ``model`` fitted on the other folds (with ``weights``).

    ``splits`` are the folds' ``(train, test)`` indices (:func:`_fold_splits`).

    :func:`~sklearn.model_selection.cross_val_predict`'s computation, fitted
    by hand so that the weights reach ``fit`` whether or not scikit-learn's
    metadata routing is enabled.
    """
    out = None
    for train, test in splits:
        fold_weights = None if weights is None else weights[train]
        fitted = clone(model).fit(design[train], y[train], sample_weight=fold_weights)
        part = getattr(fitted, method)(design[test])
        if out is None:
            out = np.empty((len(y), *part.shape[1:]), dtype=part.dtype)
        out[test] = part
    return out


def _beyond_label(
    alone: np.ndarray,
    targets: np.ndarray,
    task: str,
    rows: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """What of a modality's held-out prediction the label does not explain, per sample.

    The part of its predicted probabilities (classifiers), label rates
    (multilabel) or outputs (regressors), ``(n, C)``, that a least-squares
    fit on the label leaves (for classifiers: the prediction minus its mean
    over the samples of the same class), fitted on ``rows`` (a mask: the
    samples that have the modality; elsewhere its prediction is a constant
    that says nothing about the label). Two modalities that carry the same
    information err together beyond the label, so their residuals point the
    same way; two that inform it independently do not (given the label they
    are, if anything, opposed: one explains the other away). ``weights``
    weigh the least-squares fit.
    """
    n = len(targets)
    if task == "classification":
        design = np.zeros((n, alone.shape[1]))
        design[np.arange(n), targets] = 1.0
    else:
        design = np.column_stack([np.ones(n), targets])
    signal = _predictions(alone, task)
    root = 1.0 if weights is None else np.sqrt(weights[rows])[:, None]
    coef, *_ = np.linalg.lstsq(design[rows] * root, signal[rows] * root, rcond=None)
    return signal - design @ coef


N_MOMENTS = 6  # per pair of modalities: see _pair_moments


def _pair_moments(
    signals: tuple[np.ndarray, np.ndarray],
    residuals: tuple[np.ndarray, np.ndarray],
    rows: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Per-sample products behind two modalities' shared information ``(n, 6)``.

    ``signals`` are the two held-out single-modality predictions
    (:func:`_predictions`), centred here over ``rows`` (a mask; weighted by ``weights``), and
    ``residuals`` what the label leaves of them (:func:`_beyond_label`); for
    each pair, the cross product and each one's square, summed over the
    classes or outputs. Their means over samples give the two correlations
    that :func:`_shared_information` compares.
    """
    if rows.any():
        w = None if weights is None else weights[rows]
        signals = tuple(s - np.average(s[rows], axis=0, weights=w) for s in signals)
    columns = []
    for a, b in (signals, residuals):
        columns += [(a * b).sum(1), (a * a).sum(1), (b * b).sum(1)]
    return np.column_stack(columns)


def _shared_information(moments: np.ndarray) -> np.ndarray:
    """How much two modalities' predictions share beyond the label, from mean moments.

    ``moments`` ``(..., 6)`` are means of :func:`_pair_moments`. Returns the
    correlation of the two predictions across samples minus the absolute
    correlation of what the label leaves of them: positive when the two
    share information about the target (for jointly Gaussian predictions
    that are positively correlated, exactly when their co-information is:
    together they tell less than the sum of what each tells). Noisy copies
    of one factor predict alike (and their errors, given a noisy label, too,
    but less); modalities that inform the target separately predict
    independently, and given the label one explains the other away (their
    residuals are opposed).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        signal = moments[..., 0] / np.sqrt(moments[..., 1] * moments[..., 2])
        residual = moments[..., 3] / np.sqrt(moments[..., 4] * moments[..., 5])
    return signal - np.abs(residual)


def _swap_partners(
    n: int, rng: np.random.Generator, groups: np.ndarray | None = None
) -> np.ndarray:
    """A random pairing of the samples: ``partner[partner[i]] == i``.

    With ``groups`` (one integer per sample), samples are paired within their
    group only (the swap test pairs samples of the same modalities); one
    sample of a group of odd size, or of all of them without groups, stays
    alone (its own partner). Without groups, or with one, the pairing is the
    same as for ``groups=None`` from the same generator state.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe._evidence import _swap_partners
    >>> partner = _swap_partners(6, np.random.default_rng(0), np.array([0, 0, 1, 1, 1, 1]))
    >>> bool((partner[partner] == np.arange(6)).all()), bool((partner[:2] < 2).all())
    (True, True)
    """
    order = rng.permutation(n)
    if groups is not None:
        groups = np.asarray(groups).reshape(n)  # one per sample, an (n, 1) column too
        order = order[np.argsort(groups[order], kind="stable")]
        keys = groups[order]
    else:
        keys = np.zeros(n, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1] if n else np.zeros(0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)  # position within the group
    first = np.flatnonzero((rank % 2 == 0) & (rank + 1 < np.repeat(sizes, sizes)))
    partner = np.arange(n)
    partner[order[first]], partner[order[first + 1]] = order[first + 1], order[first]
    return partner


def _group_partners(
    rng: np.random.Generator, clusters: np.ndarray, patterns: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A pairing of the samples across groups, and the groups resampled together.

    ``clusters`` ``(n,)`` numbers the groups ``0`` to ``G - 1`` (samples of
    one group are not independent: the visits of one patient, say). The
    groups are paired at random; each sample is paired with one of the
    paired group's samples (of the same ``patterns`` value, where given:
    the swap test pairs samples of the same modalities), as many as both
    have, chosen at random; the rest stay alone (their own partner). Two
    samples of one group are never paired: a swap between them would change
    little of what the swap test asks. Returns ``partner``
    (``partner[partner[i]] == i``) and, per sample, the number of its pair of
    groups (``0`` to ``P - 1``): a resample must draw both groups of a pair
    together, since each sample's swapped rows hold its partner's values.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe._evidence import _group_partners
    >>> clusters = np.array([0, 0, 1, 1, 2, 2, 3])
    >>> partner, together = _group_partners(np.random.default_rng(0), clusters)
    >>> bool((partner[partner] == np.arange(7)).all())
    True
    >>> bool((clusters[partner] != clusters)[partner != np.arange(7)].all())
    True
    """
    n = len(clusters)
    g = int(clusters.max()) + 1
    pair_of_group = np.empty(g, dtype=np.int64)
    pair_of_group[rng.permutation(g)] = np.arange(g) // 2
    together = pair_of_group[clusters]
    kind = np.zeros(n, dtype=np.int64) if patterns is None else np.asarray(patterns).reshape(n)
    # within each pair of groups and kind of sample: the first group's samples in a random
    # order beside the second's
    order = rng.permutation(n)
    order = order[np.lexsort((clusters[order], kind[order], together[order]))]
    partner = np.arange(n)
    block = np.r_[0, np.flatnonzero(np.diff(together[order]) | np.diff(kind[order])) + 1, n]
    for start, stop in zip(block[:-1], block[1:]):
        rows = order[start:stop]
        first = rows[clusters[rows] == clusters[rows[0]]]
        second = rows[clusters[rows] != clusters[rows[0]]]
        m = min(len(first), len(second))
        partner[first[:m]], partner[second[:m]] = second[:m], first[:m]
    return partner, np.unique(together, return_inverse=True)[1].reshape(n)


def _pair_clusters(partner: np.ndarray) -> np.ndarray:
    """Numbers ``0`` to ``G - 1`` of the pairs of :func:`_swap_partners`, per sample."""
    return np.unique(np.minimum(np.arange(len(partner)), partner), return_inverse=True)[1]


def _additive_surrogates(
    final: object,
    arrays: list[np.ndarray],
    own: np.ndarray,
    absent: np.ndarray | None,
    expert: int,
    partner: np.ndarray,
) -> tuple[list[np.ndarray], np.ndarray]:
    """What an expert would output if it were additive across each modality, per modality.

    Pair every sample ``i`` with a partner ``j`` and swap modality ``m``
    between them. If the expert's output ``s`` is a sum of a function of
    ``m`` and a function of the other modalities, ``s(m_i, rest_i) =
    s(m_i, rest_j) + s(m_j, rest_i) - s(m_j, rest_j)`` exactly; the right-hand
    side is the surrogate (one forward pass per modality). An expert whose
    name says synergy must predict better than every one of them on at least
    one modality: otherwise its prediction is a sum across the modalities.
    Where the expert is a synergy expert built to its kind, whose output is
    a joint term plus terms that are sums over the modalities
    (``final._synergy_joint``), those terms cancel on the right-hand side and
    only the joint term is evaluated on the swapped rows (one pass of that
    expert's backbone instead of the whole mixture): the same surrogate.

    ``own`` is the expert's output ``(n, C)`` on ``arrays``; ``absent``
    ``(n, M)`` which modalities each sample lacks (None: none); ``partner``
    the pairing (:func:`_swap_partners`). Returns the
    surrogate outputs, one ``(n, C)`` array per modality, and an ``(n, M)``
    mask of the samples whose pair has two samples (one alone, in a group of
    odd size, swaps with itself and measures nothing) with the same modalities,
    modality ``m`` among them: an absent one cannot be swapped, and the
    identity needs the expert's terms to be those of one set of modalities
    (an expert additive within each set, whose terms change with the set,
    would otherwise look joint).
    """
    n = arrays[0].shape[0]
    present = np.ones((n, len(arrays)), dtype=bool) if absent is None else ~absent
    paired = (partner != np.arange(n)) & (present == present[partner]).all(axis=1)
    joint_of = getattr(final, "_synergy_joint", None)  # None: a stand-in for a fitted estimator
    synergy = joint_of is not None and final.expert_names_[expert] == "synergy"
    joint = joint_of(arrays) if synergy else None
    surrogates = []
    for m in range(len(arrays)):
        swapped = [a[partner] if k == m else a for k, a in enumerate(arrays)]
        if joint is None:
            # row i: sample i with modality m from its partner, s(m_j, rest_i)
            out = np.asarray(final._explain_arrays(swapped).expert_outputs, np.float64)[:, expert]
            surrogates.append(out[partner] + out - own[partner])
        else:  # the per-modality terms of s(m_j, rest_i) and s(m_i, rest_j) cancel
            change = np.asarray(joint_of(swapped), np.float64) - joint
            surrogates.append(own + change + change[partner])
    return surrogates, present & paired[:, None]
