"""Samples lacking a modality are moved towards the constant output as far as held-out rows ask."""

import numpy as np
import pytest
import torch

from sk_i2moe import I2MoEClassifier, I2MoERegressor, load
from sk_i2moe.nn import StructuredInteractionMoE
from sk_i2moe.nn.calibration import fit_shrinkage, set_absence_shrinkage
from sk_i2moe.nn.ensemble import mixtures_of

from .helpers import five_patterns, rewrite_model_file

SMALL = {"hidden_dim": 8, "n_tokens": 2, "random_state": 0, "n_threads": 1, "max_epochs": 12}


def _labs_only(n: int = 320, seed: int = 0, regression: bool = False):
    """Four lab columns carry the label; two wide modalities carry nothing."""
    rng = np.random.default_rng(seed)
    X = {
        "labs": rng.normal(size=(n, 4)),
        "notes": rng.normal(size=(n, 24)),
        "codes": (rng.random((n, 16)) < 0.2).astype(float),
    }
    z = 2.0 * X["labs"][:, 0] + 1.5 * X["labs"][:, 1]
    if regression:
        return X, z + 0.3 * rng.normal(size=n)
    return X, (z + 0.3 * rng.normal(size=n) > np.quantile(z, 0.75)).astype(int)


def _without(X, name, rows=slice(None)):
    X = {k: v.copy() for k, v in X.items()}
    X[name][rows] = np.nan
    return X


@pytest.fixture(scope="module")
def labs_model():
    X, y = _labs_only()
    return I2MoEClassifier(**SMALL).fit(X, y), X, y


def test_a_model_fitted_on_complete_rows_predicts_the_class_rate_without_the_signal(labs_model):
    clf, X, y = labs_model
    X_new, y_new = _labs_only(n=200, seed=1)
    proba = clf.predict_proba(_without(X_new, "labs"))[:, 1]
    rate = y.mean()
    # held-out rows without labs are no better than the class rate: nearly all the way there
    assert clf.absence_shrinkage_["labs"] > 0.9
    assert np.abs(proba - rate).max() < 0.05
    brier, at_rate = np.mean((proba - y_new) ** 2), np.mean((rate - y_new) ** 2)
    assert brier < 1.02 * at_rate


def test_complete_rows_are_predicted_as_the_mixture_does(labs_model):
    clf, X, _ = labs_model
    X_new = _labs_only(n=60, seed=2)[0]
    X_mixed = _without(X_new, "labs", slice(0, 30))
    shrunk = clf.predict_proba(X_mixed)
    module = clf._module()
    shares = list(clf.absence_shrinkage_.values())
    prior = mixtures_of(module)[0].absence_prior.clone()
    set_absence_shrinkage(module, [0.0] * 3, prior)
    try:
        plain = clf.predict_proba(X_mixed)
    finally:
        set_absence_shrinkage(module, shares, prior)
    np.testing.assert_array_equal(shrunk[30:], plain[30:])
    assert np.abs(shrunk[:30] - plain[:30]).max() > 0.01


def test_explanations_add_up_to_the_moved_predictions(labs_model):
    clf, _, _ = labs_model
    X_new = _without(_labs_only(n=40, seed=3)[0], "labs", slice(0, 20))
    explanation = clf.explain(X_new)
    total = explanation.contributions.sum(axis=1) + explanation.absence_offset
    np.testing.assert_allclose(total, explanation.output, atol=1e-5)
    proba = torch.softmax(torch.as_tensor(explanation.output), dim=1).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X_new), atol=1e-6)


