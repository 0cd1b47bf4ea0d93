import pytest
import torch

from sk_i2moe.nn import InteractionMoE, StructuredInteractionMoE
from sk_i2moe.nn.experts import (
    ExpertLinear,
    alone_from_variants,
    build_variants,
    single_modality_variants,
    variant_shared_dropout,
)
from sk_i2moe.nn.objective import interaction_loss

from .reference import mlp_expert, transformer_expert

N_FEATURES = [7, 5, 3]


def _model(fusion):
    torch.manual_seed(0)
    kwargs = {"dropout": 0.0, "n_layers": 2}
    if fusion == "transformer":
        kwargs["n_heads"] = 2
    return InteractionMoE(
        N_FEATURES, 3, hidden_dim=8, n_tokens=2, fusion=fusion, fusion_kwargs=kwargs
    )


@pytest.mark.parametrize("fusion", ["transformer", "mlp"])
def test_batched_experts_equal_plain_loop(fusion):
    model = _model(fusion).train()
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(4, d, generator=g) for d in N_FEATURES]
    tokens = model.embed(xs).detach()
    reference = torch.randn(tokens.shape, generator=g)

    # batched: all experts x all variants in one call
    batched_tokens = tokens.clone().requires_grad_(True)
    out = model(xs, reference=reference)
    variants = build_variants(batched_tokens, reference, model.tokens_per_modality)
    logits = model.fusion(variants.flatten(0, 1), n_variants=variants.shape[0]).logits
    logits = logits.unflatten(1, variants.shape[:2])
    loss = interaction_loss(logits) + logits.square().mean()
    loss.backward()

    # looped: one expert, one variant at a time, torch's own layers
    make = transformer_expert if fusion == "transformer" else mlp_expert
    experts = [make(model.fusion, e) for e in range(model.n_experts)]
    loop_tokens = tokens.clone().requires_grad_(True)
    n_modalities = len(N_FEATURES)
    p = model.tokens_per_modality
    rows = []
    for expert in experts:
        per_variant = [expert(loop_tokens)]
        for j in range(n_modalities):
            replaced = torch.cat(
                (
                    loop_tokens[:, : j * p],
                    reference[:, j * p : (j + 1) * p],
                    loop_tokens[:, (j + 1) * p :],
                ),
                dim=1,
            )
            per_variant.append(expert(replaced))
        rows.append(torch.stack(per_variant))
    looped = torch.stack(rows)
    loop_loss = interaction_loss(looped) + looped.square().mean()
    loop_loss.backward()

    torch.testing.assert_close(logits, looped, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        out.expert_logits, looped[:, 0].transpose(0, 1), atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(batched_tokens.grad, loop_tokens.grad, atol=1e-5, rtol=1e-5)
    # parameter gradients, expert by expert
    if fusion == "transformer":
        pairs = [
            (model.fusion.head.weight, lambda ex: ex.head.weight.grad.T),
            (
                model.fusion.layers[0].attn.qkv.weight,
                lambda ex: ex.layers[0].self_attn.in_proj_weight.grad.T,
            ),
            (
                model.fusion.layers[1].ffn.ffn_in.weight,
                lambda ex: ex.layers[1].linear1.weight.grad.T,
            ),
            (model.fusion.layers[0].norm1.weight, lambda ex: ex.layers[0].norm1.weight.grad),
            (model.fusion.position, lambda ex: ex.position.grad),
        ]
    else:
        pairs = [
            (model.fusion.mlp.head.weight, lambda ex: ex.linears[-1].weight.grad.T),
            (model.fusion.mlp.hidden[0].weight, lambda ex: ex.linears[0].weight.grad.T),
        ]
    for batched, get in pairs:
        for e, expert in enumerate(experts):
            torch.testing.assert_close(batched.grad[e], get(expert), atol=1e-5, rtol=1e-5)


def test_experts_are_initialised_independently():
    model = _model("transformer")
    w = model.fusion.layers[0].attn.qkv.weight
    assert not torch.allclose(w[0], w[1])
    assert not torch.allclose(model.fusion.position[0], model.fusion.position[1])


def test_expert_linear_shared_equals_per_expert():
    layer = ExpertLinear(3, 4, 2)
    x = torch.randn(5, 4)
    torch.testing.assert_close(layer(x, shared=True), layer(x.expand(3, 5, 4)))
    for e in range(3):
        torch.testing.assert_close(layer(x, shared=True)[e], x @ layer.weight[e] + layer.bias[e])


def test_build_variants_replaces_one_modality_each():
    tokens = torch.zeros(2, 6, 3)
    reference = torch.ones(2, 6, 3)
    variants = build_variants(tokens, reference, tokens_per_modality=2)
    assert variants.shape == (4, 2, 6, 3)
    replaced = variants[:, 0, :, 0]  # [V, T]
    expected = torch.tensor(
        [
            [0, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [0, 0, 1, 1, 0, 0],
            [0, 0, 0, 0, 1, 1],
        ],
        dtype=torch.float32,
    )
    torch.testing.assert_close(replaced, expected)


def test_dropout_mask_is_shared_by_a_samples_variants():
    torch.manual_seed(0)
    n_variants, batch = 4, 3
    x = torch.ones(2, n_variants * batch, 5, 8)
    out = variant_shared_dropout(x, 0.5, n_variants, training=True).view(2, n_variants, batch, 5, 8)
    for v in range(1, n_variants):
        torch.testing.assert_close(out[:, v], out[:, 0])
    assert (out == 0).any() and (out == 2).any()
    # different samples and experts draw different masks
    assert not torch.equal(out[0, 0, 0], out[0, 0, 1])
    assert not torch.equal(out[0, 0], out[1, 0])
    torch.testing.assert_close(variant_shared_dropout(x, 0.5, n_variants, training=False), x)


def _two_ways(fusion, tokens, fast, stacked):
    """Outputs, input gradients and parameter gradients of a fast path and its stacked twin.

    Each run starts from the same generator state, so dropout draws the same masks.
    """
    results = []
    for run in (fast, stacked):
        fusion.zero_grad()
        leaf = tokens.clone().requires_grad_(True)
        torch.manual_seed(2)
        out = run(leaf)
        (out.logits.square().sum() + out.latent.sum()).backward()
        grads = [p.grad.clone() for p in fusion.parameters()]
        results.append((out.logits.detach(), leaf.grad, grads))
    return results


@pytest.mark.parametrize("modalities", [None, [2, 0]])
@pytest.mark.parametrize("n_layers", [2, 0])
def test_mlp_fusion_forward_variants_equals_the_stacked_variants(modalities, n_layers):
    torch.manual_seed(0)
    model = InteractionMoE(
        N_FEATURES, 3, hidden_dim=8, fusion="mlp", fusion_kwargs={"n_layers": n_layers}
    ).train()
    fusion = model.fusion
    fusion.mlp.dropout = 0.0
    g = torch.Generator().manual_seed(1)
    tokens = model.embed([torch.randn(5, d, generator=g) for d in N_FEATURES]).detach()
    reference = torch.randn(tokens.shape, generator=g)

    def stacked(leaf):
        variants = build_variants(leaf, reference, model.tokens_per_modality, modalities)
        return fusion(variants.flatten(0, 1), n_variants=variants.shape[0])

    fast = lambda leaf: fusion.forward_variants(leaf, reference, modalities)  # noqa: E731
    (fast_logits, fast_grad, fast_params), (logits, grad, params) = _two_ways(
        fusion, tokens, fast, stacked
    )
    n_variants = 1 + (3 if modalities is None else len(modalities))
    assert logits.shape == (5, n_variants * 5, 3)
    torch.testing.assert_close(fast_logits, logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast_grad, grad, atol=1e-5, rtol=1e-5)
    for a, b in zip(fast_params, params):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n_layers", [2, 0])
@pytest.mark.parametrize("experts", ["all", "synergy_redundancy"])
def test_mlp_fusion_forward_alone_equals_the_stacked_single_modality_passes(n_layers, experts):
    # each expert on the rows it needs: uniqueness experts on their own modality only
    torch.manual_seed(0)
    model = StructuredInteractionMoE(
        N_FEATURES,
        3,
        hidden_dim=8,
        fusion="mlp",
        experts=experts,
        fusion_kwargs={"n_layers": n_layers},
    ).train()
    fusion = model.fusion
    fusion.mlp.dropout = 0.0
    n_unique = model.n_experts - 2
    g = torch.Generator().manual_seed(1)
    tokens = model.embed([torch.randn(5, d, generator=g) for d in N_FEATURES]).detach()

    def stacked(leaf):
        variants = single_modality_variants(leaf, model.tokens_per_modality, absent_too=True)
        fused = fusion(variants.flatten(0, 1), n_variants=variants.shape[0])
        return alone_from_variants(fused, n_unique, len(N_FEATURES), absent_too=True)

    results = []
    for run in (lambda leaf: fusion.forward_alone(leaf, n_unique), stacked):
        fusion.zero_grad()
        leaf = tokens.clone().requires_grad_(True)
        out = run(leaf)
        loss = out.unique.square().sum() + out.clean.sum() + out.alone.square().sum()
        (loss + out.none.square().sum()).backward()
        grads = [p.grad.clone() for p in fusion.parameters()]
        parts = [out.unique, out.clean, out.alone, out.none]
        results.append(([t.detach() for t in parts], leaf.grad, grads))
    (fast, fast_grad, fast_params), (slow, grad, params) = results
    assert [t.shape for t in slow] == [(n_unique, 5, 3), (2, 5, 3), (2, 3, 5, 3), (2, 5, 3)]
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast_grad, grad, atol=1e-5, rtol=1e-5)
    for a, b in zip(fast_params, params):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n_layers", [2, 0])
def test_mlp_fusion_forward_variants_reads_each_modalitys_mean_reference(n_layers):
    # one reference token per modality gives the same passes as any P tokens with that mean
    torch.manual_seed(0)
    model = InteractionMoE(
        N_FEATURES, 3, hidden_dim=8, n_tokens=4, fusion="mlp", fusion_kwargs={"n_layers": n_layers}
    ).eval()
    g = torch.Generator().manual_seed(1)
    tokens = model.embed([torch.randn(5, d, generator=g) for d in N_FEATURES]).detach()
    full = torch.randn(tokens.shape, generator=g)
    per_modality = full.view(5, 3, 4, 8).mean(2)  # [B, M, H]
    expected = model.fusion.forward_variants(tokens, full).logits
    got = model.fusion.forward_variants(tokens, per_modality).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # a reference that differs only in its token mean changes the result
    assert not torch.allclose(model.fusion.forward_variants(tokens, full + 1).logits, expected)


@pytest.mark.parametrize("fusion", ["mlp", "transformer"])
def test_the_synergy_expert_of_absent_inputs_is_zero_in_training_too(fusion):
    # f(x) - sum_m f(x_m alone) + (M - 1) f(none) is 0 when x is every modality absent; in
    # training that holds only if the all-absent pass shares each sample's dropout mask
    torch.manual_seed(0)
    model = StructuredInteractionMoE(
        N_FEATURES, 2, hidden_dim=8, fusion=fusion, fusion_kwargs={"dropout": 0.5}
    )
    xs = [torch.randn(6, d) for d in N_FEATURES]
    absent = torch.zeros(6, len(N_FEATURES), dtype=torch.bool)
    for mode in (model.eval, model.train):
        mode()
        synergy = model.expert_pass(xs, absent).fixed_logits[:, -1]
        torch.testing.assert_close(synergy, torch.zeros_like(synergy), atol=1e-5, rtol=0)
