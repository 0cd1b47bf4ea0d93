"""nn/objective.py: every interaction term against torch's own functions, and the objectives."""

import math

import pytest
import torch
from torch.nn import functional as F

from sk_i2moe.nn import (
    InteractionMoE,
    InteractionObjective,
    StructuredInteractionMoE,
    StructuredObjective,
    interaction_loss,
    interaction_terms,
)


# -- an independent, one-expert-at-a-time oracle built from torch's functions --------------
def _uniqueness(anchor, perturbed, negative):
    positives = [j for j in range(perturbed.shape[0]) if j != negative]
    return torch.stack(
        [F.triplet_margin_loss(anchor, perturbed[j], perturbed[negative]) for j in positives]
    ).mean()


def _synergy(anchor, perturbed, distance="cosine", margin=1.0):
    if distance == "cosine":
        return F.cosine_similarity(anchor.unsqueeze(0), perturbed, dim=-1).mean()
    dist = F.pairwise_distance(anchor.expand_as(perturbed[0]).unsqueeze(0), perturbed)
    return F.relu(margin - dist).mean()


def _redundancy(anchor, perturbed, distance="cosine"):
    if distance == "cosine":
        return 1 - F.cosine_similarity(anchor.unsqueeze(0), perturbed, dim=-1).mean()
    return (anchor.unsqueeze(0) - perturbed).square().sum(-1).mean()


def _oracle(outputs, distance="cosine"):
    n_unique = outputs.shape[0] - 2
    anchors, perturbed = outputs[:, 0], outputs[:, 1:]
    terms = []
    if outputs.shape[1] > 2:  # at least two perturbed variants: positives exist
        terms = [_uniqueness(anchors[i], perturbed[i], i) for i in range(n_unique)]
    terms.append(_synergy(anchors[-2], perturbed[-2], distance))
    terms.append(_redundancy(anchors[-1], perturbed[-1], distance))
    return torch.stack(terms)


def _terms_of(outputs_per_expert):
    """Outputs ``[E, V, B, C]`` from a list of per-expert ``(anchor, perturbed)``."""
    return torch.stack([torch.cat((a.unsqueeze(0), p)) for a, p in outputs_per_expert])


def test_uniqueness_hand_computed():
    # one sample, 2-D outputs, 3 modalities; uniqueness expert of modality 0
    anchor = torch.tensor([[0.0, 0.0]])
    perturbed = torch.tensor([[[3.0, 4.0]], [[1.0, 0.0]], [[0.0, 6.0]]])  # distances 5, 1, 6
    filler = (torch.zeros(1, 2), torch.zeros(3, 1, 2))
    outputs = _terms_of([(anchor, perturbed)] * 3 + [filler] * 2)
    terms = interaction_terms(outputs)
    # modality 0's negative is at 5: hinges max(1 - 5 + 1, 0) = 0 and max(6 - 5 + 1, 0) = 2
    assert terms[0].item() == pytest.approx(1.0, abs=1e-5)
    # modality 1's negative is at 1: (5 - 1 + 1) and (6 - 1 + 1) over 2
    assert terms[1].item() == pytest.approx(5.5, abs=1e-5)
    # modality 2's negative is the far one: no loss
    assert terms[2].item() == pytest.approx(0.0, abs=1e-5)


def test_synergy_and_redundancy_hand_computed():
    anchor = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    perturbed = torch.tensor(
        [
            [[1.0, 1.0], [0.0, -1.0]],  # cos: 1/sqrt(2), -1
            [[2.0, 0.0], [3.0, 0.0]],  # cos: 1, 0
        ]
    )
    mean_cos = (1 / math.sqrt(2) - 1 + 1 + 0) / 4
    synergy, redundancy = interaction_terms(_terms_of([(anchor, perturbed)] * 2))
    assert synergy.item() == pytest.approx(mean_cos, abs=1e-6)
    assert redundancy.item() == pytest.approx(1 - mean_cos, abs=1e-6)