def test_a_regressor_moves_the_rows_without_the_signal_towards_the_mean():
    from sk_i2moe._data import ModalityDataset

    X, y = _labs_only(regression=True)
    reg = I2MoERegressor(**SMALL).fit(X, y)
    X_new, y_new = _labs_only(n=400, seed=1, regression=True)
    complete = reg.predict(X_new)
    assert np.mean((complete - y_new) ** 2) < 0.5 * np.var(y_new)
    # the rule on rows the network did not train on, in its own (standardised) units: without
    # labs its predictions are noise around the mean, which the rows show
    encoded = reg._prepare_target(y_new, fit=False, sample_weight=np.ones(len(y_new)))
    rows = ModalityDataset([v.astype(np.float32) for v in X_new.values()], encoded)
    with_all = torch.from_numpy(reg.net_.forward_outputs(rows, 64)["logits"])
    shares = reg._absence_shares(rows, rows, with_all)
    assert shares[0] > 0.5
    before = reg.predict(_without(X_new, "labs"))
    module = reg._module()
    set_absence_shrinkage(module, shares, mixtures_of(module)[0].absence_prior.clone())
    after = reg.predict(_without(X_new, "labs"))
    assert after.std() < 0.5 * before.std()
    assert np.mean((after - y_new) ** 2) <= np.mean((before - y_new) ** 2)


def test_the_mixture_moves_incomplete_rows_and_leaves_weights_and_experts():
    model, xs, present = five_patterns()
    with torch.no_grad():
        before = model(xs, present)
        prior, shift = torch.tensor([1.0, -1.0]), torch.tensor([[0.5, 0.0], [0.0, 2.0], [9.0, 9.0]])
        model.set_absence_shrinkage([0.5, 0.2, 0.0], prior, shift)
        after = model(xs, present)
    kept = torch.tensor([1.0, 0.5, 0.4, 1.0, 0.8])[:, None]
    # each row's constant: the prior plus the shifts of what it lacks
    target = torch.tensor([[1.0, -1.0], [1.5, -1.0], [1.5, 1.0], [10.0, 8.0], [1.0, 1.0]])
    torch.testing.assert_close(after.logits, kept * before.logits + (1 - kept) * target)
    torch.testing.assert_close(after.expert_logits, before.expert_logits)
    torch.testing.assert_close(after.weights, before.weights)
    with torch.no_grad():  # only prediction moves it (training mixes with predicting=False)
        unmoved = model.mix(model.expert_pass(xs, present)).logits
    torch.testing.assert_close(unmoved, before.logits)


@pytest.mark.parametrize(
    ("shrinkage", "prior", "match"),
    [
        ([0.5, 0.5], [0.0, 0.0], "3 values in \\[0, 1\\]"),
        ([0.5, 1.5, 0.0], [0.0, 0.0], "in \\[0, 1\\]; got \\[0.5, 1.5, 0.0\\]"),
        ([-0.1, 0.0, 0.0], [0.0, 0.0], "in \\[0, 1\\]"),
        ([0.5, 0.0, 0.0], [0.0, float("nan")], "prior must be finite values of shape \\(2,\\)"),
        ([0.5, 0.0, 0.0], [0.0, 0.0, 0.0], "prior must be finite values of shape \\(2,\\)"),
    ],
)
def test_a_shrinkage_outside_its_range_is_refused(shrinkage, prior, match):
    model = StructuredInteractionMoE([3, 2, 4], n_outputs=2, hidden_dim=8)
    with pytest.raises(ValueError, match=match):
        model.set_absence_shrinkage(shrinkage, torch.tensor(prior))
    with pytest.raises(ValueError, match="prior shift must be finite"):  # nothing half-stored
        model.set_absence_shrinkage([0.5] * 3, torch.ones(2), torch.full((3, 2), float("inf")))
    assert not model.absence_shrinkage.any() and not model.absence_prior.any()


def test_fit_shrinkage_finds_the_least_squared_error_share():
    rng = np.random.default_rng(0)
    y = torch.as_tensor(rng.normal(size=(300, 1)))
    outputs = 0.3 * y + torch.as_tensor(rng.normal(size=(300, 1)))
    prior = torch.zeros(1)
    share = fit_shrinkage(outputs, prior, lambda z: torch.mean((z - y) ** 2))
    grid = np.linspace(0, 1, 2001)
    losses = [float(torch.mean(((1 - s) * outputs + s * prior - y) ** 2)) for s in grid]
    assert abs(share - grid[int(np.argmin(losses))]) < 1e-3
    assert 0.1 < share < 0.9
    assert fit_shrinkage(y, prior, lambda z: torch.mean((z - y) ** 2)) == 0.0


