"""nn/_kernels.py: every CPU kernel equals its plain-torch path, on its own and in each backbone."""

import pytest
import torch
from torch import nn

from sk_i2moe.nn import FUSIONS, InteractionMoE, StructuredInteractionMoE, _kernels
from sk_i2moe.nn._kernels import (
    _PLAIN,
    attention,
    keep_mask,
    plain_torch,
    softmax,
    stack_variants,
)

TOL = {"atol": 1e-5, "rtol": 1e-5}


def _both(fn, *inputs):
    """``fn`` on the fast and on the plain path: outputs and input gradients."""
    results = []
    for plain in (False, True):
        leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
        with plain_torch(plain):
            out = fn(*leaves)
        out.backward(torch.linspace(-1, 1, out.numel()).view_as(out))
        results.append((out.detach(), [t.grad for t in leaves]))
    return results


@pytest.mark.parametrize("width", [2, 5, 7, 15, 40])
def test_softmax(width):
    x = torch.randn(3, 6, width, generator=torch.Generator().manual_seed(width)) * 4
    (fast, fast_grads), (plain, plain_grads) = _both(softmax, x)
    torch.testing.assert_close(fast, plain, **TOL)
    torch.testing.assert_close(fast_grads[0], plain_grads[0], **TOL)


@pytest.mark.parametrize("n_tokens", [3, 12])
def test_attention(n_tokens):
    g = torch.Generator().manual_seed(n_tokens)
    q, k, v = (torch.randn(4, n_tokens, 8, generator=g) for _ in range(3))
    (fast, fast_grads), (plain, plain_grads) = _both(lambda a, b, c: attention(a, b, c, 2), q, k, v)
    torch.testing.assert_close(fast, plain, **TOL)
    for a, b in zip(fast_grads, plain_grads):
        torch.testing.assert_close(a, b, **TOL)


def test_stack_variants():
    g = torch.Generator().manual_seed(0)
    tokens, reference = torch.randn(3, 6, 4, generator=g), torch.randn(3, 6, 4, generator=g)
    ranges = [(0, 2), (4, 6), (2, 4)]
    (fast, fast_grads), (plain, plain_grads) = _both(
        lambda t, r: stack_variants(t, r, ranges), tokens, reference
    )
    torch.testing.assert_close(fast, plain, rtol=0, atol=0)
    torch.testing.assert_close(fast[2, :, 4:6], reference[:, 4:6], rtol=0, atol=0)
    for a, b in zip(fast_grads, plain_grads):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("plain", [False, True])
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_keep_mask_is_an_inverted_dropout_mask(plain, p):
    torch.manual_seed(0)
    with plain_torch(plain):
        mask = keep_mask(torch.empty(400, 501), p)  # an odd row: half a word at its end
    kept = mask != 0
    torch.testing.assert_close(mask[kept], torch.full_like(mask[kept], 1 / (1 - p)), **TOL)
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.005)
    assert mask.mean().item() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("plain", [False, True])
def test_keep_mask_draws_its_own_mask_per_vmapped_slice(plain):
    torch.manual_seed(0)
    like = torch.empty(4, 300, 7)
    with plain_torch(plain):
        masks = torch.vmap(lambda t: keep_mask(t, 0.5), randomness="different")(like)
    assert masks.shape == like.shape
    assert not torch.equal(masks[0], masks[1])
    # every column, the last (half a 64-bit word on the fast path) included, keeps about half
    kept = masks.ne(0).float().mean((0, 1))
    assert kept.sub(0.5).abs().max().item() < 0.06


def test_keep_mask_falls_back_where_vmap_cannot_view_dtype(monkeypatch):
    """Torch releases with no vmap rule for ``view(dtype)`` (2.11) get the plain mask."""
    monkeypatch.setattr(_kernels, "_vmap_views_dtype", lambda: False)
    like = torch.empty(4, 30, 7)
    draws = []
    for plain in (False, True):
        torch.manual_seed(0)
        with plain_torch(plain):
            draws.append(torch.vmap(lambda t: keep_mask(t, 0.5), randomness="different")(like))
    assert torch.equal(draws[0], draws[1])


