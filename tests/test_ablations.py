"""InteractionMoE ablation switches: references, perturbed subsets, loss targets,
static weights, expert sets, regression distances."""

import pytest
import torch

from sk_i2moe.nn import InteractionMoE
from sk_i2moe.nn.experts import build_variants
from sk_i2moe.nn.objective import InteractionObjective, interaction_loss, interaction_terms

from .helpers import interaction_of

N_FEATURES = [6, 4, 5]
B = 5


def _inputs(batch=B, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, d, generator=g) for d in N_FEATURES]


def _model(**kwargs):
    torch.manual_seed(0)
    kwargs.setdefault("fusion", "mlp")
    kwargs.setdefault("fusion_kwargs", {"dropout": 0.0})
    return InteractionMoE(N_FEATURES, 3, hidden_dim=8, n_tokens=2, **kwargs)


def _record_rows(model, monkeypatch):
    rows = []
    forward = model.fusion.forward

    def recording(tokens, n_variants=1):
        rows.append((tokens.shape[0], n_variants))
        return forward(tokens, n_variants)

    def recording_variants(tokens, reference, modalities=None):
        out = forward_variants(tokens, reference, modalities)
        rows.append((out.logits.shape[1], out.logits.shape[1] // tokens.shape[0]))
        return out

    monkeypatch.setattr(model.fusion, "forward", recording)
    forward_variants = getattr(model.fusion, "forward_variants", None)
    if forward_variants is not None:  # MLP fusion builds the variants' passes itself
        monkeypatch.setattr(model.fusion, "forward_variants", recording_variants)
    return rows


def test_matched_noise_follows_each_modalitys_scale():
    model = _model(noise_scale="matched").train()
    tokens = torch.randn(64, 6, 8)
    tokens[:, 2:4] = 10.0 * tokens[:, 2:4] + 3.0  # modality 1: mean 3, std 10
    ref = model._reference(tokens)
    assert ref.shape == tokens.shape and not ref.requires_grad
    assert ref[:, :2].std().item() == pytest.approx(1.0, rel=0.15)
    assert ref[:, 2:4].std().item() == pytest.approx(10.0, rel=0.15)
    assert ref[:, 2:4].mean().item() == pytest.approx(3.0, abs=1.0)
    unit = _model().train()._reference(tokens)
    assert unit[:, 2:4].std().item() == pytest.approx(1.0, rel=0.15)


@pytest.mark.parametrize(("k", "expected_variants"), [(1, 2), (2, 3), (3, 4), (None, 4)])
def test_n_perturbed_computes_only_the_drawn_variants(monkeypatch, k, expected_variants):
    model = _model(n_perturbed=k).train()
    rows = _record_rows(model, monkeypatch)
    out = model(_inputs())
    assert rows == [(expected_variants * B, expected_variants)]
    assert torch.isfinite(interaction_of(out))
    model.eval()
    model(_inputs())
    assert rows[-1] == (B, 1)


def test_n_perturbed_draws_vary_and_loss_uses_the_subset(monkeypatch):
    model = _model(n_perturbed=2).train()
    draws = {tuple(model._draw_modalities(torch.device("cpu")).tolist()) for _ in range(40)}
    assert draws == {(0, 1), (0, 2), (1, 2)}

    monkeypatch.setattr(model, "_draw_modalities", lambda device: torch.tensor([0, 2]))
    xs = _inputs()
    tokens = model.embed(xs).detach()
    reference = torch.randn(tokens.shape)
    out = model(xs, reference=reference)
    variants = build_variants(tokens, reference, 2, [0, 2])
    logits = model.fusion(variants.flatten(0, 1), 3).logits.unflatten(1, (3, B))
    expected = interaction_loss(logits, modalities=[0, 2])
    torch.testing.assert_close(interaction_of(out), expected)
    # expert 1 (uniqueness of the undrawn modality) has no term
    assert interaction_terms(logits, modalities=[0, 2]).shape == (4,)


def test_n_perturbed_must_be_in_range():
    with pytest.raises(ValueError, match="n_perturbed=4"):
        _model(n_perturbed=4)
    with pytest.raises(ValueError, match="n_perturbed=0"):
        _model(n_perturbed=0)


def test_loss_on_latent_uses_the_backbones_latent_vectors():
    model = _model(loss_on="latent").train()
    xs = _inputs()
    tokens = model.embed(xs).detach()
    reference = torch.randn(tokens.shape)
    out = model(xs, reference=reference)
    variants = build_variants(tokens, reference, 2)
    fused = model.fusion(variants.flatten(0, 1), 4)
    expected = interaction_loss(fused.latent.unflatten(1, (4, B)))
    on_logits = interaction_loss(fused.logits.unflatten(1, (4, B)))
    torch.testing.assert_close(interaction_of(out), expected)
    assert not torch.allclose(interaction_of(out), on_logits)


def test_static_reweighting_is_the_same_for_every_sample():
    model = _model(reweighting="static", temperature=0.5).train()
    with torch.no_grad():
        model.reweighting.scores.copy_(torch.tensor([0.0, 1.0, 0.0, -1.0, 2.0]))
    out = model(_inputs(batch=7))
    expected = torch.softmax(model.reweighting.scores / 0.5, -1)
    torch.testing.assert_close(out.weights, expected.expand(7, -1))
    out.logits.sum().backward()
    assert model.reweighting.scores.grad.abs().sum() > 0


def test_expert_kinds_and_names():
    model = _model()
    assert model.expert_kinds == [
        "uniqueness[0]",
        "uniqueness[1]",
        "uniqueness[2]",
        "synergy",
        "redundancy",
    ]
    assert model.expert_names(["labs", "notes", "codes"]) == [
        "uniqueness[labs]",
        "uniqueness[notes]",
        "uniqueness[codes]",
        "synergy",
        "redundancy",
    ]
    with pytest.raises(ValueError, match="3 modality names"):
        model.expert_names(["a"])


def test_synergy_redundancy_only(monkeypatch):
    model = _model(experts="synergy_redundancy").train()
    assert model.n_experts == 2 and model.expert_kinds == ["synergy", "redundancy"]
    rows = _record_rows(model, monkeypatch)
    out = model(_inputs())
    assert rows == [(4 * B, 4)]
    assert out.weights.shape == (B, 2) and out.expert_logits.shape == (B, 2, 3)
    assert torch.isfinite(interaction_of(out))


@pytest.mark.parametrize("fusion", ["mlp", "transformer"])
def test_single_expert_is_vanilla_fusion(monkeypatch, fusion):
    kwargs = {"dropout": 0.0, "n_heads": 2} if fusion == "transformer" else {"dropout": 0.0}
    model = _model(experts="single", fusion=fusion, fusion_kwargs=kwargs).train()
    assert model.n_experts == 1 and model.expert_kinds == ["fusion"]
    assert not model.perturbs
    rows = _record_rows(model, monkeypatch)
    out = model(_inputs())
    assert rows == [(B, 1)]  # no perturbed passes
    assert out.variant_outputs is None
    torch.testing.assert_close(out.weights, torch.ones(B, 1))
    torch.testing.assert_close(out.logits, out.expert_logits[:, 0])


def test_euclidean_distance_losses_are_bounded_below():
    model = _model().train()
    loss = interaction_of(model(_inputs()), distance="euclidean")
    assert torch.isfinite(loss) and loss >= 0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("perturbation", "gauss"),
        ("noise_scale", "big"),
        ("experts", "some"),
        ("reweighting", "tree"),
        ("loss_on", "tokens"),
    ],
)
def test_unknown_options_are_rejected(option, value):
    with pytest.raises(ValueError, match=f"Unknown {option} '{value}'"):
        _model(**{option: value})


def test_unknown_distance_is_rejected():
    with pytest.raises(ValueError, match="Unknown distance 'manhattan'"):
        InteractionObjective(torch.nn.CrossEntropyLoss(reduction="none"), distance="manhattan")
