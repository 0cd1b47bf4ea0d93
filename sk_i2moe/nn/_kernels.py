"""CPU speed kernels, each with a plain-torch fallback.

The model's semantics live in the backbones; this module holds only faster
ways to compute four of their operations on the small tensors of tabular
models. Each kernel computes what its plain-torch twin computes (outputs and
gradients equal to float32 rounding; dropout masks from a different random
stream with the same distribution), and ``tests/test_kernels.py`` checks
that on every backbone. Inside :func:`plain_torch` every kernel takes its
plain-torch path, so a torch upgrade that makes a kernel unnecessary or
wrong can be diagnosed by switching them off. The two custom autograd
functions also run under :mod:`torch.func` transforms (``vmap``, ``grad``),
where a ``vmap`` computes their plain-torch twin.

- :func:`softmax`: whole-tensor max/exp/sum for rows shorter than a SIMD
  register on a CPU (torch's CPU softmax vectorises along the row); plain:
  :func:`torch.softmax`.
- :func:`attention`: one batched matmul pair per head for up to 256 tokens
  (the fused kernel is tuned for long sequences); plain:
  :func:`~torch.nn.functional.scaled_dot_product_attention`.
- :func:`keep_mask`: a threshold on random 32-bit words on a CPU
  (``bernoulli_`` dominates a CPU dropout layer) where torch can batch the
  words' reinterpretation under :func:`torch.vmap`; plain:
  :meth:`torch.Tensor.bernoulli_`.
- :func:`stack_variants`: one broadcast copy plus one range copy per variant,
  with a backward that adds ranges; plain: :func:`torch.stack` of
  concatenations.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator, Sequence

import torch
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

__all__ = ["attention", "keep_mask", "plain_torch", "softmax", "stack_variants"]

_PLAIN: contextvars.ContextVar[bool] = contextvars.ContextVar("sk_i2moe_plain_torch", default=False)

#: sequences up to this length use :func:`attention`'s per-head matmuls
MATMUL_ATTENTION_MAX_TOKENS = 256


@contextlib.contextmanager
def plain_torch(enabled: bool = True) -> Iterator[None]:
    """Run the block with every kernel on its plain-torch path.

    The switch is a :class:`contextvars.ContextVar`: it applies to the current
    thread (and task) only and is restored on exit.

    Parameters
    ----------
    enabled : bool, default=True
        False switches the kernels back on inside an enclosing
        ``plain_torch()`` block.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe.nn._kernels import plain_torch, softmax
    >>> x = torch.randn(3, 4)
    >>> with plain_torch():
    ...     plain = softmax(x)
    >>> torch.allclose(plain, softmax(x))
    True
    """
    token = _PLAIN.set(enabled)
    try:
        yield
    finally:
        _PLAIN.reset(token)


def _fast(device: torch.device) -> bool:
    return device.type == "cpu" and not _PLAIN.get()


@functools.cache
def _vmap_views_dtype() -> bool:
    """Whether this torch runs ``Tensor.view(dtype)`` under :func:`torch.vmap`.

    Older releases (2.11 among them) have no batching rule for it and raise,
    which :func:`keep_mask`'s fast path, used inside an ensemble's vmapped
    forward, must not hit.
    """
    try:
        torch.vmap(lambda t: t.view(torch.int32))(torch.zeros(1, 1, dtype=torch.int64))
    except RuntimeError:
        return False
    return True


class _ShortRowSoftmax(torch.autograd.Function):
    """Softmax over the last axis from whole-tensor elementwise kernels.

    Under :mod:`torch.func` transforms it runs too (``setup_context``); a
    :func:`torch.vmap` of it computes :func:`torch.softmax`.
    """

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        e = (x - x.amax(-1, keepdim=True)).exp_()
        return e.div_(e.sum(-1, keepdim=True))

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: torch.Tensor) -> None:
        ctx.save_for_backward(output)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        gy = grad * y
        return gy.sub_(y * gy.sum(-1, keepdim=True))

    @staticmethod
    def vmap(info, in_dims: tuple, x: torch.Tensor) -> tuple[torch.Tensor, int | None]:
        (dim,) = in_dims
        if dim is None:
            return torch.softmax(x, dim=-1), None
        return torch.softmax(x.movedim(dim, 0), dim=-1), 0


@functools.cache
def _simd_floats() -> int:
    """float32 lanes of the CPU kernels torch dispatches to (16 with AVX-512, else 8)."""
    return 16 if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else 8


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis.

    Parameters
    ----------
    x : Tensor
        Scores of any shape.

    Returns
    -------
    Tensor
        ``torch.softmax(x, dim=-1)``.
    """
    if _fast(x.device) and x.shape[-1] < _simd_floats():
        return _ShortRowSoftmax.apply(x)
    return torch.softmax(x, dim=-1)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Multi-head scaled dot-product attention (no mask, no dropout).

    Parameters
    ----------
    q, k, v : Tensor
        ``[B, T, H]`` queries, keys and values, heads side by side on the last
        axis (``H`` divisible by ``n_heads``).
    n_heads : int
        Number of heads.

    Returns
    -------
    Tensor
        ``[B, T, H]``, the heads' outputs side by side.
    """
    batch, n_tokens, hidden = q.shape
    head_dim = hidden // n_heads
    if _PLAIN.get() or n_tokens > MATMUL_ATTENTION_MAX_TOKENS:
        q, k, v = (t.reshape(batch, n_tokens, n_heads, head_dim).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)
        return out.transpose(1, 2).reshape(batch, n_tokens, hidden)
    # one head at a time: a head's q, k and v are strided [B, T, d] slices that
    # the batched matmuls read in place (no permuted copies), and the backward
    # of each split writes the heads' gradients in one concatenation
    scale = head_dim**-0.5
    outs = []
    for q_h, k_h, v_h in zip(*(t.split(head_dim, dim=-1) for t in (q, k, v))):
        scores = torch.baddbmm(
            q_h.new_empty(()).expand(batch, n_tokens, n_tokens),
            q_h,
            k_h.transpose(1, 2),
            beta=0.0,
            alpha=scale,
        )
        outs.append(torch.bmm(softmax(scores), v_h))
    return torch.cat(outs, dim=-1)


_TWO_32 = 2**32


def keep_mask(like: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted-dropout mask like ``like``: ``1 / keep`` with probability ``keep = 1 - p``, else 0.

    The fast path compares one random 32-bit word per entry (half a 64-bit
    draw) with a threshold: ``keep`` is rounded to a multiple of ``2**-32``
    (finer than the ``2**-24`` grid of :func:`torch.rand`) and the scale is
    the inverse of the rounded probability, so that the mask has expectation
    exactly 1. The mask is drawn as a tensor "like" ``like``, so that under
    :func:`torch.vmap` each batched slice draws its own
    (``randomness="different"``).

    Parameters
    ----------
    like : Tensor
        Gives the mask's shape, floating dtype and device (its values are not read).
    p : float
        Drop probability, ``0 <= p < 1``.

    Returns
    -------
    Tensor
        The mask, entries ``0`` or ``1 / keep``.
    """
    if not (_fast(like.device) and _vmap_views_dtype()):
        keep = 1.0 - p
        return torch.empty_like(like).bernoulli_(keep).div_(keep)
    threshold = min(max(round((1.0 - p) * _TWO_32), 1), _TWO_32 - 1)
    # one fully random 64-bit word per two entries (half the draws of one per entry)
    shaped = like if like.dim() else like.reshape(1)
    last = shaped.shape[-1]
    half = shaped.narrow(-1, 0, (last + 1) // 2)
    words = torch.empty_like(half, dtype=torch.int64).random_(-(2**63), None)
    draws = words.view(torch.int32).narrow(-1, 0, last).reshape(like.shape)
    scale = torch.tensor(_TWO_32 / threshold, dtype=like.dtype, device=like.device)
    return torch.where(
        draws < threshold - 2**31, scale, torch.zeros((), dtype=like.dtype, device=like.device)
    )


class _StackVariants(torch.autograd.Function):
    """``[V, B, T, H]`` copies of ``tokens`` with token ranges taken from ``reference``.

    Under :mod:`torch.func` transforms it runs too (``setup_context``); a
    :func:`torch.vmap` of it computes :func:`_plain_variants`.
    """

    @staticmethod
    def forward(tokens, reference, ranges):
        out = tokens.new_empty((len(ranges) + 1, *tokens.shape))
        out.copy_(tokens.unsqueeze(0).expand_as(out))
        for v, (start, stop) in enumerate(ranges, 1):
            out[v, :, start:stop] = reference[:, start:stop]
        return out

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: torch.Tensor) -> None:
        ctx.ranges = inputs[2]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        grad_tokens = grad_reference = None
        if ctx.needs_input_grad[0]:
            grad_tokens = grad[0].clone(memory_format=torch.contiguous_format)
            for v, (start, stop) in enumerate(ctx.ranges, 1):
                grad_tokens[:, :start] += grad[v, :, :start]
                grad_tokens[:, stop:] += grad[v, :, stop:]
        if ctx.needs_input_grad[1]:
            grad_reference = grad.new_zeros(grad.shape[1:])
            for v, (start, stop) in enumerate(ctx.ranges, 1):
                grad_reference[:, start:stop] += grad[v, :, start:stop]
        return grad_tokens, grad_reference, None

    @staticmethod
    def vmap(info, in_dims: tuple, tokens, reference, ranges) -> tuple[torch.Tensor, int]:
        def batched(x: torch.Tensor, dim: int | None) -> torch.Tensor:
            if dim is None:
                return x.expand(info.batch_size, *x.shape)
            return x.movedim(dim, 0)

        tokens, reference = batched(tokens, in_dims[0]), batched(reference, in_dims[1])
        return _plain_variants(tokens, reference, ranges), 0