def test_the_switch_is_scoped():
    assert _PLAIN.get() is False
    with plain_torch():
        assert _PLAIN.get() is True
        with plain_torch(False):
            assert _PLAIN.get() is False
        assert _PLAIN.get() is True
    assert _PLAIN.get() is False


def _options(name):
    options = {"dropout": 0.0}
    if name in ("transformer", "switch", "moepp"):
        options["n_heads"] = 2
    return options


def _tiny_backbone(n_modalities, n_tokens, hidden_dim, n_outputs, dropout=0.0):
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(n_modalities * n_tokens * hidden_dim, 6),
        nn.Tanh(),
        nn.Linear(6, n_outputs),
    )


def _run(model, xs, reference, plain):
    torch.manual_seed(1)  # the same draws (gates, routing) on both paths
    model.zero_grad()
    objective = model.Objective(torch.nn.CrossEntropyLoss(reduction="none"))
    with plain_torch(plain):
        out = model(xs, reference) if reference is not None else model(xs)
        total, _ = objective(out, torch.tensor([0, 1, 1, 0, 1]))
        total.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out, grads


@pytest.mark.parametrize("kind", ["paper", "structured"])
@pytest.mark.parametrize("name", [*sorted(FUSIONS), "custom"])
def test_every_backbone_computes_the_same_on_both_paths(name, kind):
    torch.manual_seed(0)
    fusion = _tiny_backbone if name == "custom" else name
    options = {} if name == "custom" else _options(name)
    cls = InteractionMoE if kind == "paper" else StructuredInteractionMoE
    model = cls([4, 3, 5], 2, hidden_dim=8, n_tokens=2, fusion=fusion, fusion_kwargs=options)
    model.train()
    g = torch.Generator().manual_seed(2)
    xs = [torch.randn(5, d, generator=g) for d in (4, 3, 5)]
    reference = torch.randn(5, 6, 8, generator=g) if kind == "paper" else None
    fast, fast_grads = _run(model, xs, reference, plain=False)
    plain, plain_grads = _run(model, xs, reference, plain=True)
    torch.testing.assert_close(fast.logits, plain.logits, **TOL)
    torch.testing.assert_close(fast.expert_logits, plain.expert_logits, **TOL)
    assert fast_grads.keys() == plain_grads.keys() and fast_grads
    for param in fast_grads:
        torch.testing.assert_close(fast_grads[param], plain_grads[param], **TOL)


@pytest.mark.parametrize("kernel", ["softmax", "stack_variants"])
def test_the_autograd_kernels_run_under_torch_func(kernel):
    # a backbone that an ensemble vmaps over its members may reach them: vmap and grad must
    # give the plain path's values, each slice of a vmap its own computation
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 6, 5, generator=g)
    reference = torch.randn(4, 6, 5, generator=g)
    fns = {
        "softmax": lambda t: softmax(t),
        "stack_variants": lambda t: stack_variants(t, reference, [(0, 2), (3, 6)]),
    }
    fn = fns[kernel]
    weights = torch.linspace(-1, 1, fn(x[0]).numel()).view_as(fn(x[0]))

    def loss(t):
        return (fn(t) * weights).sum()

    with plain_torch():
        expected = torch.stack([fn(t) for t in x])
        expected_grads = torch.stack([torch.func.grad(loss)(t) for t in x])
    torch.testing.assert_close(torch.vmap(fn)(x), expected, **TOL)
    torch.testing.assert_close(
        torch.vmap(fn, in_dims=1, out_dims=1)(x.movedim(0, 1)).movedim(1, 0), expected, **TOL
    )
    torch.testing.assert_close(torch.vmap(torch.func.grad(loss))(x), expected_grads, **TOL)
    torch.testing.assert_close(torch.func.grad(loss)(x[1]), expected_grads[1], **TOL)
