import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sk_i2moe.nn import (
    FUSIONS,
    InteractionMoE,
    ReweightingMLP,
    StructuredInteractionMoE,
    agreement_missing,
    capped_softmax,
    missing_modality_mixtures,
    modality_agreement,
    weighted_mean_missing,
)

from .helpers import interaction_of

N_FEATURES = [6, 4, 9]


def _inputs(batch=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, d, generator=g) for d in N_FEATURES]


@pytest.mark.parametrize("fusion", ["transformer", "mlp"])
@pytest.mark.parametrize("encoder", ["patch", "mlp"])
def test_output_shapes_and_weights(fusion, encoder):
    torch.manual_seed(0)
    model = InteractionMoE(N_FEATURES, 4, hidden_dim=8, n_tokens=3, fusion=fusion, encoder=encoder)
    out = model(_inputs())
    assert out.logits.shape == (5, 4)
    assert out.weights.shape == (5, 5)
    assert out.expert_logits.shape == (5, 5, 4)
    assert (out.weights >= 0).all()
    torch.testing.assert_close(out.weights.sum(1), torch.ones(5))
    torch.testing.assert_close(out.logits, (out.weights.unsqueeze(-1) * out.expert_logits).sum(1))
    assert out.variant_outputs.shape == (5, 4, 5, 4)  # experts, clean + 3 perturbed, batch, C
    assert out.perturbed_modalities is None  # all modalities, in order
    assert interaction_of(out).ndim == 0


def test_eval_runs_only_the_clean_variant(monkeypatch):
    torch.manual_seed(0)
    model = InteractionMoE(N_FEATURES, 2, hidden_dim=8, n_tokens=2, fusion="transformer").eval()
    rows = []
    forward = model.fusion.forward

    def recording(tokens, n_variants=1):
        rows.append(tokens.shape[0])
        return forward(tokens, n_variants)

    monkeypatch.setattr(model.fusion, "forward", recording)
    xs = _inputs(batch=7)
    first = model(xs)
    second = model(xs)
    assert rows == [7, 7]
    assert first.variant_outputs is None
    torch.testing.assert_close(first.logits, second.logits)
    model.train()
    model(xs)
    assert rows[-1] == 7 * (len(N_FEATURES) + 1)


def test_interaction_off_skips_perturbed_passes(monkeypatch):
    model = InteractionMoE(N_FEATURES, 2, hidden_dim=8, perturbed_passes=False).train()
    rows = []
    forward = model.fusion.forward
    monkeypatch.setattr(
        model.fusion,
        "forward",
        lambda t, n_variants=1: rows.append(t.shape[0]) or forward(t, n_variants),
    )
    out = model(_inputs(batch=3))
    assert rows == [3] and out.variant_outputs is None


def test_temperature_controls_sharpness():
    torch.manual_seed(0)
    scorer = ReweightingMLP(12, 5)
    pooled = torch.randn(20, 12) * 3

    def entropy(t):
        w = scorer(pooled, t)
        return -(w * w.clamp_min(1e-12).log()).sum(1).mean().item()

    assert entropy(0.25) < entropy(1.0) < entropy(4.0)
    assert entropy(1e3) == pytest.approx(torch.log(torch.tensor(5.0)).item(), abs=1e-3)
    hard = scorer(pooled, 1e-6)
    torch.testing.assert_close(hard.max(1).values, torch.ones(20), atol=1e-3, rtol=0)


@pytest.mark.parametrize("perturbation", ["noise", "mean", "zero", "shuffle"])
def test_perturbations_give_finite_losses(perturbation):
    torch.manual_seed(0)
    model = InteractionMoE(N_FEATURES, 3, hidden_dim=8, perturbation=perturbation).train()
    out = model(_inputs())
    assert torch.isfinite(interaction_of(out))
    if perturbation == "mean":
        assert bool(model.reference_seen)
        assert model.reference_mean.abs().sum() > 0


