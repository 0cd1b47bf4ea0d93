"""Expert-batched building blocks.

Every tensor that flows through the experts carries a leading *expert* axis of
size ``E``; every layer holds ``E`` independent sets of weights stacked along
that axis and runs them in one batched kernel. The ``M + 1`` input variants
(clean plus one per replaced modality) are stacked along the sample axis, so
the whole ``E x (M + 1)`` grid of expert passes is a single computation.

Some backbones hold a grid of weight sets per expert (one per modality, one per
feed-forward expert of a sparse layer): their layers take a tuple of leading
sizes such as ``(E, K)``. Every parameter of every built-in backbone starts with
the expert axis ``E``, so slicing ``[e:e + 1]`` of each parameter gives a
one-expert backbone computing exactly what expert ``e`` computes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ._kernels import keep_mask, stack_variants


class FusionOutput(NamedTuple):
    """What a fusion backbone returns.

    Attributes
    ----------
    logits : Tensor
        ``[E, N, C]`` every expert's output for every row.
    latent : Tensor
        ``[E, N, D]`` every expert's pooled representation (the input of its
        output head); the interaction losses use it with ``loss_on="latent"``.
    aux_loss : Tensor or None
        Scalar auxiliary loss of the backbone (the load-balancing loss of the
        sparse mixture-of-experts layers), part of the autograd graph; None for
        backbones without one.
    """

    logits: torch.Tensor
    latent: torch.Tensor
    aux_loss: torch.Tensor | None = None


def n_uniqueness_experts(n_experts: int) -> int:
    """How many of a structured mixture's ``n_experts`` experts are uniqueness experts.

    The structured expert set is ordered ``uniqueness[0 .. M-1]`` (or none),
    ``synergy``, ``redundancy``: all but the last two, which is also the
    synergy expert's index.

    >>> n_uniqueness_experts(5)
    3
    """
    return n_experts - 2


def check_backbone_option(name: str, value: object, minimum: float, integer: bool = True) -> None:
    """Refuse a backbone option (a ``fusion_kwargs`` entry) outside its range, naming it.

    Parameters
    ----------
    name : str
        The option's name.
    value : object
        Its value.
    minimum : float
        The smallest value allowed (exclusive for a real-valued option, whose
        value must be above it; inclusive for an integer one).
    integer : bool, default=True
        Whether the option is a count.

    Raises
    ------
    ValueError
        Naming the option, its value and the range.
    """
    if integer:
        if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
            raise ValueError(
                f"The backbone option {name} must be an integer of at least {minimum:g}; got "
                f"{value!r}. Change it in fusion_kwargs, or leave it out for the default."
            )
    elif isinstance(value, bool) or not isinstance(value, Real) or not value > minimum:
        raise ValueError(
            f"The backbone option {name} must be a number above {minimum:g}; got {value!r}. "
            "Change it in fusion_kwargs, or leave it out for the default."
        )


def _lead(n_experts: int | Sequence[int]) -> tuple[int, ...]:
    return (n_experts,) if isinstance(n_experts, int) else tuple(n_experts)


class AloneOutput(NamedTuple):
    """What a structured mixture needs from its backbone: each expert on its rows.

    The uniqueness experts come first on the expert axis; each is evaluated on
    its own modality alone. The other experts (synergy, redundancy) are
    evaluated on the clean input and on each modality alone.

    Attributes
    ----------
    unique : Tensor
        ``[U, B, C]``: uniqueness expert ``u`` on modality ``u`` alone.
    clean : Tensor
        ``[E - U, B, C]``: the other experts on the clean input.
    alone : Tensor
        ``[E - U, M, B, C]``: the other experts on each modality alone.
    aux_loss : Tensor or None
        As in :class:`FusionOutput`.
    none : Tensor or None
        ``[E - U, B, C]``: the other experts with every modality absent, one
        row per sample so that in training each shares its sample's dropout
        mask (None where not computed: in evaluation the pass is the same
        for every sample).
    """

    unique: torch.Tensor
    clean: torch.Tensor
    alone: torch.Tensor
    aux_loss: torch.Tensor | None = None
    none: torch.Tensor | None = None


def alone_from_variants(
    fused: FusionOutput, n_unique: int, n_modalities: int, absent_too: bool = False
) -> AloneOutput:
    """Pick an :class:`AloneOutput` from every expert's passes over all variants.

    Parameters
    ----------
    fused : FusionOutput
        A backbone's output on the stacked variants of
        :func:`single_modality_variants` (clean first), all ``E`` experts.
    n_unique : int
        Number of uniqueness experts ``U`` (the first ``U`` on the expert axis).
    n_modalities : int
        Number of modalities ``M``.
    absent_too : bool, default=False
        Whether the variants end with the all-absent one (``M + 2`` variants);
        it gives :attr:`AloneOutput.none`.

    Returns
    -------
    AloneOutput
    """
    n_variants = n_modalities + 1 + absent_too
    logits = fused.logits.unflatten(1, (n_variants, -1))  # [E, V, B, C]
    clean, alone = logits[:, 0], logits[:, 1 : n_modalities + 1]
    unique = alone[:n_unique].diagonal(dim1=0, dim2=1).permute(2, 0, 1)  # [U, B, C]
    none = logits[n_unique:, -1] if absent_too else None
    return AloneOutput(unique, clean[n_unique:], alone[n_unique:], fused.aux_loss, none)


class ExpertLinear(nn.Module):
    """Independent affine maps evaluated with one batched matmul.

    Parameters
    ----------
    n_experts : int or tuple of int
        Number of independent weight sets ``E``, or the leading shape of a grid
        of weight sets, e.g. ``(E, K)``.
    in_features, out_features : int
        Size of each input and output sample.

    Notes
    -----
    Each weight set is initialised independently with the same distribution as
    :class:`torch.nn.Linear` (uniform in ``[-1/sqrt(in), 1/sqrt(in)]``).
    """

    def __init__(self, n_experts: int | Sequence[int], in_features: int, out_features: int) -> None:
        super().__init__()
        lead = _lead(n_experts)
        self.weight = nn.Parameter(torch.empty(*lead, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(*lead, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh, independent weights for every expert."""
        bound = 1.0 / math.sqrt(self.weight.shape[-2])
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, shared: bool = False) -> torch.Tensor:
        """Apply every expert's map.

        Parameters
        ----------
        x : Tensor
            ``[*lead, *, in]`` (one input per weight set) or, with
            ``shared=True``, ``[*, in]`` (one input seen by all weight sets).
        shared : bool, default=False
            Whether ``x`` lacks the leading axes and is broadcast to all sets.

        Returns
        -------
        Tensor
            ``[*lead, *, out]``.
        """
        return _batched_affine(x, self.weight, self.bias, shared)


