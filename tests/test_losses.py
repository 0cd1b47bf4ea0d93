import math

import pytest
import torch
from torch.nn import functional as F

from sk_i2moe.nn.losses import (
    interaction_loss,
    interaction_terms,
    redundancy_loss,
    synergy_loss,
    uniqueness_loss,
)


def test_uniqueness_hand_computed():
    # one sample, 2-D outputs; modality 0's expert
    anchor = torch.tensor([[0.0, 0.0]])
    perturbed = torch.tensor(
        [
            [[3.0, 4.0]],  # modality 0 replaced: negative, distance 5
            [[1.0, 0.0]],  # modality 1 replaced: positive, distance 1
            [[0.0, 6.0]],  # modality 2 replaced: positive, distance 6
        ]
    )
    eps = 1e-6
    d_neg = math.hypot(3 + eps, 4 + eps)
    d1 = math.hypot(1 + eps, eps)
    d2 = math.hypot(eps, 6 + eps)
    expected = (max(d1 - d_neg + 1, 0) + max(d2 - d_neg + 1, 0)) / 2  # (0 + 2) / 2
    got = uniqueness_loss(anchor, perturbed, modality=0)
    assert got.item() == pytest.approx(expected, abs=1e-6)
    assert got.item() == pytest.approx(1.0, abs=1e-5)


def test_uniqueness_uses_its_own_modality_as_negative():
    anchor = torch.zeros(1, 2)
    perturbed = torch.tensor([[[3.0, 4.0]], [[1.0, 0.0]], [[0.0, 6.0]]])
    # for modality 2 the far output (distance 6) is the negative: hinges are
    # max(5 - 6 + 1, 0) = 0 and max(1 - 6 + 1, 0) = 0
    assert uniqueness_loss(anchor, perturbed, modality=2).item() == pytest.approx(0.0, abs=1e-5)
    # for modality 1 the near output is the negative: (5 - 1 + 1) + (6 - 1 + 1) over 2
    assert uniqueness_loss(anchor, perturbed, modality=1).item() == pytest.approx(5.5, abs=1e-5)


@pytest.mark.parametrize("modality", [0, 1, 2])
def test_uniqueness_matches_torch_triplet_loss(modality):
    g = torch.Generator().manual_seed(modality)
    anchor = torch.randn(6, 4, generator=g)
    perturbed = torch.randn(3, 6, 4, generator=g)
    expected = torch.stack(
        [
            F.triplet_margin_loss(anchor, perturbed[j], perturbed[modality], margin=1.0)
            for j in range(3)
            if j != modality
        ]
    ).mean()
    torch.testing.assert_close(uniqueness_loss(anchor, perturbed, modality), expected)


def test_synergy_and_redundancy_hand_computed():
    anchor = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    perturbed = torch.tensor(
        [
            [[1.0, 1.0], [0.0, -1.0]],  # cos: 1/sqrt(2), -1
            [[2.0, 0.0], [3.0, 0.0]],  # cos: 1, 0
        ]
    )
    mean_cos = (1 / math.sqrt(2) - 1 + 1 + 0) / 4
    assert synergy_loss(anchor, perturbed).item() == pytest.approx(mean_cos, abs=1e-6)
    assert redundancy_loss(anchor, perturbed).item() == pytest.approx(1 - mean_cos, abs=1e-6)


def _per_expert_terms(outputs):
    m = outputs.shape[1] - 1
    terms = [uniqueness_loss(outputs[i, 0], outputs[i, 1:], i) for i in range(m)] if m > 1 else []
    terms.append(synergy_loss(outputs[m, 0], outputs[m, 1:]))
    terms.append(redundancy_loss(outputs[m + 1, 0], outputs[m + 1, 1:]))
    return torch.stack(terms)


@pytest.mark.parametrize("n_modalities", [2, 3, 5])
def test_vectorised_terms_equal_per_expert_functions(n_modalities):
    g = torch.Generator().manual_seed(n_modalities)
    outputs = torch.randn(n_modalities + 2, n_modalities + 1, 7, 3, generator=g)
    torch.testing.assert_close(interaction_terms(outputs), _per_expert_terms(outputs))
    torch.testing.assert_close(interaction_loss(outputs), _per_expert_terms(outputs).mean())


def test_single_modality_has_no_uniqueness_term():
    outputs = torch.randn(3, 2, 5, 2, generator=torch.Generator().manual_seed(0))
    terms = interaction_terms(outputs)
    assert terms.shape == (2,)
    assert torch.isfinite(interaction_loss(outputs))
    torch.testing.assert_close(terms, _per_expert_terms(outputs))