def test_shuffle_reference_is_a_detached_permutation_of_the_batch():
    torch.manual_seed(0)
    model = InteractionMoE(N_FEATURES, 3, hidden_dim=8, perturbation="shuffle").train()
    tokens = model.embed(_inputs(batch=16))
    reference = model._reference(tokens)
    assert reference.shape == tokens.shape and not reference.requires_grad
    # every replacement row is one sample's tokens, each sample used exactly once
    matches = (reference.unsqueeze(1) == tokens.detach().unsqueeze(0)).flatten(2).all(-1)
    assert matches.sum(1).tolist() == [1] * 16
    assert matches.sum(0).tolist() == [1] * 16
    assert not torch.equal(reference, tokens.detach())  # not the identity permutation


def test_standardisation_buffers_are_applied():
    loc = [torch.full((d,), 10.0) for d in N_FEATURES]
    scale = [torch.full((d,), 2.0) for d in N_FEATURES]
    torch.manual_seed(0)
    plain = InteractionMoE(N_FEATURES, 2, hidden_dim=8).eval()
    torch.manual_seed(0)
    scaled = InteractionMoE(N_FEATURES, 2, hidden_dim=8, input_loc=loc, input_scale=scale).eval()
    xs = _inputs()
    torch.testing.assert_close(scaled([x * 2 + 10 for x in xs]).logits, plain(xs).logits)


def test_hidden_dim_must_divide_heads():
    with pytest.raises(ValueError, match="divisible by n_heads"):
        InteractionMoE(
            N_FEATURES, 2, hidden_dim=10, fusion="transformer", fusion_kwargs={"n_heads": 4}
        )


def test_one_modality_trains():
    torch.manual_seed(0)
    model = InteractionMoE([5], 2, hidden_dim=8).train()
    out = model([torch.randn(4, 5)])
    assert out.weights.shape == (4, 3)
    loss = interaction_of(out)
    assert torch.isfinite(loss)
    loss.backward()


def _structured(fusion="mlp", **kwargs):
    torch.manual_seed(0)
    return StructuredInteractionMoE(N_FEATURES, 3, hidden_dim=8, fusion=fusion, **kwargs)


def test_structured_uniqueness_experts_see_only_their_modality():
    model = _structured().eval()
    xs = _inputs(batch=6)
    base = model(xs).expert_logits
    for m in range(3):
        changed = [x + 3.0 if k == m else x for k, x in enumerate(xs)]
        moved = (model(changed).expert_logits - base).abs().amax((0, 2))  # per expert
        assert moved[m] > 1e-3  # its own modality moves it
        others = [u for u in range(3) if u != m]
        torch.testing.assert_close(moved[others], torch.zeros(2))  # the others' do not


def test_structured_synergy_expert_is_zero_for_an_additive_backbone():
    # late fusion averages per-modality heads: a sum of single-modality effects,
    # so the synergy expert has nothing left to output
    model = _structured(fusion="late").eval()
    out = model(_inputs(batch=6))
    torch.testing.assert_close(out.expert_logits[:, 3], torch.zeros(6, 3), atol=1e-5, rtol=0)
    assert out.expert_logits[:, [0, 1, 2, 4]].abs().amax() > 1e-3
    # a backbone that mixes modalities leaves an interaction
    mixing = _structured(fusion="mlp").eval()(_inputs(batch=6))
    assert mixing.expert_logits[:, 3].abs().amax() > 1e-4


def test_structured_training_outputs_and_detached_mixture():
    model = _structured(redundancy="agreement").train()
    xs = _inputs(batch=6)
    out = model(xs)
    # the redundancy expert keeps what its single-modality outputs agree on
    assert out.modality_logits.shape == (6, 3, 3)
    torch.testing.assert_close(
        out.expert_logits[:, 4], modality_agreement(out.modality_logits.detach())
    )
    assert out.redundancy_weights is None and not hasattr(model, "redundancy_gate")
    assert not hasattr(out, "variant_outputs")  # no perturbed passes
    assert out.missing_logits.shape == (6, 3, 3)
    mixture = torch.einsum("be,bec->bc", out.weights, out.expert_logits)
    torch.testing.assert_close(out.logits, mixture)
    # the mixtures' losses reach the weights but not the experts
    (out.logits.sum() + out.missing_logits.sum()).backward()
    assert all(p.grad is None or not p.grad.any() for p in model.fusion.parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.reweighting.parameters())
    expected = [*model.reweighting.parameters(), model.absence_logits]
    assert [id(p) for p in model.reweighting_parameters()] == [id(p) for p in expected]
    model.zero_grad()
    out = model(xs)
    (out.expert_logits.sum() + out.modality_logits.sum()).backward()
    assert all(p.grad is not None for p in model.fusion.parameters())
    evaluated = model.eval()(xs)
    assert evaluated.modality_logits is None and evaluated.missing_logits is None


