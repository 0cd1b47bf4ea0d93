"""Fusion backbones, each evaluating all experts at once (registry by name).

A backbone maps the tokens of all modalities, ``[N, T, H]`` (shared by every
expert), to a :class:`~sk_i2moe.nn.experts.FusionOutput`: per-expert logits
``[E, N, C]``, per-expert pooled latent vectors ``[E, N, D]`` and an auxiliary
loss (a scalar tensor for the sparse mixture-of-experts backbones, else None).
``N`` is the number of stacked rows (input variants x samples); ``n_variants``
tells dropout which rows belong to the same sample.

Every registered backbone has the constructor
``Backbone(n_experts, n_modalities, n_tokens, hidden_dim, n_outputs, **options)``.
A callable that is not registered is taken as a factory of one plain expert and
wrapped in :class:`~sk_i2moe.nn.custom.VmappedFusion`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

from .baselines import (
    EarlyFusion,
    InterpretCCFusion,
    LateFusion,
    LowRankTensorFusion,
    MLPFusion,
)
from .custom import VmappedFusion
from .experts import FusionOutput
from .sparse import MoEPlusPlusFusion, SwitchTransformerFusion
from .transformer import TransformerFusion

FUSIONS: dict[str, Callable[..., nn.Module]] = {
    "transformer": TransformerFusion,
    "mlp": MLPFusion,
    "early": EarlyFusion,
    "late": LateFusion,
    "lrtf": LowRankTensorFusion,
    "interpretcc": InterpretCCFusion,
    "switch": SwitchTransformerFusion,
    "moepp": MoEPlusPlusFusion,
}


def _refuse_batched_class(factory: Callable[..., nn.Module]) -> None:
    """Refuse an expert-batched backbone class given where a one-expert factory goes.

    Such a class extends a backbone of :data:`FUSIONS`, or requires
    ``n_experts`` (a one-expert factory is not given it); a class of the
    user's with an optional ``n_experts`` of its own is a one-expert module.
    """
    if not isinstance(factory, type):
        return
    extends = any(isinstance(b, type) and issubclass(factory, b) for b in FUSIONS.values())
    try:
        parameter = inspect.signature(factory).parameters.get("n_experts")
    except (TypeError, ValueError):  # no signature to read
        parameter = None
    required = parameter is not None and parameter.default is inspect.Parameter.empty
    if not (extends or required):
        return
    names = [name for name, backbone in FUSIONS.items() if backbone is factory]
    fix = (
        f"pass its name, fusion={names[0]!r}"
        if names
        else f"register it, FUSIONS['my_name'] = {factory.__name__}, and pass fusion='my_name'"
    )
    raise ValueError(
        f"{factory.__name__} is an expert-batched backbone (it takes n_experts and builds them "
        f"all), but a callable fusion is taken as a factory of one expert's module; {fix}."
    )


def make_fusion(name: str | Callable[..., nn.Module], **kwargs) -> nn.Module:
    """Build the fusion backbone registered under ``name``, or wrap a custom factory.

    Parameters
    ----------
    name : str or callable
        A key of :data:`FUSIONS`, or a factory of one plain (non-batched)
        module: ``factory(n_modalities=, n_tokens=, hidden_dim=, n_outputs=,
        **options)`` returning a module mapping ``[B, T, H]`` to ``[B, C]``;
        it is called ``n_experts`` times and batched with ``torch.func``
        (:class:`~sk_i2moe.nn.custom.VmappedFusion`).
    **kwargs
        Passed to the backbone's constructor (``n_experts``, ``n_modalities``,
        ``n_tokens``, ``hidden_dim``, ``n_outputs`` and the options).

    Returns
    -------
    torch.nn.Module
        The expert-batched backbone.

    Raises
    ------
    ValueError
        For a name that is not a key of :data:`sk_i2moe.nn.fusion.FUSIONS`,
        or a class that is (or extends) one of its expert-batched backbones,
        or requires ``n_experts``: such a class builds all the experts at
        once, not one; pass its registered name instead.

    Examples
    --------
    >>> from sk_i2moe.nn import make_fusion
    >>> fusion = make_fusion("lrtf", n_experts=4, n_modalities=2, n_tokens=2, hidden_dim=8,
    ...                      n_outputs=2, rank=3)
    >>> type(fusion).__name__
    'LowRankTensorFusion'
    """
    if callable(name) and not isinstance(name, str):
        _refuse_batched_class(name)
        return VmappedFusion(name, **kwargs)
    try:
        factory = FUSIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown fusion {name!r}; expected one of {sorted(FUSIONS)} or a module factory."
        ) from None
    return factory(**kwargs)


__all__ = [
    "FUSIONS",
    "EarlyFusion",
    "FusionOutput",
    "InterpretCCFusion",
    "LateFusion",
    "LowRankTensorFusion",
    "MLPFusion",
    "MoEPlusPlusFusion",
    "SwitchTransformerFusion",
    "TransformerFusion",
    "VmappedFusion",
    "make_fusion",
]