def test_losses_reward_the_intended_behaviour():
    anchor = torch.randn(4, 3)
    same = anchor.expand(2, 4, 3)
    # redundancy is zero when removing a modality changes nothing; synergy is then at its maximum
    assert redundancy_loss(anchor, same).item() == pytest.approx(0.0, abs=1e-6)
    assert synergy_loss(anchor, same).item() == pytest.approx(1.0, abs=1e-6)
    assert synergy_loss(anchor, -same).item() == pytest.approx(-1.0, abs=1e-6)


def test_euclidean_synergy_and_redundancy_hand_computed():
    anchor = torch.tensor([[0.0, 0.0]])
    perturbed = torch.tensor([[[3.0, 4.0]], [[0.5, 0.0]]])  # distances 5 and 0.5
    # synergy: hinge on the distance, mean(relu(1 - 5), relu(1 - 0.5)) = 0.25
    got = synergy_loss(anchor, perturbed, distance="euclidean", margin=1.0)
    assert got.item() == pytest.approx(0.25, abs=1e-5)
    assert synergy_loss(anchor, perturbed, "euclidean", margin=6.0).item() == pytest.approx(
        ((6 - 5) + (6 - 0.5)) / 2, abs=1e-5
    )
    # redundancy: mean squared distance (25 + 0.25) / 2
    assert redundancy_loss(anchor, perturbed, distance="euclidean").item() == pytest.approx(12.625)
    # identical outputs: redundancy 0, synergy at its maximum, the margin
    same = anchor.expand(2, 1, 2)
    assert redundancy_loss(anchor, same, "euclidean").item() == pytest.approx(0.0)
    assert synergy_loss(anchor, same, "euclidean").item() == pytest.approx(1.0, abs=1e-5)


def test_euclidean_terms_are_bounded_below_and_synergy_pushes_apart():
    outputs = torch.randn(5, 4, 6, 1, generator=torch.Generator().manual_seed(0)) * 100
    terms = interaction_terms(outputs, distance="euclidean")
    assert terms.shape == (5,) and (terms >= 0).all()
    # descending the synergy term separates the clean and perturbed outputs, then stops at 0
    anchor = torch.zeros(8, 1, requires_grad=True)
    perturbed = torch.full((3, 8, 1), 0.1, requires_grad=True)
    opt = torch.optim.SGD([anchor, perturbed], lr=0.5)
    for _ in range(50):
        loss = synergy_loss(anchor, perturbed, "euclidean")
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert (perturbed - anchor).abs().min() >= 1.0 - 1e-3


def test_euclidean_vectorised_terms_equal_per_expert_functions():
    outputs = torch.randn(5, 4, 7, 2, generator=torch.Generator().manual_seed(3))
    expected = [uniqueness_loss(outputs[i, 0], outputs[i, 1:], i) for i in range(3)]
    expected.append(synergy_loss(outputs[3, 0], outputs[3, 1:], "euclidean"))
    expected.append(redundancy_loss(outputs[4, 0], outputs[4, 1:], "euclidean"))
    got = interaction_terms(outputs, distance="euclidean")
    torch.testing.assert_close(got, torch.stack(expected))


def test_terms_over_a_subset_of_perturbed_modalities():
    # 4 modalities, variants: clean, modality 1 replaced, modality 3 replaced
    outputs = torch.randn(6, 3, 5, 2, generator=torch.Generator().manual_seed(4))
    terms = interaction_terms(outputs, modalities=[1, 3])
    anchors, perturbed = outputs[:, 0], outputs[:, 1:]
    expected = torch.stack(
        [
            uniqueness_loss(anchors[1], perturbed[1], modality=0),  # its negative is variant 0
            uniqueness_loss(anchors[3], perturbed[3], modality=1),
            synergy_loss(anchors[4], perturbed[4]),
            redundancy_loss(anchors[5], perturbed[5]),
        ]
    )
    torch.testing.assert_close(terms, expected)
    # one perturbed modality: no positive for any uniqueness expert
    assert interaction_terms(outputs[:, :2], modalities=[2]).shape == (2,)


def test_synergy_and_redundancy_experts_only():
    outputs = torch.randn(2, 4, 5, 3, generator=torch.Generator().manual_seed(5))
    expected = torch.stack(
        [
            synergy_loss(outputs[0, 0], outputs[0, 1:]),
            redundancy_loss(outputs[1, 0], outputs[1, 1:]),
        ]
    )
    torch.testing.assert_close(interaction_terms(outputs), expected)


def test_unknown_distance_is_rejected():
    with pytest.raises(ValueError, match="Unknown distance 'l1'"):
        interaction_loss(torch.randn(5, 4, 2, 2), distance="l1")