def test_structured_weighted_mean_redundancy_trains_its_modality_weights():
    model = _structured(redundancy="weighted_mean").train()
    out = model(_inputs(batch=6))
    redundancy = torch.einsum("bm,bmc->bc", out.redundancy_weights, out.modality_logits)
    torch.testing.assert_close(out.expert_logits[:, 4], redundancy)
    assert out.redundancy_weights.max() <= 0.5 + 1e-6
    (out.logits.sum() + out.missing_logits.sum()).backward()
    assert any(p.grad is not None and p.grad.any() for p in model.redundancy_gate.parameters())
    assert len(model.reweighting_parameters()) > len(list(model.reweighting.parameters()))


def test_structured_redundancy_rule_is_checked():
    with pytest.raises(ValueError, match="redundancy"):
        _structured(redundancy="mean")


def _agreement_by_hand(outputs, softmax=True):
    """Per sample and output: the second largest value if positive, plus the second smallest
    if negative, over the modalities given (one modality: its value; none: 0)."""
    if outputs.shape[1] == 0:
        return torch.zeros(outputs.shape[0], outputs.shape[2])
    if softmax:
        outputs = outputs - outputs.mean(-1, keepdim=True)
    rank = min(1, outputs.shape[1] - 1)
    rows = []
    for sample in outputs:
        row = []
        for values in sample.T.tolist():
            high = sorted(values, reverse=True)[rank]
            low = sorted(values)[rank]
            row.append(max(high, 0.0) + min(low, 0.0))
        rows.append(row)
    return torch.tensor(rows)


def _missing_by_hand(weights, experts, n_modalities, n_unique, redundancy_of):
    """Loop over modalities and experts: what each expert keeps without modality k;
    ``redundancy_of(present)`` is the redundancy expert's output from the modalities given."""
    batch, _, n_outputs = experts.shape
    rows = []
    for k in range(n_modalities):
        total = torch.zeros(batch, n_outputs)
        for e in range(n_unique):  # uniqueness[e] keeps its output unless e is missing
            if e != k:
                total += weights[:, e, None] * experts[:, e]
        # synergy keeps nothing; redundancy keeps what the modalities still present give it
        total += weights[:, -1, None] * redundancy_of([m for m in range(n_modalities) if m != k])
        rows.append(total)
    return torch.stack(rows, 1)


def _mean_of(per_modality, redundancy_weights):
    def redundancy_of(present):
        if not present:
            return torch.zeros(per_modality.shape[0], per_modality.shape[2])
        kept = redundancy_weights[:, present, None]
        return (kept * per_modality[:, present]).sum(1) / kept.sum(1)

    return redundancy_of


def _agreement_of(per_modality, softmax=True):
    return lambda present: _agreement_by_hand(per_modality[:, present], softmax)