def _plain_variants(
    tokens: torch.Tensor, reference: torch.Tensor, ranges: Sequence[tuple[int, int]]
) -> torch.Tensor:
    """:func:`stack_variants` from :func:`torch.cat` and :func:`torch.stack`.

    Any leading axes: ``tokens`` and ``reference`` are ``[..., B, T, H]``, the
    variants are stacked just before ``B``.
    """
    variants = [tokens]
    for start, stop in ranges:
        variants.append(
            torch.cat(
                (tokens[..., :start, :], reference[..., start:stop, :], tokens[..., stop:, :]),
                dim=-2,
            )
        )
    return torch.stack(variants, dim=-4)


def stack_variants(
    tokens: torch.Tensor, reference: torch.Tensor, ranges: Sequence[tuple[int, int]]
) -> torch.Tensor:
    """Stack ``tokens`` and one copy per range with that token range from ``reference``.

    Parameters
    ----------
    tokens, reference : Tensor
        ``[B, T, H]`` clean and replacement tokens (same shape).
    ranges : sequence of (int, int)
        ``(start, stop)`` token ranges, one variant each.

    Returns
    -------
    Tensor
        ``[len(ranges) + 1, B, T, H]``: index 0 is ``tokens``, index ``k + 1``
        has tokens ``ranges[k]`` taken from ``reference``.
    """
    ranges = tuple(ranges)
    if not _PLAIN.get():
        return _StackVariants.apply(tokens, reference, ranges)
    return _plain_variants(tokens, reference, ranges)
