"""An output temperature for a mixture whose probabilities are over-confident.

Two fits of a classifier end more confident than they are right. Where too
few samples can be held out to choose the number of epochs
(``early_stopping="auto"`` on a few dozen rows), a mixture trains for a fixed
number of epochs on every row: on 86 training rows of 6,000 features its
held-out log-loss was 3.3, where predicting the class rate gives 0.37. Where
the epochs are chosen on held-out rows and the final fit trains at least ten
(the routing settles late), it can train well past the lowest validation loss.
Dividing the logits by a temperature ``T >= 1`` fitted to predictions of rows
the predicting network did not train on (cross-fitted, or the held-out rows of
the fit that chose the epochs) removes the over-confidence without changing
which class is predicted. :func:`fit_temperature` is the rule;
:func:`set_temperature` stores it in a fitted mixture (or in each member of an
ensemble), whose evaluation-mode forward pass then applies it
(:meth:`~sk_i2moe.nn.StructuredInteractionMoE.set_output_temperature`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from torch import nn

from .ensemble import mixtures_of

#: the buffers of a mixture that hold its output temperature and its absence shrinkage
#: (state-dict name endings)
CALIBRATION_BUFFERS = (
    "output_temperature",
    "absence_shrinkage",
    "absence_prior",
    "absence_prior_shift",
)

#: the largest temperature :func:`fit_temperature` returns: predictions that carry no
#: information on held-out rows end (almost) at the uniform distribution
MAX_TEMPERATURE = 1e3


def fit_temperature(
    logits: torch.Tensor,
    loss: Callable[[torch.Tensor], torch.Tensor],
    max_temperature: float = MAX_TEMPERATURE,
) -> float:
    """The temperature in ``[1, max_temperature]`` whose scaled logits have the least loss.

    Only temperatures of at least 1 are considered: the rule can make a
    model less confident, never more. (Sharpening by cross-fitted
    predictions fails where they are nearly perfect: the fitted temperature
    then goes to 0 and one wrong prediction on new data costs without bound.)
    The loss of the scaled logits is convex in ``1 / T`` for cross-entropy
    and binary cross-entropy, so a bounded one-dimensional search finds the
    minimum.

    Parameters
    ----------
    logits : Tensor
        ``[n, C]`` cross-fitted logits: each row from a model that did not
        train on it.
    loss : callable
        Maps scaled logits ``[n, C]`` to the (weighted) mean loss, a scalar
        tensor.
    max_temperature : float, default=MAX_TEMPERATURE
        The largest temperature returned.

    Returns
    -------
    float
        The temperature; 1 when scaling does not lower the loss.

    Raises
    ------
    ValueError
        For a ``max_temperature`` that is not a finite number of at least 1.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn.calibration import fit_temperature
    >>> y = torch.tensor([0, 1, 0, 1])
    >>> logits = torch.tensor([[9.0, -9.0], [-9.0, 9.0], [-9.0, 9.0], [9.0, -9.0]])
    >>> ce = lambda z: torch.nn.functional.cross_entropy(z, y)
    >>> round(fit_temperature(logits, ce))  # half wrong: nothing to trust
    1000
    >>> fit_temperature(logits[:2], lambda z: torch.nn.functional.cross_entropy(z, y[:2]))
    1.0
    """
    if not (isinstance(max_temperature, numbers.Real) and 1.0 <= max_temperature < math.inf):
        raise ValueError(
            f"max_temperature must be a finite number of at least 1 (the rule only softens); "
            f"got {max_temperature!r}."
        )
    logits = logits.detach().double()

    def scaled_loss(inverse: float) -> float:
        with torch.no_grad():
            return float(loss(logits * inverse))

    found = minimize_scalar(
        scaled_loss, bounds=(1.0 / max_temperature, 1.0), method="bounded", options={"xatol": 1e-6}
    )
    # the search does not evaluate the bounds themselves; a tie keeps T = 1
    inverse = min((1.0, found.x, 1.0 / max_temperature), key=scaled_loss)
    return float(np.clip(1.0 / inverse, 1.0, max_temperature))


def fit_shrinkage(
    outputs: torch.Tensor, prior: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor]
) -> float:
    """The share ``s`` in ``[0, 1]`` for which ``(1 - s) outputs + s prior`` has the least loss.

    The loss is convex in ``s`` for a loss convex in the outputs (cross-entropy,
    binary cross-entropy, squared error, Huber), so a bounded one-dimensional
    search finds the minimum.

    Parameters
    ----------
    outputs : Tensor
        ``[n, C]`` outputs of rows the predicting model did not train on.
    prior : Tensor
        ``[C]`` the constant output to move towards, or ``[n, C]``, one per row.
    loss : callable
        Maps outputs ``[n, C]`` to the (weighted) mean loss, a scalar tensor.

    Returns
    -------
    float
        The share; 0 when moving towards ``prior`` does not lower the loss.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn.calibration import fit_shrinkage
    >>> y = torch.tensor([0, 1, 0, 1])
    >>> outputs = torch.tensor([[9.0, -9.0], [-9.0, 9.0], [-9.0, 9.0], [9.0, -9.0]])
    >>> ce = lambda z: torch.nn.functional.cross_entropy(z, y)
    >>> round(fit_shrinkage(outputs, torch.zeros(2), ce), 3)  # half wrong: the prior
    1.0
    >>> ce2 = lambda z: torch.nn.functional.cross_entropy(z, y[:2])
    >>> fit_shrinkage(outputs[:2], torch.zeros(2), ce2)  # right: keep them
    0.0
    """
    outputs, prior = outputs.detach().double(), prior.detach().double()

    def moved_loss(share: float) -> float:
        with torch.no_grad():
            return float(loss((1 - share) * outputs + share * prior))

    found = minimize_scalar(
        moved_loss, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-6}
    )
    # the search does not evaluate the bounds themselves; a tie keeps 0
    return float(np.clip(min((0.0, found.x, 1.0), key=moved_loss), 0.0, 1.0))


def set_absence_shrinkage(
    module: nn.Module,
    shrinkage: Sequence[float],
    prior: torch.Tensor,
    prior_shift: torch.Tensor | None = None,
) -> None:
    """Store the absence shrinkage in ``module``'s mixture, or in each member of an ensemble.

    See :meth:`~sk_i2moe.nn.StructuredInteractionMoE.set_absence_shrinkage`.

    Parameters
    ----------
    module : Module
        A :class:`~sk_i2moe.nn.StructuredInteractionMoE` or an ensemble of
        them (:func:`calibratable`).
    shrinkage : sequence of float
        One value in ``[0, 1]`` per modality.
    prior : Tensor
        ``[C]`` the constant output of samples with every modality.
    prior_shift : Tensor, optional
        ``[M, C]`` what lacking each modality adds to the constant; None: 0.

    Raises
    ------
    ValueError
        When ``module`` cannot hold one (the paper's mixture).
    """
    if not calibratable(module):
        raise ValueError(
            f"{type(mixtures_of(module)[0]).__name__} has no absence shrinkage; use a "
            "StructuredInteractionMoE (interaction_constraint='structure')."
        )
    for member in mixtures_of(module):
        member.set_absence_shrinkage(shrinkage, prior, prior_shift)


def calibratable(module: nn.Module | type) -> bool:
    """Whether ``module`` can hold an output temperature.

    Parameters
    ----------
    module : Module or type
        A mixture, an ensemble of them, or a kind of mixture (the class).

    Returns
    -------
    bool
        True for a :class:`~sk_i2moe.nn.StructuredInteractionMoE` (or an
        ensemble of them, or the class itself).
    """
    return all(hasattr(m, "set_output_temperature") for m in mixtures_of(module))


def set_temperature(module: nn.Module, temperature: float) -> None:
    """Store ``temperature`` in ``module``'s mixture, or in each member of an ensemble.

    Parameters
    ----------
    module : Module
        A :class:`~sk_i2moe.nn.StructuredInteractionMoE` or an ensemble of
        them (:func:`calibratable`).
    temperature : float
        Positive; 1 predicts with the outputs as trained.

    Raises
    ------
    ValueError
        When ``module`` cannot hold a temperature (the paper's mixture).
    """
    if not calibratable(module):
        raise ValueError(
            f"{type(mixtures_of(module)[0]).__name__} has no output temperature; use a "
            "StructuredInteractionMoE (interaction_constraint='structure')."
        )
    for member in mixtures_of(module):
        member.set_output_temperature(temperature)


def output_temperature(module: nn.Module) -> float:
    """The temperature ``module`` divides its outputs by at prediction (1 when it has none)."""
    members = mixtures_of(module)
    return float(members[0].output_temperature) if calibratable(module) else 1.0


def absence_shrinkage(module: nn.Module) -> list[float] | None:
    """Per modality, the share of the way to the constant output a sample lacking it moves.

    None for a module that cannot hold one (the paper's mixture); see
    :func:`set_absence_shrinkage`.
    """
    if not calibratable(module):
        return None
    return [float(s) for s in mixtures_of(module)[0].absence_shrinkage]