@pytest.mark.parametrize(("n_modalities", "n_unique"), [(3, 3), (2, 2), (4, 0), (1, 1)])
def test_missing_modality_mixtures_match_a_loop(n_modalities, n_unique):
    torch.manual_seed(n_modalities)
    n_experts = n_unique + 2
    weights = torch.softmax(torch.randn(5, n_experts), 1)
    experts = torch.randn(5, n_experts, 3)
    per_modality = torch.randn(5, n_modalities, 3)
    cap = 0.5 if n_modalities > 1 else 1.0
    redundancy_weights = capped_softmax(3 * torch.randn(5, n_modalities), cap)
    for redundancy_missing, redundancy_of in (
        (
            weighted_mean_missing(per_modality, redundancy_weights),
            _mean_of(per_modality, redundancy_weights),
        ),
        (agreement_missing(per_modality), _agreement_of(per_modality)),
        (agreement_missing(per_modality, softmax=False), _agreement_of(per_modality, False)),
    ):
        got = missing_modality_mixtures(weights, experts, redundancy_missing, n_unique)
        expected = _missing_by_hand(weights, experts, n_modalities, n_unique, redundancy_of)
        torch.testing.assert_close(got, expected)


@settings(max_examples=60, deadline=None)
@given(
    n_modalities=st.integers(1, 5),
    n_outputs=st.integers(1, 4),
    softmax=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_modality_agreement_matches_order_statistics_by_hand(
    n_modalities, n_outputs, softmax, seed
):
    g = torch.Generator().manual_seed(seed)
    outputs = 3 * torch.randn(4, n_modalities, n_outputs, generator=g)
    present = torch.rand(4, n_modalities, generator=g) > 0.3
    got = modality_agreement(outputs, present, softmax)
    for b in range(4):
        kept = outputs[b : b + 1, present[b]]
        torch.testing.assert_close(got[b : b + 1], _agreement_by_hand(kept, softmax))
    # all present when no mask is given
    torch.testing.assert_close(
        modality_agreement(outputs, None, softmax), _agreement_by_hand(outputs, softmax)
    )


def test_modality_agreement_needs_two_modalities_and_ignores_a_shift_of_softmax_logits():
    sure = torch.tensor([3.0, -1.0, -2.0])
    agrees = torch.tensor([1.0, 0.0, -1.0])
    nothing = torch.zeros(3)
    # one modality alone, however sure, gives nothing; a second that agrees gives the smaller push
    torch.testing.assert_close(
        modality_agreement(torch.stack([sure, nothing, nothing])[None]), torch.zeros(1, 3)
    )
    both = modality_agreement(torch.stack([sure, agrees, nothing])[None])
    torch.testing.assert_close(both, agrees[None])
    # a modality that knows nothing does not dilute two that agree; disagreement gives 0
    torch.testing.assert_close(modality_agreement(torch.stack([sure, agrees])[None]), agrees[None])
    torch.testing.assert_close(
        modality_agreement(torch.stack([sure, -sure])[None]), torch.zeros(1, 3)
    )
    # softmax logits: a modality's shared shift changes nothing; other outputs: it does
    shifted = torch.stack([sure + 5.0, agrees - 2.0, nothing + 1.0])[None]
    torch.testing.assert_close(modality_agreement(shifted), agrees[None])
    assert not torch.allclose(modality_agreement(shifted, softmax=False), agrees[None])


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(-30, 30, allow_nan=False, width=32), min_size=2, max_size=6).map(
        torch.tensor
    ),
)
def test_capped_softmax_is_a_distribution_with_no_weight_above_the_cap(scores):
    weights = capped_softmax(scores)
    assert torch.isclose(weights.sum(), torch.tensor(1.0), atol=1e-5)
    assert weights.min() >= 0 and weights.max() <= 0.5 + 1e-6
    # it keeps the order of the scores (ties aside) and, below the cap, the softmax's
    assert torch.all(torch.diff(weights[torch.argsort(scores)]) >= -1e-6)
    softmax = torch.softmax(scores, -1)
    if softmax.max() <= 0.5:
        torch.testing.assert_close(weights, softmax)


def test_capped_softmax_two_modalities_weigh_equally_and_cap_is_checked():
    torch.testing.assert_close(capped_softmax(torch.tensor([[9.0, -9.0]])), torch.full((1, 2), 0.5))
    with pytest.raises(ValueError, match="cannot sum to 1"):
        capped_softmax(torch.zeros(3), cap=0.2)


