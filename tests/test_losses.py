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
