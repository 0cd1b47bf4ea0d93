"""The ``redundancy`` option: how the structured redundancy expert combines its modalities."""

import numpy as np
import pytest
import torch

from sk_i2moe import I2MoEClassifier, I2MoERegressor, load
from sk_i2moe.datasets import make_interaction_classification
from sk_i2moe.nn import modality_agreement

TINY = {"max_epochs": 2, "hidden_dim": 8, "n_tokens": 2, "n_members": 1, "random_state": 0}


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = {"a": rng.normal(size=(n, 3)), "b": rng.normal(size=(n, 2)), "c": rng.normal(size=(n, 4))}
    return X, X["a"][:, 0] + X["b"][:, 1]


@pytest.mark.parametrize(
    ("estimator", "target", "softmax"),
    [
        (I2MoEClassifier, lambda y: (y > 0).astype(int), True),
        (I2MoEClassifier, lambda y: np.stack([y > 0, y > 1], 1).astype(int), False),  # labels
        (I2MoERegressor, lambda y: y, False),
    ],
)
def test_the_rule_and_the_kind_of_output_reach_the_model(estimator, target, softmax):
    X, y = _data()
    model = estimator(**TINY, redundancy="agreement").fit(X, target(y)).net_.module_
    assert model.redundancy == "agreement" and model.softmax_outputs is softmax
    assert not hasattr(model, "redundancy_gate")
    default = estimator(**TINY).fit(X, target(y)).net_.module_
    assert default.redundancy == "weighted_mean" and hasattr(default, "redundancy_gate")


def test_agreement_is_what_the_redundancy_expert_outputs():
    X, y = _data()
    clf = I2MoEClassifier(**TINY, redundancy="agreement").fit(X, (y > 0).astype(int))
    model = clf.net_.module_.eval()
    device = next(model.parameters()).device
    xs = [torch.as_tensor(X[name], dtype=torch.float32, device=device) for name in clf.modalities_]
    with torch.no_grad():  # the module standardises its inputs itself
        expected = modality_agreement(model.expert_pass(xs).modality_logits).cpu()
    reported = clf.explain(X).expert_outputs[:, clf.expert_names_.index("redundancy")]
    np.testing.assert_allclose(reported, expected.numpy(), rtol=1e-5, atol=1e-5)
    assert np.abs(reported).max() > 0  # something to compare


def test_an_unknown_rule_is_refused_with_the_choices():
    X, y = _data()
    with pytest.raises(ValueError, match="redundancy.*agreement"):
        I2MoEClassifier(**TINY, redundancy="median").fit(X, (y > 0).astype(int))


def test_an_agreement_model_round_trips(tmp_path):
    X, y = _data()
    clf = I2MoEClassifier(**TINY, redundancy="agreement").fit(X, (y > 0).astype(int))
    clf.save(tmp_path / "model.i2moe")
    restored = load(tmp_path / "model.i2moe")
    assert restored.redundancy == "agreement"
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def _push(estimator, X):
    """Each expert's mean absolute logit difference between the two classes."""
    out = estimator.explain(X).expert_outputs
    return dict(zip(estimator.expert_names_, np.abs(out[..., 1] - out[..., 0]).mean(0)))


def test_one_modality_alone_leaves_the_agreement_nothing_to_offer():
    # the label is one modality's own factor: that modality's single-modality output is
    # sure, the others know nothing, so what two modalities agree on is close to nothing
    X, y, _ = make_interaction_classification("uniqueness", n_samples=400, random_state=0)
    params = {**TINY, "max_epochs": 20, "early_stopping": False}
    agreement = _push(I2MoEClassifier(**params, redundancy="agreement").fit(X, y), X)
    assert agreement["redundancy"] < 0.1 * agreement["uniqueness[m0]"]
    # the weighted mean can put half its weight on the one modality that knows
    mean = _push(I2MoEClassifier(**params).fit(X, y), X)
    assert mean["redundancy"] > 0.25 * mean["uniqueness[m0]"]