@pytest.mark.parametrize("redundancy", ["agreement", "weighted_mean"])
def test_structured_missing_mixtures_come_from_the_experts_outputs(redundancy):
    model = _structured(redundancy=redundancy).train()
    present = torch.tensor([[True, True, True], [True, False, True], [False, True, False]] * 2)
    out = model(_inputs(batch=6), present)
    per_modality = out.modality_logits.detach()
    if redundancy == "agreement":
        redundancy_missing = agreement_missing(per_modality, present)
    else:
        redundancy_missing = weighted_mean_missing(per_modality, out.redundancy_weights.detach())
    expected = missing_modality_mixtures(
        out.weights.detach(), out.expert_logits.detach(), redundancy_missing, 3
    )
    torch.testing.assert_close(out.missing_logits.detach(), expected)
    if redundancy == "agreement":  # a sample's redundancy expert uses the modalities it has
        kept = modality_agreement(per_modality[1:2, [0, 2]])[0]
        torch.testing.assert_close(out.expert_logits[1, 4].detach(), kept)


def test_structured_redundancy_weights_follow_the_reweighting_kind():
    xs = _inputs(batch=6)
    static = _structured(reweighting="static", redundancy="weighted_mean").eval()
    torch.testing.assert_close(static(xs).redundancy_weights, torch.full((6, 3), 1 / 3))
    model = _structured(redundancy="weighted_mean").eval()
    torch.testing.assert_close(model(xs).redundancy_weights, torch.full((6, 3), 1 / 3))
    with torch.no_grad():  # the scores start at 0; give them something to say
        model.redundancy_gate.weight.normal_()
    per_sample = model(xs).redundancy_weights
    assert per_sample.shape == (6, 3) and per_sample.std(0).amax() > 0
    torch.testing.assert_close(per_sample.sum(1), torch.ones(6))


def test_a_modalitys_redundancy_score_depends_on_that_modality_only():
    # so that the redundancy expert cannot route between modalities (an XOR by routing)
    model = _structured(redundancy="weighted_mean").eval()
    with torch.no_grad():
        model.redundancy_gate.weight.normal_()
    xs = _inputs(batch=6)

    def scores(inputs):
        return model.redundancy_gate.raw_scores(model.pool(model.embed(inputs)))

    base = scores(xs)
    for k in range(3):
        changed = scores([x + 2.0 if m == k else x for m, x in enumerate(xs)])
        moved = (changed - base).abs().amax(0)
        assert moved[k] > 1e-3
        torch.testing.assert_close(moved[[m for m in range(3) if m != k]], torch.zeros(2))


def test_structured_mixture_needs_interaction_experts():
    with pytest.raises(ValueError, match="experts='single' has none"):
        StructuredInteractionMoE(N_FEATURES, 2, experts="single")
    model = _structured(experts="synergy_redundancy").eval()
    assert model(_inputs()).expert_logits.shape == (5, 2, 3)


def test_the_plain_api_names_a_modality_of_the_wrong_width_and_ignores_absent_nan():
    torch.manual_seed(0)
    model = StructuredInteractionMoE([5, 3], n_outputs=2, hidden_dim=8).eval()
    with pytest.raises(ValueError, match=r"Modality 1 has shape \(4, 2\); expected \(4, 3\)"):
        model([torch.randn(4, 5), torch.randn(4, 2)])
    xs = [torch.randn(4, 5), torch.randn(4, 3)]
    present = torch.tensor([[True, True], [True, False], [True, True], [True, False]])
    zeros = model([xs[0], xs[1].masked_fill(~present[:, 1:], 0.0)], present=present).logits
    nans = model([xs[0], xs[1].masked_fill(~present[:, 1:], float("nan"))], present=present)
    torch.testing.assert_close(nans.logits, zeros)


