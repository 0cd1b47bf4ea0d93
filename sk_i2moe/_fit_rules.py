"""The rules a fit applies to its data: epochs, members, held-out rows, constant outputs.

How many epochs a refit trains (``REFIT_MIN_EPOCHS`` and the waiver of that
floor), how many ensemble members ``n_members="auto"`` trains, which rows
the held-out part keeps, the constant outputs the absence shrinkage moves
towards, and the warning of modalities few training rows have. The
estimators (``sk_i2moe._base``) apply them; their docstrings
(``sk_i2moe._docstrings``) quote the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

from ._data import ModalityDataset
from ._warn import warn

#: the fewest held-out samples ``early_stopping="auto"`` chooses the epochs on
AUTO_MIN_VALIDATION = 20

#: a modality that fewer training rows than this have (and fewer than half of them) draws a
#: warning at fit: a held-out fifth of its rows would hold fewer than ``AUTO_MIN_VALIDATION``
#: of them, too few to check the experts that read it (such a modality can cost or add much,
#: and its rows cannot tell which: ``benchmarks/README.md``, "A modality few training rows have")
FEW_MODALITY_ROWS = 5 * AUTO_MIN_VALIDATION

#: the fewest epochs a ``"refit"``/``"auto"`` fit trains on all the data (or
#: ``max_epochs`` if fewer): the held-out loss can bottom out before the
#: reweighting network has settled which expert serves which samples
REFIT_MIN_EPOCHS = 10


def refit_epochs(best: int, max_epochs: int) -> int:
    """The epochs a refit trains on all the data, the search's ``best`` epoch given.

    At least ``REFIT_MIN_EPOCHS`` (or ``max_epochs`` if fewer); the fit waives
    the floor where the held-out rows show that it costs most of the skill
    (``FLOOR_LOSS_Z``).
    """
    return max(best, min(REFIT_MIN_EPOCHS, max_epochs))


#: the refit trains the search's best epoch count instead of the floor where the held-out
#: rows show (a one-sided z above this) that the search's network, after as many epochs as
#: the floor, keeps less than half the best epoch's skill: its calibrated loss is above the
#: midpoint of the best epoch's and the best constant output's. Past the best epoch the loss
#: may rise because the outputs grow confident, which the temperature undoes; a network that
#: fits noise loses its ranking, which no temperature restores
FLOOR_LOSS_Z = 2.0


def best_constant(
    objective: torch.nn.Module, data: ModalityDataset, n_outputs: int
) -> torch.Tensor:
    """The constant output ``[n_outputs]`` with the least weighted task loss on ``data``.

    The log of the weighted class rates, the weighted label rates' log-odds,
    or the target's location of least loss (mean, or a Huber location for
    ``smooth_l1``), whatever ``objective``'s criterion asks; found by L-BFGS
    in float64, so that one rule serves every criterion
    (:func:`_least_loss_outputs`). A class or label absent from ``data``
    gets a large finite negative value, where the optimum is ``-inf``.
    """
    lacking = torch.zeros(len(data), 0, dtype=torch.float64)
    return _least_loss_outputs(objective, data, lacking, n_outputs)[0]


#: the penalty on what lacking a modality adds to the constant output (absence_constants),
#: in units of the summed sample weight: a modality that the rows of one class alone lack
#: gets a finite shift
ABSENCE_SHIFT_PENALTY = 1.0


def absence_constants(
    objective: torch.nn.Module, data: ModalityDataset, n_outputs: int, by_pattern: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The constant output of each pattern of absent modalities, additive in the modalities.

    The outputs ``c + sum_{m lacking} shift[m]`` with the least weighted task
    loss on ``data`` plus ``ABSENCE_SHIFT_PENALTY / 2`` times the squared
    shifts (over the summed weight): a model on the absence indicators alone,
    as a missing-value indicator would give. ``c`` is the constant of the
    complete rows (where the rows lack modalities independently of the
    target, about the overall one); a modality no row lacks gets a shift of
    0. Without ``by_pattern`` (``absence_offset=False``: what a sample lacks
    must not inform its prediction) every pattern's constant is the best
    constant of all the rows (:func:`best_constant`), every shift 0.
    Returns ``c`` ``[n_outputs]`` and the shifts ``[M, n_outputs]``.
    """
    n_modalities = len(data.inputs)
    if not by_pattern:
        constant = best_constant(objective, data, n_outputs)
        return constant, torch.zeros(n_modalities, n_outputs, dtype=constant.dtype)
    lacking = (
        torch.zeros(len(data), n_modalities, dtype=torch.float64)
        if data.present is None
        else (~data.present).double()
    )
    coefficients = _least_loss_outputs(objective, data, lacking, n_outputs)
    return coefficients[0], coefficients[1:]