def test_euclidean_synergy_and_redundancy_hand_computed():
    anchor = torch.tensor([[0.0, 0.0]])
    perturbed = torch.tensor([[[3.0, 4.0]], [[0.5, 0.0]]])  # distances 5 and 0.5
    outputs = _terms_of([(anchor, perturbed)] * 2)
    synergy, redundancy = interaction_terms(outputs, distance="euclidean")
    assert synergy.item() == pytest.approx(0.25, abs=1e-5)  # mean(relu(1 - 5), relu(1 - 0.5))
    assert redundancy.item() == pytest.approx(12.625)  # (25 + 0.25) / 2
    wide = interaction_terms(outputs, margin=6.0, distance="euclidean")[0]
    assert wide.item() == pytest.approx(((6 - 5) + (6 - 0.5)) / 2, abs=1e-5)
    same = _terms_of([(anchor, anchor.expand(2, 1, 2))] * 2)
    synergy, redundancy = interaction_terms(same, distance="euclidean")
    assert synergy.item() == pytest.approx(1.0, abs=1e-5) and redundancy.item() == 0.0


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("n_modalities", [1, 2, 3, 5])
def test_vectorised_terms_equal_the_oracle(n_modalities, distance):
    g = torch.Generator().manual_seed(n_modalities)
    outputs = torch.randn(n_modalities + 2, n_modalities + 1, 7, 3, generator=g)
    expected = _oracle(outputs, distance)
    torch.testing.assert_close(interaction_terms(outputs, distance=distance), expected)
    torch.testing.assert_close(interaction_loss(outputs, distance=distance), expected.mean())


def test_terms_over_a_subset_of_perturbed_modalities():
    # 4 modalities, variants: clean, modality 1 replaced, modality 3 replaced
    outputs = torch.randn(6, 3, 5, 2, generator=torch.Generator().manual_seed(4))
    terms = interaction_terms(outputs, modalities=[1, 3])
    anchors, perturbed = outputs[:, 0], outputs[:, 1:]
    expected = torch.stack(
        [
            _uniqueness(anchors[1], perturbed[1], negative=0),  # modality 1 is variant 0
            _uniqueness(anchors[3], perturbed[3], negative=1),
            _synergy(anchors[4], perturbed[4]),
            _redundancy(anchors[5], perturbed[5]),
        ]
    )
    torch.testing.assert_close(terms, expected)
    # one perturbed modality: no positive for any uniqueness expert
    assert interaction_terms(outputs[:, :2], modalities=[2]).shape == (2,)


def test_euclidean_synergy_pushes_apart_and_stops_at_zero():
    outputs = torch.randn(5, 4, 6, 1, generator=torch.Generator().manual_seed(0)) * 100
    assert (interaction_terms(outputs, distance="euclidean") >= 0).all()
    anchor = torch.zeros(1, 8, 1, requires_grad=True)
    perturbed = torch.full((3, 8, 1), 0.1, requires_grad=True)
    opt = torch.optim.SGD([anchor, perturbed], lr=0.5)
    for _ in range(50):
        stacked = torch.cat((anchor, perturbed)).unsqueeze(0).expand(2, -1, -1, -1)
        loss = interaction_terms(stacked, distance="euclidean")[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert (perturbed - anchor).abs().min() >= 1.0 - 1e-3


def test_unknown_distance_is_rejected():
    with pytest.raises(ValueError, match="Unknown distance 'l1'"):
        interaction_loss(torch.randn(5, 4, 2, 2), distance="l1")


# -- the objectives ------------------------------------------------------------------------
def _ce():
    return torch.nn.CrossEntropyLoss(reduction="none")


def _batch(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 4, generator=g), torch.randn(n, 3, generator=g)], torch.arange(n) % 2


def test_interaction_objective_adds_its_weighted_parts():
    torch.manual_seed(0)
    model = InteractionMoE([4, 3], 2, hidden_dim=8)
    objective = InteractionObjective(_ce(), interaction_loss_weight=0.3, expert_loss_weight=2.0)
    xs, y = _batch()
    weight = torch.linspace(0.5, 2.0, 12)
    out = model(xs)
    total, parts = objective(out, y, weight)
    assert list(parts) == ["task_loss", "expert_loss", "interaction_loss"]
    task = (F.cross_entropy(out.logits, y, reduction="none") * weight).sum() / weight.sum()
    torch.testing.assert_close(parts["task_loss"], task)
    per_expert = [
        (F.cross_entropy(out.expert_logits[:, e], y, reduction="none") * weight).sum()
        / weight.sum()
        for e in range(4)
    ]
    torch.testing.assert_close(parts["expert_loss"], torch.stack(per_expert).mean())
    # the interaction terms are weighted as the task loss is
    weighted = interaction_loss(out.variant_outputs, sample_weight=weight)
    torch.testing.assert_close(parts["interaction_loss"], weighted)
    assert not torch.isclose(weighted, interaction_loss(out.variant_outputs))
    expected = task + 2.0 * parts["expert_loss"] + 0.3 * parts["interaction_loss"]
    torch.testing.assert_close(total, expected)
    # unit weights by default; evaluation outputs carry no interaction term
    total_unweighted, _ = objective(out, y)
    torch.testing.assert_close(total_unweighted, objective(out, y, torch.ones(12))[0])
    _, eval_parts = objective(model.eval()(xs), y)
    assert list(eval_parts) == ["task_loss", "expert_loss"]