def _batched_affine(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, shared: bool = False
) -> torch.Tensor:
    """``x @ weight + bias`` for every weight set.

    ``weight`` is ``[*lead, in, out]`` and ``bias`` ``[*lead, out]``; ``x`` as in
    :meth:`ExpertLinear.forward`.
    """
    *lead, in_features, out_features = weight.shape
    n_sets = math.prod(lead)
    if shared:
        # one input for every weight set: a single matmul against all the sets'
        # weights side by side, [R, in] @ [in, S * out]; the result is viewed
        # [S, R, out] without a copy. Backward is two plain matmuls as well,
        # with no [S, R, in] gradient to reduce over the sets.
        rows = x.shape[:-1]
        side_by_side = weight.reshape(n_sets, in_features, out_features).transpose(0, 1)
        out = torch.addmm(
            bias.reshape(n_sets * out_features),
            x.reshape(-1, in_features),
            side_by_side.reshape(in_features, n_sets * out_features),
        )
        out = out.view(-1, n_sets, out_features).transpose(0, 1)
        return out.reshape(*lead, *rows, out_features)
    rows = x.shape[len(lead) : -1]
    flat = x.reshape(n_sets, -1, in_features)
    out = torch.baddbmm(
        bias.reshape(n_sets, 1, out_features),
        flat,
        weight.reshape(n_sets, in_features, out_features),
    )
    return out.reshape(*lead, *rows, out_features)