def _least_loss_outputs(
    objective: torch.nn.Module, data: ModalityDataset, design: torch.Tensor, n_outputs: int
) -> torch.Tensor:
    """``[1 + D, n_outputs]``: an intercept and ``D`` coefficients of least loss on ``data``.

    Each row's output is ``coefficients[0] + design[row] @ coefficients[1:]``
    (``design``: ``[n, D]``, float64); the coefficients but the intercept are
    penalised by ``ABSENCE_SHIFT_PENALTY``. The loss depends on the rows only
    through their targets and design rows, so each distinct pair is scored
    once with its rows' summed weight (a classifier's ``[n, C]`` becomes
    ``[C, C]`` without a design). L-BFGS in float64.
    """
    n = len(data)
    flat_y = data.y.reshape(n, -1).double()
    keys, inverse = torch.unique(torch.cat([flat_y, design], dim=1), dim=0, return_inverse=True)
    weights = torch.zeros(len(keys), dtype=torch.float64)
    weights.index_add_(0, inverse, data.sample_weight.double())
    targets = keys[:, : flat_y.shape[1]].to(data.y.dtype).reshape(len(keys), *data.y.shape[1:])
    rows = keys[:, flat_y.shape[1] :]
    coefficients = torch.zeros(
        1 + design.shape[1], n_outputs, dtype=torch.float64, requires_grad=True
    )
    optimizer = torch.optim.LBFGS(
        [coefficients],
        max_iter=200,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )
    total = float(weights.sum())

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        outputs = coefficients[0] + rows @ coefficients[1:]
        value = objective.weighted_task_loss(outputs, targets, weights)
        value = value + ABSENCE_SHIFT_PENALTY / 2 * (coefficients[1:] ** 2).sum() / total
        value.backward()
        return value

    with torch.enable_grad():
        optimizer.step(loss)
    return coefficients.detach()


def weighted_z(values: torch.Tensor, weights: torch.Tensor) -> float:
    """The weighted mean of ``values`` over its standard error.

    The error is the weighted mean's linearised (sandwich) one, ``sqrt(sum
    w^2 (x - m)^2) / sum w``, with the factor ``n / (n - 1)`` of the ``n``
    rows of positive weight: it stays honest where the weights go with the
    values (class weights, whose rare class has the noisier losses), and
    is the plain ``t`` statistic for equal weights. 0 where fewer than two
    rows count or the values do not vary and are not positive; infinite
    where they do not vary and are.
    """
    values, weights = values.double(), weights.double()
    n_counted = int((weights > 0).sum())
    if n_counted < 2:
        return 0.0
    total = float(weights.sum())
    mean = float((weights * values).sum()) / total
    spread = float((weights**2 * (values - mean) ** 2).sum())
    error = (spread * n_counted / (n_counted - 1)) ** 0.5 / total
    if error == 0:
        return math.inf if mean > 0 else 0.0
    return mean / error


def floor_loses_skill(
    at_constant: torch.Tensor, at_best: torch.Tensor, at_floor: torch.Tensor, weights: torch.Tensor
) -> bool:
    """Whether the floor's held-out losses are shown to give up most of the best epoch's skill.

    Each argument but ``weights`` holds one loss per held-out row: under the
    best constant output, after the best epoch and after the floor's
    epochs. True where the best epoch beats the constant (weighted mean) and
    the rows' ``at_floor - (at_best + at_constant) / 2`` has a weighted
    ``z`` (:func:`weighted_z`) above ``FLOOR_LOSS_Z``.
    """
    gained = float((weights * (at_constant - at_best)).sum())
    lost = at_floor - (at_best + at_constant) / 2
    return gained > 0 and weighted_z(lost, weights) > FLOOR_LOSS_Z


#: a share of the way to the constant (absence_shrinkage_) counts only where the held-out
#: rows show (a one-sided z above this) that moving their predictions that far lowers their
#: loss: a share fitted on a few dozen rows is otherwise noise, which moves good predictions
ABSENCE_SHARE_Z = 1.0


