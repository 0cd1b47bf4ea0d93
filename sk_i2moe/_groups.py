"""Groups of samples (a patient's visits, a hospital's patients) and splits that keep them whole.

Samples of one group are not independent: a split that puts some of a
patient's visits on each side scores the model on what it has seen. The
fit's internal split (``fit(groups=...)``) and the report's cross-fitted
models (``interaction_report(groups=...)``) both take their groups from
:func:`group_numbers` and their folds from :func:`group_folds`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.model_selection import StratifiedGroupKFold

from ._modalities import refuse_reordered_rows


def group_numbers(groups: object, n: int, rows: np.ndarray | None, role: str) -> np.ndarray | None:
    """``groups`` checked and numbered ``0`` to ``G - 1`` in their order of appearance.

    None for None. Refuses what is not one hashable, non-missing label per
    row of ``X``, and a pandas object whose row labels are ``X``'s in another
    order. Labels that compare equal (``1``, ``1.0`` and ``True``) are one
    group, as in a dict.

    Parameters
    ----------
    groups : array-like of shape (n,) or None
        The caller's group labels.
    n : int
        The number of rows of ``X``.
    rows : ndarray or None
        ``X``'s row labels (``_modalities.row_labels``), None when it has none.
    role : str
        What the rows are to the caller, for the messages (``"held-out"``,
        ``"training"``).

    Returns
    -------
    ndarray of int64 or None
        Each row's group number.
    """
    if groups is None:
        return None
    if hasattr(groups, "__array__") and not sp.issparse(groups):  # arrays, pandas, polars
        one_dimensional = np.ndim(groups) == 1
    else:  # a list or tuple of labels, each a tuple (or a list: unhashable, refused below)
        one_dimensional = isinstance(groups, (list, tuple, range))
    if not one_dimensional:
        shape = f" of shape {np.shape(groups)}" if hasattr(groups, "shape") else ""
        raise ValueError(
            f"groups must be one label per {role} sample (a 1-D array-like of length {n}); "
            f"got {type(groups).__name__}{shape}."
        )
    if len(groups) != n:
        raise ValueError(
            f"groups has {len(groups)} labels but X has {n} samples; pass one group label "
            "(a patient id, say) per row of X."
        )
    refuse_reordered_rows(rows, None, None, groups=groups)
    if hasattr(groups, "__array__"):
        labels = pd.Series(np.asarray(groups, dtype=object))
    else:  # element by element: tuples stay labels
        labels = pd.Series(list(groups), dtype=object)
    if labels.isna().any():
        raise ValueError(
            f"groups has {int(labels.isna().sum())} missing labels (None or NaN) at rows "
            f"{np.flatnonzero(labels.isna().to_numpy())[:5].tolist()}: give every {role} "
            "sample its group (a sample on its own is a group of one)."
        )
    try:
        return pd.factorize(labels, sort=False)[0].astype(np.int64)
    except TypeError as error:
        raise TypeError(f"groups must hold hashable labels: {error}") from None


def shared_groups(clusters: np.ndarray | None) -> np.ndarray | None:
    """``clusters``, or None where every sample is a group of its own.

    Groups of one sample each are independent samples: the fit and the
    report then do what they do without groups, to the last bit.
    """
    if clusters is None or len(np.unique(clusters)) == len(clusters):
        return None
    return clusters


def group_folds(
    classes: np.ndarray | None, clusters: np.ndarray, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """``n_folds`` train/test splits that put every group's samples in one fold.

    Stratified by ``classes`` (class indices) as far as the groups allow
    (:func:`_stratified_group_splits`); without classes the groups are dealt
    to the folds in a random order. None where the groups are fewer than the
    folds, or a class present among the samples is missing from some fold's
    training samples.

    Parameters
    ----------
    classes : ndarray of shape (n,) or None
        Each sample's class index; None for targets that are not one class.
    clusters : ndarray of shape (n,)
        Each sample's group number.
    n_folds : int
        The number of folds.
    seed : int
        The shuffling's seed.

    Returns
    -------
    list of (ndarray, ndarray) or None
        Each fold's training and test sample indices.
    """
    n = len(clusters)
    clusters = np.unique(clusters, return_inverse=True)[1].reshape(n)  # 0 to G - 1, all used
    n_groups = int(clusters.max()) + 1
    if n_groups < n_folds:
        return None
    if classes is None:  # the groups dealt to the folds in a random order
        order = np.random.default_rng(seed).permutation(n_groups)
        fold = np.empty_like(order)
        fold[order] = np.arange(n_groups) % n_folds
        of_row = fold[clusters]
        return [(np.flatnonzero(of_row != k), np.flatnonzero(of_row == k)) for k in range(n_folds)]
    splits = _stratified_group_splits(classes, clusters, n_folds, seed)
    if not all(_every_class(classes, train) for train, _ in splits):
        return None
    return splits


def group_holdout(
    classes: np.ndarray | None, clusters: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """A training and a held-out part of about ``fraction`` of the samples, whole groups each.

    The groups go to ``round(1 / fraction)`` folds (``round(1 / (1 -
    fraction))`` for a fraction above one half, where all but one fold is
    held out) stratified by class, or without classes balanced in samples
    (:func:`_stratified_group_splits`). Of these candidates, those with
    every class on both sides, the held-out part is the one whose share of
    the samples is nearest ``fraction`` (ties broken at random by
    ``seed``): neither a dominant group nor the folds' order decides it.
    None where the groups are fewer than the folds or no candidate has
    every class on both sides (:func:`holdout_obstacle` says which).

    Parameters
    ----------
    classes : ndarray of shape (n,) or None
        Each sample's class index; None for targets that are not one class.
    clusters : ndarray of shape (n,)
        Each sample's group number.
    fraction : float
        The share of the samples to hold out, in ``(0, 1)``.
    seed : int
        The shuffling's seed.

    Returns
    -------
    tuple of ndarray or None
        The training and the held-out sample indices.
    """
    n = len(clusters)
    n_folds = _holdout_folds(fraction)
    if len(np.unique(clusters)) < n_folds:
        return None
    strata = np.zeros(n, np.int64) if classes is None else classes
    splits = _stratified_group_splits(strata, clusters, n_folds, seed)
    candidates = [
        (held_out, train) if fraction > 0.5 else (train, held_out) for train, held_out in splits
    ]
    usable = [
        (train, held_out)
        for train, held_out in candidates
        if _every_class(strata, train) and _every_class(strata, held_out)
    ]
    if not usable:
        return None
    order = np.random.default_rng(seed).permutation(len(usable))
    nearest = min(order, key=lambda i: abs(len(usable[i][1]) / n - fraction))
    return usable[nearest]


def holdout_obstacle(
    classes: np.ndarray | None, clusters: np.ndarray, fraction: float, labels: np.ndarray | None
) -> str:
    """Why :func:`group_holdout` finds no split, in words for a message.

    Parameters
    ----------
    classes : ndarray of shape (n,) or None
        Each sample's class index; None for targets that are not one class.
    clusters : ndarray of shape (n,)
        Each sample's group number.
    fraction : float
        The share of the samples to hold out.
    labels : ndarray or None
        The class of each class index, for the message.

    Returns
    -------
    str
        A clause: what keeps the groups from being split.
    """
    n_groups = len(np.unique(clusters))
    n_folds = _holdout_folds(fraction)
    if n_groups < n_folds:
        return (
            f"{n_groups} groups are fewer than the {n_folds} folds of groups that "
            f"validation_fraction={fraction} asks for"
        )
    if classes is None:
        return f"no split of the groups into {n_folds} folds is possible"
    pairs = np.unique(np.column_stack([classes, clusters]), axis=0)
    per_class = np.bincount(pairs[:, 0], minlength=int(classes.max()) + 1)
    alone = [repr(labels[c]) for c in np.flatnonzero(per_class == 1)]
    if alone:
        which = f"class {alone[0]} is" if len(alone) == 1 else f"classes {', '.join(alone[:5])} are"
        return f"{which} found in one group only, and no split of whole groups has it on both sides"
    return f"no split of the groups into {n_folds} folds has every class on both sides"


def _holdout_folds(fraction: float) -> int:
    """The number of folds whose one fold (or all but one) is about ``fraction``."""
    return max(2, round(1 / min(fraction, 1 - fraction)))


def _stratified_group_splits(
    classes: np.ndarray, clusters: np.ndarray, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:class:`~sklearn.model_selection.StratifiedGroupKFold`'s splits, shuffled by ``seed``.

    A class of fewer samples than folds cannot be in every fold, and is left
    out of the stratification (scikit-learn warns of it, or refuses it where
    every class is so small). With one class the folds balance the samples.
    """
    counts = np.bincount(classes)
    present = np.flatnonzero(counts)
    strata = np.where(counts[classes] < n_folds, present[np.argmax(counts[present])], classes)
    folds = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(classes)), strata, clusters))


def _every_class(classes: np.ndarray, rows: np.ndarray) -> bool:
    """Whether ``rows`` hold every class of ``classes``."""
    return len(np.unique(classes[rows])) == len(np.unique(classes))