class ExpertLayerNorm(nn.Module):
    """Layer normalisation over the last axis with per-expert affine parameters.

    Parameters
    ----------
    n_experts : int
        Number of experts ``E``.
    normalized_shape : int
        Size of the last axis.
    eps : float, default=1e-5
        Added to the variance for numerical stability.
    """

    def __init__(self, n_experts: int, normalized_shape: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_experts, normalized_shape))
        self.bias = nn.Parameter(torch.zeros(n_experts, normalized_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape ``[E, *, H]``."""
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        normed = F.layer_norm(x, x.shape[-1:], eps=self.eps)
        return torch.addcmul(self.bias.view(shape), normed, self.weight.view(shape))


def fold_norm(
    norm: ExpertLayerNorm, weight: torch.Tensor, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold ``norm``'s affine map into the affine map ``(weight, bias)`` that follows it.

    ``weight`` is ``[E, H, out]`` and ``bias`` ``[E, out]``.

    ``(n * g + b) W + c = n (g[:, None] * W) + (b W + c)``: the per-expert scale
    and shift are applied to the small weight tensors instead of the large
    activation tensor, which saves one elementwise pass forward and two
    backward. Returns the folded ``(weight, bias)``.
    """
    folded_weight = norm.weight.unsqueeze(-1) * weight
    folded_bias = torch.baddbmm(bias.unsqueeze(1), norm.bias.unsqueeze(1), weight).squeeze(1)
    return folded_weight, folded_bias


def normed_linear(x: torch.Tensor, norm: ExpertLayerNorm, linear: ExpertLinear) -> torch.Tensor:
    """``linear(norm(x))``, the norm's affine map folded into the linear map (:func:`fold_norm`).

    ``x`` is ``[E, *, H]``; returns ``[E, *, out]``.
    """
    weight, bias = fold_norm(norm, linear.weight, linear.bias)
    return _batched_affine(F.layer_norm(x, x.shape[-1:], eps=norm.eps), weight, bias)


def _variant_mask(
    x: torch.Tensor, p: float, n_variants: int, row_dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` viewed ``[*lead, V, B, ...]`` and a variant-shared mask ``[*lead, 1, B, ...]``."""
    n_rows = x.shape[row_dim]
    grouped = x.unflatten(row_dim, (n_variants, n_rows // n_variants))
    return grouped, keep_mask(grouped.narrow(row_dim, 0, 1), p)


def variant_shared_dropout(
    x: torch.Tensor,
    p: float,
    n_variants: int,
    training: bool,
    row_dim: int = 1,
) -> torch.Tensor:
    """Dropout whose mask is shared by the input variants of a sample.

    The interaction losses compare a sample's clean output with its perturbed
    outputs; independent dropout masks would make those outputs differ through
    dropout noise alone. Here each (expert, sample, feature) draws one mask that
    all ``n_variants`` copies of the sample use.

    Parameters
    ----------
    x : Tensor
        ``[*lead, V * B, ...]`` with the variant axis outermost in the row axis.
    p : float
        Drop probability (kept entries are scaled by the inverse of the keep
        probability; see :func:`~sk_i2moe.nn._kernels.keep_mask`).
    n_variants : int
        ``V``, the number of stacked variants.
    training : bool
        Dropout is the identity when False or when ``p == 0``.
    row_dim : int, default=1
        Position of the row axis (after the leading expert axes).

    Returns
    -------
    Tensor
        Same shape as ``x``.
    """
    if not training or p == 0.0:
        return x
    grouped, mask = _variant_mask(x, p, n_variants, row_dim)
    # out of place: an in-place product on the grouped view would make
    # autograd clone and copy back the whole gradient in the backward pass
    return (grouped * mask).reshape(x.shape)


def residual_dropout(
    residual: torch.Tensor,
    x: torch.Tensor,
    p: float,
    n_variants: int,
    training: bool,
    row_dim: int = 1,
) -> torch.Tensor:
    """``residual + variant_shared_dropout(x, ...)`` in one elementwise kernel.

    Parameters
    ----------
    residual, x : Tensor
        Same shape, ``[*lead, V * B, ...]``.
    p, n_variants, training, row_dim
        As in :func:`variant_shared_dropout`.

    Returns
    -------
    Tensor
        Same shape as ``x``.
    """
    if not training or p == 0.0:
        return residual + x
    grouped, mask = _variant_mask(x, p, n_variants, row_dim)
    res = residual.unflatten(row_dim, grouped.shape[row_dim : row_dim + 2])
    return torch.addcmul(res, grouped, mask).reshape(x.shape)


class ExpertMLP(nn.Module):
    """Expert-batched MLP: ``n_layers`` x (linear, GELU, dropout), then a linear head.

    Parameters
    ----------
    n_experts : int or tuple of int
        Leading shape of the weight sets (``E`` or e.g. ``(E, M)``).
    in_features : int
        Input width.
    hidden_dim : int
        Width of the hidden layers.
    n_layers : int
        Number of hidden layers (0 gives a linear map).
    n_outputs : int
        Output width.
    dropout : float
        Variant-shared dropout after every hidden layer.
    """

    def __init__(
        self,
        n_experts: int | Sequence[int],
        in_features: int,
        hidden_dim: int,
        n_layers: int,
        n_outputs: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.lead = _lead(n_experts)
        self.dropout = dropout
        widths = [in_features] + [hidden_dim] * n_layers
        self.hidden = nn.ModuleList(
            ExpertLinear(self.lead, w_in, w_out) for w_in, w_out in zip(widths, widths[1:])
        )
        self.head = ExpertLinear(self.lead, widths[-1], n_outputs)

    def forward(
        self, x: torch.Tensor, n_variants: int = 1, shared: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(output [*lead, N, out], last hidden [*lead, N, hidden])``.

        ``x`` is ``[*lead, N, in]``, or ``[N, in]`` seen by every weight set
        with ``shared=True``.
        """
        if not self.hidden:
            h = x.expand(*self.lead, *x.shape) if shared else x
            return self.head(h), h
        return self.forward_from_first(self.hidden[0](x, shared=shared), n_variants)

    def logits_of(self, x: torch.Tensor, experts: slice, shared: bool = False) -> torch.Tensor:
        """The output of :meth:`forward` for the weight sets ``experts`` only.

        ``experts`` is a slice of the first leading axis; ``x`` is as in
        :meth:`forward` (with ``shared=False``, only the sliced sets' inputs).
        The other sets are not computed.
        """
        first = self.hidden[0] if self.hidden else self.head
        out = _batched_affine(x, first.weight[experts], first.bias[experts], shared)
        return self.forward_from_first(out, 1, experts)[0] if self.hidden else out

    def forward_from_first(
        self, pre: torch.Tensor, n_variants: int = 1, experts: slice = slice(None)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Finish :meth:`forward` from the first layer's pre-activation ``[*lead, N, hidden]``.

        For callers that compute the first (linear) layer themselves, e.g. from
        per-modality partial products (:meth:`MLPFusion.forward_variants`).
        ``experts`` runs only those weight sets (a slice of the first leading
        axis; ``pre`` then has that many on its first axis).
        """
        h = pre
        for i, layer in enumerate(self.hidden):
            if i:
                h = _batched_affine(h, layer.weight[experts], layer.bias[experts])
            h = F.gelu(h)
            h = variant_shared_dropout(
                h, self.dropout, n_variants, self.training, row_dim=len(self.lead)
            )
        return _batched_affine(h, self.head.weight[experts], self.head.bias[experts]), h


def pool_modalities(x: torch.Tensor, n_modalities: int) -> torch.Tensor:
    """Mean-pool each modality's tokens and concatenate: ``[..., T, H] -> [..., M * H]``."""
    *lead, n_tokens, hidden = x.shape
    per_modality = x.reshape(*lead, n_modalities, n_tokens // n_modalities, hidden)
    return per_modality.mean(-2).reshape(*lead, n_modalities * hidden)


def replaced_modalities(
    modalities: torch.Tensor | Sequence[int] | None, n_modalities: int
) -> list[int]:
    """The modalities a set of perturbed variants replaces, as a list.

    Parameters
    ----------
    modalities : Tensor, sequence of int or None
        Indices of the replaced modalities; None means all of them.
    n_modalities : int
        Number of modalities ``M``.

    Returns
    -------
    list of int
        ``modalities`` as a list, or ``[0, ..., M - 1]``.
    """
    if modalities is None:
        return list(range(n_modalities))
    return torch.as_tensor(modalities).tolist()


def build_variants(
    tokens: torch.Tensor,
    reference: torch.Tensor,
    tokens_per_modality: int,
    modalities: torch.Tensor | Sequence[int] | None = None,
) -> torch.Tensor:
    """Stack the clean input and one copy per replaced modality.

    Parameters
    ----------
    tokens : Tensor
        ``[B, T, H]`` clean tokens of all modalities, modality-major
        (``T = M * tokens_per_modality``).
    reference : Tensor
        ``[B, T, H]`` replacement tokens; variant ``k + 1`` takes the slice of
        the ``k``-th replaced modality from it.
    tokens_per_modality : int
        Number of tokens ``P`` of each modality.
    modalities : Tensor or sequence of int, optional
        Indices of the modalities to replace, one variant each (default: all
        ``M`` modalities in order).

    Returns
    -------
    Tensor
        ``[K + 1, B, T, H]``: index 0 is the clean input, index ``k + 1`` has
        modality ``modalities[k]`` replaced (``K = len(modalities)``).
    """
    replaced = replaced_modalities(modalities, tokens.shape[1] // tokens_per_modality)
    ranges = tuple((m * tokens_per_modality, (m + 1) * tokens_per_modality) for m in replaced)
    return stack_variants(tokens, reference.expand_as(tokens), ranges)


def single_modality_variants(
    tokens: torch.Tensor, tokens_per_modality: int, absent_too: bool = False
) -> torch.Tensor:
    """Stack the clean input and one copy per modality with only that modality kept.

    Parameters
    ----------
    tokens : Tensor
        ``[B, T, H]`` clean tokens of all modalities, modality-major
        (``T = M * tokens_per_modality``).
    tokens_per_modality : int
        Number of tokens ``P`` of each modality.
    absent_too : bool, default=False
        Also stack, last, a copy with every token 0 (every modality absent).

    Returns
    -------
    Tensor
        ``[M + 1, B, T, H]`` (``[M + 2, B, T, H]`` with ``absent_too``): index
        0 is the clean input, index ``m + 1`` keeps modality ``m``'s tokens and
        sets every other token to 0 (absent).

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn.experts import single_modality_variants
    >>> variants = single_modality_variants(torch.ones(2, 6, 3), tokens_per_modality=2)
    >>> variants.shape
    torch.Size([4, 2, 6, 3])
    >>> variants[2, 0, :, 0]  # modality 1 (tokens 2-3) kept
    tensor([0., 0., 1., 1., 0., 0.])
    """
    n_tokens = tokens.shape[1]
    n_modalities = n_tokens // tokens_per_modality
    owner = torch.arange(n_tokens, device=tokens.device) // tokens_per_modality  # [T]
    # row 0 keeps every token, row m + 1 modality m's, a last row M + 1 none
    kept = torch.arange(-1, n_modalities + absent_too, device=tokens.device).unsqueeze(1)
    keep = (kept == owner) | (kept == -1)
    return tokens.unsqueeze(0) * keep[:, None, :, None].to(tokens.dtype)