def test_the_shares_survive_a_model_file_and_a_bad_one_is_refused(labs_model, tmp_path):
    clf, _, _ = labs_model
    X_new = _without(_labs_only(n=30, seed=4)[0], "labs", slice(0, 15))
    path = tmp_path / "model.i2moe"
    clf.save(path)
    restored = load(path)
    assert restored.absence_shrinkage_ == clf.absence_shrinkage_
    np.testing.assert_array_equal(restored.predict_proba(X_new), clf.predict_proba(X_new))

    def tampered(document, tensors):
        for key in [k for k in tensors if k.endswith("absence_shrinkage")]:
            tensors[key] = torch.full_like(tensors[key], 1.5)

    rewrite_model_file(path, tampered)
    with pytest.raises(ValueError, match="absence_shrinkage' is not in \\[0, 1\\]"):
        load(path)


def test_a_file_from_before_the_shrinkage_predicts_as_the_mixture(labs_model, tmp_path):
    clf, _, _ = labs_model
    X_new = _without(_labs_only(n=30, seed=5)[0], "labs")
    path = tmp_path / "model.i2moe"
    clf.save(path)

    def older(document, tensors):
        for key in [k for k in tensors if k.endswith(("absence_shrinkage", "absence_prior"))]:
            del tensors[key]

    rewrite_model_file(path, older)
    restored = load(path)
    assert set(restored.absence_shrinkage_.values()) == {0.0}
    module = clf._module()
    shares, prior = list(clf.absence_shrinkage_.values()), mixtures_of(module)[0].absence_prior
    set_absence_shrinkage(module, [0.0] * 3, prior.clone())
    try:
        np.testing.assert_array_equal(restored.predict_proba(X_new), clf.predict_proba(X_new))
    finally:
        set_absence_shrinkage(module, shares, prior.clone())


def test_no_held_out_rows_or_a_continued_fit_leave_no_shrinkage():
    X, y = _labs_only()
    plain = I2MoEClassifier(**{**SMALL, "max_epochs": 3}, early_stopping=False).fit(X, y)
    assert set(plain.absence_shrinkage_.values()) == {0.0}
    clf = I2MoEClassifier(**SMALL).fit(X, y)
    assert clf.absence_shrinkage_["labs"] > 0.5
    clf.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert set(clf.absence_shrinkage_.values()) == {0.0}


def test_the_papers_mixture_has_none():
    X, y = _labs_only(n=200)
    clf = I2MoEClassifier(**{**SMALL, "max_epochs": 3}, interaction_constraint="loss").fit(X, y)
    assert clf.absence_shrinkage_ is None


def test_a_label_that_only_the_absence_carries_is_predicted_from_it():
    # a lab panel is drawn for 4 in 5 of the patients who turn out positive, 1 in 5 of the others;
    # every measured value is noise
    rng = np.random.default_rng(0)
    n = 600
    X, _ = _labs_only(n=n)
    y = rng.integers(0, 2, n)
    drawn = rng.random(n) < np.where(y == 1, 0.8, 0.2)
    X = _without(X, "labs", ~drawn)
    train = np.arange(400)
    clf = I2MoEClassifier(**SMALL).fit({k: v[train] for k, v in X.items()}, y[train])
    proba = clf.predict_proba({k: v[400:] for k, v in X.items()})[:, 1]
    rate_without = y[train][~drawn[train]].mean()  # about 0.2
    assert abs(proba[~drawn[400:]].mean() - rate_without) < 0.08
    brier = np.mean((proba - y[400:]) ** 2)
    assert brier < 0.2  # the absence alone gives 0.16; the class rate 0.25
    # absence_offset=False: the missingness must not count, so a move for lack of labs goes
    # towards the rate of every training row, not of those without labs
    blind = I2MoEClassifier(**SMALL, absence_offset=False)
    blind.fit({k: v[train] for k, v in X.items()}, y[train])
    assert all(not m.absence_prior_shift.any() for m in mixtures_of(blind._module()))
    proba = blind.predict_proba({k: v[400:] for k, v in X.items()})[:, 1]
    assert proba[~drawn[400:]].mean() > y[train].mean() - 0.1  # about 0.5, not 0.2