def test_zero_weights_leave_their_terms_out():
    torch.manual_seed(0)
    model = InteractionMoE([4, 3], 2, hidden_dim=8, perturbed_passes=False)
    objective = InteractionObjective(_ce(), interaction_loss_weight=0.0, expert_loss_weight=0.0)
    xs, y = _batch()
    total, parts = objective(model(xs), y)
    assert list(parts) == ["task_loss"]
    torch.testing.assert_close(total, parts["task_loss"])


def test_structured_objective_parts_and_weights():
    torch.manual_seed(0)
    model = StructuredInteractionMoE([4, 3], 2, hidden_dim=8)
    xs, y = _batch()
    out = model(xs)
    objective = StructuredObjective(
        _ce(), interaction_loss_weight=0.25, missing_modality_loss_weight=3.0
    )
    total, parts = objective(out, y)
    assert list(parts) == ["task_loss", "expert_loss", "missing_modality_loss", "modality_loss"]
    folded = F.cross_entropy(out.modality_logits.flatten(0, 1), y.repeat_interleave(2))
    torch.testing.assert_close(parts["modality_loss"], folded)
    missing = F.cross_entropy(out.missing_logits.flatten(0, 1), y.repeat_interleave(2))
    torch.testing.assert_close(parts["missing_modality_loss"], missing)
    expected = (
        parts["task_loss"]
        + parts["expert_loss"]
        + 3.0 * parts["missing_modality_loss"]
        + 0.25 * parts["modality_loss"]
    )
    torch.testing.assert_close(total, expected)
    # weight 0 leaves the term out of the total and of the record
    total0, parts0 = StructuredObjective(
        _ce(), interaction_loss_weight=0.25, missing_modality_loss_weight=0.0
    )(out, y)
    assert "missing_modality_loss" not in parts0
    torch.testing.assert_close(total0, expected - 3.0 * parts["missing_modality_loss"])
    with pytest.raises(ValueError, match="interaction_loss_weight must be > 0"):
        StructuredObjective(_ce(), interaction_loss_weight=0.0)
    with pytest.raises(ValueError, match="expert_loss_weight must be > 0"):
        StructuredObjective(_ce(), expert_loss_weight=0.0)


def test_single_modality_outputs_learn_from_their_own_loss_only():
    # the redundancy expert's loss reaches its modality weights, not the outputs it averages
    torch.manual_seed(0)
    model = StructuredInteractionMoE([4, 3], 2, hidden_dim=8, redundancy="weighted_mean")
    xs, y = _batch()
    out = model(xs)
    redundancy = out.expert_logits[:, -1]
    loss = F.cross_entropy(redundancy, y)
    grads = torch.autograd.grad(
        loss, [out.modality_logits, out.redundancy_weights], allow_unused=True
    )
    assert grads[0] is None or torch.count_nonzero(grads[0]) == 0
    assert grads[1] is not None and torch.count_nonzero(grads[1]) > 0


def test_task_loss_must_be_per_sample():
    with pytest.raises(ValueError, match="reduction='none'"):
        InteractionObjective(torch.nn.CrossEntropyLoss())


def test_multi_output_losses_are_averaged_over_outputs():
    objective = InteractionObjective(torch.nn.BCEWithLogitsLoss(reduction="none"))
    logits, y = torch.randn(6, 3), torch.randint(0, 2, (6, 3)).float()
    expected = F.binary_cross_entropy_with_logits(logits, y)
    torch.testing.assert_close(objective.weighted_task_loss(logits, y, torch.ones(6)), expected)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_interaction_terms_leave_out_samples_of_weight_zero(distance):
    outputs = torch.randn(5, 4, 8, 2, generator=torch.Generator().manual_seed(0))
    weight = torch.tensor([1.0, 2.0, 0.0, 1.0, 0.0, 3.0, 1.0, 1.0])
    kept = weight > 0
    torch.testing.assert_close(
        interaction_terms(outputs, distance=distance, sample_weight=weight),
        interaction_terms(outputs[:, :, kept], distance=distance, sample_weight=weight[kept]),
    )
    changed = outputs.clone()
    changed[:, :, ~kept] = 100.0  # what the rows of weight 0 hold does not matter
    torch.testing.assert_close(
        interaction_terms(changed, distance=distance, sample_weight=weight),
        interaction_terms(outputs, distance=distance, sample_weight=weight),
    )
    # equal weights are the unweighted mean
    torch.testing.assert_close(
        interaction_terms(outputs, distance=distance, sample_weight=torch.full((8,), 3.0)),
        interaction_terms(outputs, distance=distance),
    )
