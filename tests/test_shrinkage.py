"""weight_shrinkage: the per-sample weights shrunk towards their training mean at prediction."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe.datasets import make_interaction_classification, make_interaction_regression
from sk_i2moe.nn import StructuredInteractionMoE
from sk_i2moe.nn.ensemble import MixtureEnsemble, member_contributions
from sk_i2moe.nn.models import shrink_weights
from sk_i2moe.nn.refine import refinable
from sk_i2moe.nn.shrinkage import anchor_weights, release_weights

SMALL = {"max_epochs": 4, "hidden_dim": 8, "n_tokens": 2, "random_state": 0, "n_threads": 1}


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_interaction_classification("redundancy", n_samples=200, random_state=1)
    return X, y


@pytest.fixture(scope="module")
def pair(data):
    """The same fit predicting with shrinkage 0.4 and without (training is identical)."""
    X, y = data
    shrunk = I2MoEClassifier(**SMALL, n_members=2, weight_shrinkage=0.4).fit(X, y)
    plain = I2MoEClassifier(**SMALL, n_members=2, weight_shrinkage=0.0).fit(X, y)
    return shrunk, plain


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shrinkage=st.floats(0, 1),
    n_experts=st.integers(2, 6),
    masked=st.booleans(),
)
def test_shrunk_weights_are_weights_on_the_usable_experts_in_the_same_order(
    seed, shrinkage, n_experts, masked
):
    g = torch.Generator().manual_seed(seed)
    available = torch.rand(16, n_experts, generator=g) < 0.7 if masked else None
    if available is not None:
        available[:, -1] = True  # every row can use one expert (the redundancy expert's rule)
    scores = torch.randn(16, n_experts, generator=g)
    if available is not None:
        scores = scores.masked_fill(~available, float("-inf"))
    weights = torch.softmax(scores, -1)
    anchor = torch.rand(n_experts, generator=g)
    out = shrink_weights(weights, anchor, shrinkage, available)
    torch.testing.assert_close(out.sum(-1), torch.ones(16))
    assert (out >= 0).all()
    if available is not None:
        assert (out[~available] == 0).all()
    # an increasing map of each expert's weight across the rows that share a set of usable experts
    rows = slice(None) if available is None else (available == available[0]).all(1)
    a, b = weights[rows], out[rows]
    order = (a[:, None, :] < a[None, :, :]) & (a[:, None, :] > 0)
    assert (b[:, None, :] <= b[None, :, :] + 1e-6)[order].all()


def test_no_shrinkage_and_full_shrinkage_are_the_weights_and_the_anchor():
    weights = torch.tensor([[0.7, 0.3, 0.0], [0.1, 0.1, 0.8]])
    anchor = torch.tensor([0.2, 0.2, 0.6])
    torch.testing.assert_close(shrink_weights(weights, anchor, 0.0), weights)
    torch.testing.assert_close(shrink_weights(weights, anchor, 1.0), anchor.expand(2, 3))
    usable = torch.tensor([[True, True, False], [True, True, True]])
    torch.testing.assert_close(
        shrink_weights(weights, anchor, 1.0, usable)[0], torch.tensor([0.5, 0.5, 0.0])
    )
    # usable experts with anchor weight 0 only: the row keeps its own weights
    lonely = torch.tensor([[False, False, True]])
    torch.testing.assert_close(
        shrink_weights(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([0.5, 0.5, 0.0]), 1.0, lonely),
        torch.tensor([[0.0, 0.0, 1.0]]),
    )


def test_the_anchor_is_each_members_mean_unshrunk_training_weight(data, pair):
    X, _ = data
    shrunk, plain = pair
    raw = plain.explain(X).member_weights  # (n, K, E), not shrunk
    members = shrunk.net_.module_.members
    for k, member in enumerate(members):
        np.testing.assert_allclose(member.weight_anchor.cpu().numpy(), raw[:, k].mean(0), atol=1e-6)
        assert member.weight_shrinkage.item() == pytest.approx(0.4)
    for member in plain.net_.module_.members:
        assert member.weight_shrinkage.item() == 0.0


def test_prediction_explanation_and_mean_weights_use_the_shrunk_weights(data, pair):
    X, _ = data
    shrunk, plain = pair
    a, b = shrunk.explain(X), plain.explain(X)
    anchors = np.stack([m.weight_anchor.cpu().numpy() for m in shrunk.net_.module_.members])
    np.testing.assert_allclose(a.member_weights, 0.6 * b.member_weights + 0.4 * anchors, atol=1e-6)
    np.testing.assert_allclose(a.member_outputs, b.member_outputs, atol=1e-6)  # same experts
    logits = member_contributions(a.member_weights, a.member_outputs).sum(1)
    proba = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(
        shrunk.predict_proba(X), proba / proba.sum(1, keepdims=True), atol=1e-5
    )
    assert not np.allclose(shrunk.predict_proba(X), plain.predict_proba(X), atol=1e-3)
    # on the training rows the shrinkage keeps the mean weights
    np.testing.assert_allclose(shrunk.interaction_weights_, plain.interaction_weights_, atol=1e-5)
    # and every expert's weights keep their order over the samples
    for e in range(a.weights.shape[1]):
        first = np.argsort(b.member_weights[:, 0, e], kind="stable")
        assert (np.diff(a.member_weights[first, 0, e]) >= -1e-6).all()


def test_a_single_mixture_and_a_regressor_shrink_too():
    X, y, _ = make_interaction_regression("uniqueness", n_samples=120, random_state=0)
    shrunk = I2MoERegressor(**SMALL, n_members=1, weight_shrinkage=1.0).fit(X, y)
    plain = I2MoERegressor(**SMALL, n_members=1, weight_shrinkage=0.0).fit(X, y)
    weights = shrunk.explain(X).weights
    np.testing.assert_allclose(weights, np.broadcast_to(weights[0], weights.shape), atol=1e-6)
    np.testing.assert_allclose(weights[0], plain.explain(X).weights.mean(0), atol=1e-5)
    assert not np.allclose(shrunk.predict(X), plain.predict(X))


def test_the_papers_mixture_ignores_the_shrinkage(data):
    X, y = data
    options = {**SMALL, "n_members": 1, "interaction_constraint": "loss"}
    shrunk = I2MoEClassifier(**options, weight_shrinkage=0.9).fit(X, y)
    plain = I2MoEClassifier(**options, weight_shrinkage=0.0).fit(X, y)
    assert not refinable(shrunk.net_.module_)  # its weights are not shrunk
    np.testing.assert_array_equal(shrunk.predict_proba(X), plain.predict_proba(X))


def test_the_anchor_over_rows_that_lack_a_modality_counts_only_usable_rows(data):
    X, y = data
    X = {k: v.copy() for k, v in X.items()}
    X["m0"][:80] = np.nan  # uniqueness[m0] is unusable on these rows
    shrunk = I2MoEClassifier(**SMALL, n_members=1, weight_shrinkage=0.5).fit(X, y)
    plain = I2MoEClassifier(**SMALL, n_members=1, weight_shrinkage=0.0).fit(X, y)
    raw = plain.explain(X).weights
    anchor = shrunk.net_.module_.weight_anchor.cpu().numpy()
    assert anchor[0] == pytest.approx(raw[80:, 0].mean(), abs=1e-6)
    assert anchor[1] == pytest.approx(raw[:, 1].mean(), abs=1e-6)
    weights = shrunk.explain(X).weights
    assert (weights[:80, 0] == 0).all()
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)


def test_a_warm_started_fit_recomputes_the_anchor_with_the_new_shrinkage(data):
    X, y = data
    clf = I2MoEClassifier(**SMALL, n_members=1, weight_shrinkage=0.5).fit(X, y)
    before = clf.net_.module_.weight_anchor.clone()
    clf.set_params(warm_start=True, weight_shrinkage=0.1, max_epochs=2).fit(X, y)
    module = clf.net_.module_
    assert module.weight_shrinkage.item() == pytest.approx(0.1)
    assert not torch.allclose(module.weight_anchor, before)  # two more epochs moved the weights
    release_weights(module)
    raw = clf.explain(X).weights
    np.testing.assert_allclose(module.weight_anchor.cpu().numpy(), raw.mean(0), atol=1e-6)


def test_anchoring_checks_its_inputs():
    model = MixtureEnsemble(StructuredInteractionMoE, 2, n_features=[3, 2], n_outputs=2)
    with pytest.raises(ValueError, match=r"shape \(n, 2, E\), one block per member"):
        anchor_weights(model, np.full((5, 3, 4), 0.25), None, 0.5)
    with pytest.raises(ValueError, match="4 non-negative weights, not all 0"):
        model.members[0].anchor_weights(torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match=r"shrinkage must be in \[0, 1\]; got 1.5"):
        model.members[0].anchor_weights(torch.full((4,), 0.25), 1.5)
    with pytest.raises(ValueError, match="weight_shrinkage"):
        I2MoEClassifier(weight_shrinkage=1.5).fit(*make_interaction_classification()[:2])


def test_a_fresh_mixture_does_not_shrink_until_anchored():
    torch.manual_seed(0)
    model = StructuredInteractionMoE([3, 2], n_outputs=2, hidden_dim=8).eval()
    xs = [torch.randn(10, 3), torch.randn(10, 2)]
    before = model(xs).weights
    torch.testing.assert_close(model.mix(model.expert_pass(xs), predicting=True).weights, before)
    model.anchor_weights(torch.tensor([1.0, 0.0, 0.0, 0.0]), 1.0)
    after = model(xs).weights
    torch.testing.assert_close(after, torch.tensor([[1.0, 0.0, 0.0, 0.0]]).expand(10, 4))
    torch.testing.assert_close(model.train()(xs).weights, before)  # training: as trained


@pytest.mark.parametrize("absent", [False, True])
def test_the_mean_training_weights_are_those_prediction_gives(data, absent):
    X, y = data
    if absent:
        X = {k: v.copy() for k, v in X.items()}
        X["m1"][::3] = np.nan
    clf = I2MoEClassifier(**SMALL, n_members=2, weight_shrinkage=0.3).fit(X, y)
    np.testing.assert_allclose(clf.interaction_weights_, clf.explain(X).weights.mean(0), atol=1e-6)


def test_shrink_weights_names_a_bad_anchor_or_shrinkage():
    weights = torch.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="anchor has 2 weights for 3 experts"):
        shrink_weights(weights, torch.tensor([0.5, 0.5]), 0.5)
    for shrinkage in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"shrinkage must be in \[0, 1\]"):
            shrink_weights(weights, torch.tensor([0.2, 0.3, 0.5]), shrinkage)