#: the most folds whose cross-fitted predictions choose the output temperature of a
#: classifier that ``early_stopping="auto"`` trains on all the data (fewer where the
#: smallest class has fewer samples)
CALIBRATION_FOLDS = 5

#: ``n_members="auto"``: ``AUTO_MEMBERS_SMALL`` members for a fit on at most
#: ``SMALL_FIT_ROWS`` rows, ``AUTO_MEMBERS`` above. On small data the members'
#: spread is what keeps the weight intervals of fits from different seeds
#: covering each other, and a member costs little there
SMALL_FIT_ROWS = 600
AUTO_MEMBERS_SMALL = 8
AUTO_MEMBERS = 4


def every_modality_trained(
    present: torch.Tensor | None,
    idx_train: np.ndarray,
    idx_valid: np.ndarray,
    clusters: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Move to the training part the held-out rows of a modality it lacks.

    A split stratified by class can put every row of a rare modality (a
    panel one patient in a hundred has) on the held-out side: the model
    would then train without it and standardise it with nothing, while
    predicting with its expert.

    Parameters
    ----------
    present : Tensor or None
        ``(n, M)`` bool, the dataset's modality mask (None: all present).
    idx_train, idx_valid : ndarray
        The split's row indices.
    clusters : ndarray or None, default=None
        A group number per row of the dataset: a group moves whole.

    Returns
    -------
    tuple of ndarray
        The indices, the moved rows appended to the training part's.
    """
    if present is None:
        return idx_train, idx_valid
    mask = present.numpy()
    lacking = ~mask[idx_train].any(axis=0)
    if not lacking.any():
        return idx_train, idx_valid
    move = mask[idx_valid][:, lacking].any(axis=1)
    if clusters is not None:
        move = np.isin(clusters[idx_valid], clusters[idx_valid][move])
    return np.concatenate([idx_train, idx_valid[move]]), idx_valid[~move]


def warn_few_rows(absent: Mapping[str, np.ndarray], weighted: str = "") -> None:
    """Warn of the modalities that only a few of the training rows have.

    Those are the modalities present in fewer than ``FEW_MODALITY_ROWS`` rows
    and in fewer than half of them: the experts that read such a modality
    learn from its rows alone, and a held-out part of them is too small to
    check those experts.

    Parameters
    ----------
    absent : mapping of str to ndarray
        Per modality, ``(n,)`` bool: the training rows that lack it.
    weighted : str, default=""
        Appended to "training rows" in the message (the rows counted).
    """
    n_rows = len(next(iter(absent.values())))
    present = {name: int((~rows).sum()) for name, rows in absent.items()}
    few = {
        name: count for name, count in present.items() if count < min(FEW_MODALITY_ROWS, n_rows / 2)
    }
    if not few:
        return
    listed = ", ".join(f"{name!r} in {count}" for name, count in few.items())
    warn(
        f"Few of the {n_rows} training rows{weighted} have some modalities ({listed}). The "
        "experts that read a modality learn from its rows alone, and with so few no held-out "
        "part can check them: one that carries nothing can be fitted as signal and worsen the "
        "predictions of the samples that have it (one that carries signal can improve them). "
        "On held-out data, compare those samples' predictions with the modality set to NaN "
        "(absent), and read interaction_report, which names an expert that takes weight "
        "while doing worse than chance; or leave the modality out.",
        UserWarning,
    )


def resolve_n_members(n_members: int | str, n_samples: int) -> int:
    """The number of mixtures a fit on ``n_samples`` rows trains (``"auto"`` resolved).

    ``"auto"`` is ``AUTO_MEMBERS_SMALL`` (8) members for at most
    ``SMALL_FIT_ROWS`` (600) rows and ``AUTO_MEMBERS`` (4) above.

    Parameters
    ----------
    n_members : int or "auto"
        The estimator's ``n_members``.
    n_samples : int
        Rows the fit is given (before any validation hold-out).

    Returns
    -------
    int
        ``n_members`` itself when it is an integer.

    Examples
    --------
    >>> from sk_i2moe._fit_rules import resolve_n_members
    >>> [resolve_n_members("auto", n) for n in (100, 600, 601, 5000)]
    [8, 8, 4, 4]
    >>> resolve_n_members(2, 100)
    2
    """
    if n_members != "auto":
        return int(n_members)
    return AUTO_MEMBERS_SMALL if n_samples <= SMALL_FIT_ROWS else AUTO_MEMBERS