def test_absence_constants_are_the_patterns_rates():
    from sk_i2moe._data import ModalityDataset
    from sk_i2moe._fit_rules import absence_constants
    from sk_i2moe.nn import StructuredObjective

    rng = np.random.default_rng(0)
    n = 4000
    X = {"a": rng.normal(size=(n, 2)), "b": rng.normal(size=(n, 2))}
    lacks_a = rng.random(n) < 0.5
    y = (rng.random(n) < np.where(lacks_a, 0.2, 0.6)).astype(np.int64)
    X["a"][lacks_a] = np.nan
    data = ModalityDataset([v.astype(np.float32) for v in X.values()], y)
    objective = StructuredObjective(torch.nn.CrossEntropyLoss(reduction="none"))
    constant, shift = absence_constants(objective, data, 2, by_pattern=True)
    complete = torch.softmax(constant, 0)[1]
    lacking = torch.softmax(constant + shift[0], 0)[1]
    assert abs(float(complete) - y[~lacks_a].mean()) < 0.01
    assert abs(float(lacking) - y[lacks_a].mean()) < 0.01
    torch.testing.assert_close(shift[1], torch.zeros(2, dtype=torch.float64))  # nobody lacks b
    # absence_offset=False: what a row lacks says nothing; every pattern gets the overall rate
    constant, shift = absence_constants(objective, data, 2, by_pattern=False)
    assert abs(float(torch.softmax(constant, 0)[1]) - y.mean()) < 1e-6
    assert not shift.any()


def test_the_share_is_what_the_first_fit_loses_of_its_own_trust(labs_model):
    from sk_i2moe._data import ModalityDataset

    clf, X, y = labs_model
    X_new, y_new = _labs_only(n=200, seed=6)  # rows the network did not train on
    rows = ModalityDataset([v.astype(np.float32) for v in X_new.values()], y_new)
    with_all = torch.from_numpy(clf.net_.forward_outputs(rows, 64)["logits"])
    # outputs that earn trust with every modality and lose it without labs: labs' share is high
    shares = clf._absence_shares(rows, rows, with_all)
    assert shares[0] > 0.9
    assert max(shares[1:]) < 0.5
    # outputs that earn none with every modality have none to lose: no share, whatever the
    # outputs without a modality are (a weak first fit says nothing about the final model)
    assert clf._absence_shares(rows, rows, -5 * with_all) == [0.0, 0.0, 0.0]


def test_the_report_says_what_the_move_goes_towards(labs_model):
    from sk_i2moe.inspection import interaction_report

    clf, X, y = labs_model
    blind = I2MoEClassifier(**SMALL, absence_offset=False).fit(X, y)
    X_new, y_new = _labs_only(n=300, seed=7)
    X_new = _without(X_new, "labs", slice(0, 150))
    counted = interaction_report(clf, X_new, y_new, n_bootstrap=50)
    assert counted.absence["missingness_counted"] is True
    assert "with the absence itself counted" in counted.summary()
    # absence_offset=False: the move goes towards the rate of every training row, and a gain
    # from it is not read as the missingness being counted
    report = interaction_report(blind, X_new, y_new, n_bootstrap=50)
    assert report.absence is not None and report.absence["missingness_counted"] is False
    text = report.summary()
    assert "the move towards the constant of all the training rows counted" in text
    assert "the absence itself counted" not in text and "rest in part on the fact" not in text