@pytest.mark.parametrize("cls", [InteractionMoE, StructuredInteractionMoE])
def test_the_plain_api_names_wrong_batches_dtypes_masks_and_sizes(cls):
    model = cls([5, 3], n_outputs=2, hidden_dim=8).eval()
    xs = [torch.randn(4, 5), torch.randn(4, 3)]
    with pytest.raises(ValueError, match=r"Modality 1 has shape \(3, 3\); expected \(4, 3\)"):
        model([xs[0], xs[1][:3]])
    with pytest.raises(TypeError, match=r"Modality 0 is torch.float64, the model is torch.float32"):
        model([x.double() for x in xs])
    with pytest.raises(TypeError, match=r"present must be a bool tensor of shape \(4, 2\)"):
        model(xs, present=torch.ones(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got torch.bool of shape \(4, 3\)"):
        model(xs, present=torch.ones(4, 3, dtype=torch.bool))
    for n_features in ([], [5, 0], [5, 2.5], [True, 3]):
        with pytest.raises(ValueError, match="n_features must list each modality"):
            cls(n_features, n_outputs=2)


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
@pytest.mark.parametrize("kind", [InteractionMoE, StructuredInteractionMoE])
def test_a_model_converted_to_float64_trains_and_predicts_in_float64(kind, fusion):
    # the weights and the mixture were always cast to float32 (for bfloat16 autocast), so
    # model.double() failed in the mixture's einsum with "expected scalar type Float"
    torch.manual_seed(0)
    xs = [torch.randn(16, 5, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)]
    y = (xs[0][:, 0] > 0).long()
    model = kind([5, 3], n_outputs=2, hidden_dim=16, fusion=fusion).double()
    objective = model.Objective(torch.nn.CrossEntropyLoss(reduction="none"))
    total, _ = objective(model.train()(xs), y)
    total.backward()
    assert total.dtype == torch.float64
    out = model.eval()(xs)
    assert out.logits.dtype == out.weights.dtype == out.expert_logits.dtype == torch.float64
    # the same model in float32 predicts the same, to float32's precision
    single = model.float()([x.float() for x in xs])
    assert single.logits.dtype == torch.float32
    torch.testing.assert_close(out.logits.float(), single.logits, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "fusion, fusion_kwargs",
    [
        ("mlp", {}),
        ("mlp", {"n_layers": 0}),
        ("mlp", {"n_layers": 1}),
        ("early", {}),
        ("transformer", {}),
    ],
)
def test_the_synergy_expert_is_its_joint_term_plus_a_sum_over_the_modalities(fusion, fusion_kwargs):
    # synergy_joint is f(x) of f(x) - sum_m f(x_m alone) + (M - 1) f(none): the rest is
    # additive, so the four-point identity of a swap holds for it exactly (the report's
    # swap test evaluates only this term on the swapped rows)
    torch.manual_seed(0)
    model = StructuredInteractionMoE(
        [4, 3, 2], n_outputs=2, hidden_dim=8, fusion=fusion, fusion_kwargs=fusion_kwargs
    ).eval()
    model.set_output_temperature(torch.tensor(1.7))
    xs = [torch.randn(10, d) for d in (4, 3, 2)]
    present = torch.rand(10, 3) > 0.3
    with torch.no_grad():
        joint = model.synergy_joint(xs, present)
        tokens = model.embed(xs, present)
        clean = model.fusion(tokens).logits[model.n_experts - 2] / 1.7
        torch.testing.assert_close(joint, clean)

        def rest(xs, present):  # the synergy expert's output less its joint term
            synergy = model(xs, present).expert_logits[:, model.n_experts - 2]
            return synergy - model.synergy_joint(xs, present)

        partner = torch.tensor([1, 0, 3, 2, 5, 4, 7, 6, 9, 8])
        for m in range(3):
            swapped = [x[partner] if k == m else x for k, x in enumerate(xs)]
            mask = present.clone()
            mask[:, m] = present[partner, m]
            joined = rest(swapped, mask)
            assert not torch.allclose(joined, rest(xs, present), atol=1e-3)
            # r(m_i, rest_j) + r(m_j, rest_i) == r(m_i, rest_i) + r(m_j, rest_j)
            torch.testing.assert_close(
                joined + joined[partner],
                rest(xs, present) + rest(xs, present)[partner],
                atol=1e-5,
                rtol=1e-5,
            )
