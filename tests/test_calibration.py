"""The output temperature of a classifier: from held-out rows, or cross-fitted on small data."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier, I2MoERegressor, load
from sk_i2moe._net import HeldOutLogits
from sk_i2moe.datasets import make_interaction_classification
from sk_i2moe.nn import StructuredInteractionMoE, fit_temperature, set_temperature
from sk_i2moe.nn.calibration import MAX_TEMPERATURE

SMALL = {"max_epochs": 15, "hidden_dim": 16, "n_members": 2, "random_state": 0, "n_threads": 1}


def _wide_noise(n=40, seed=0):
    """Few rows, many features, labels unrelated to them: a fit memorises."""
    rng = np.random.default_rng(seed)
    X = {"a": rng.normal(size=(n, 60)), "b": rng.normal(size=(n, 40))}
    return X, rng.integers(0, 2, n)


def _cross_entropy(y):
    return lambda z: torch.nn.functional.cross_entropy(z, y)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10_000),
    st.floats(0.1, 20.0),
    st.integers(2, 4),
)
def test_fit_temperature_finds_the_grid_minimum_and_never_sharpens(seed, scale, n_classes):
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(60, n_classes, generator=generator, dtype=torch.float64)
    y = torch.randint(0, n_classes, (60,), generator=generator)
    loss = _cross_entropy(y)
    found = fit_temperature(logits, loss)
    assert 1.0 <= found <= MAX_TEMPERATURE
    grid = np.exp(np.linspace(0.0, np.log(MAX_TEMPERATURE), 400))
    best = min(float(loss(logits / t)) for t in grid)
    assert float(loss(logits / found)) <= best + 1e-6


def test_fit_temperature_keeps_confident_right_predictions_and_flattens_wrong_ones():
    y = torch.tensor([0, 1, 0, 1])
    right = torch.tensor([[5.0, -5.0], [-5.0, 5.0], [6.0, -6.0], [-4.0, 4.0]])
    assert fit_temperature(right, _cross_entropy(y)) == 1.0
    half_wrong = torch.tensor([[9.0, -9.0], [-9.0, 9.0], [-9.0, 9.0], [9.0, -9.0]])
    assert fit_temperature(half_wrong, _cross_entropy(y)) == pytest.approx(MAX_TEMPERATURE)
    some_wrong = torch.tensor([[9.0, -9.0], [-9.0, 9.0], [9.0, -9.0], [9.0, -9.0]])
    assert 1.0 < fit_temperature(some_wrong, _cross_entropy(y)) < MAX_TEMPERATURE


def test_the_fallback_fit_is_the_plain_fit_divided_by_the_temperature():
    X, y = _wide_noise()
    auto = I2MoEClassifier(**SMALL).fit(X, y)
    plain = I2MoEClassifier(**SMALL, early_stopping=False).fit(X, y)
    assert plain.output_temperature_ == 1.0
    assert auto.output_temperature_ > 1.5  # memorised noise: cross-fitted predictions are wrong
    np.testing.assert_array_equal(auto.predict(X), plain.predict(X))
    np.testing.assert_array_equal(auto.interaction_weights_, plain.interaction_weights_)
    logits = plain.explain(X).output / auto.output_temperature_
    expected = torch.softmax(torch.from_numpy(logits).double(), dim=1).numpy()
    np.testing.assert_allclose(auto.predict_proba(X), expected, atol=1e-5)
    # less confident than the plain fit on every row
    assert (auto.predict_proba(X).max(1) <= plain.predict_proba(X).max(1) + 1e-6).all()


def test_the_explanation_stays_the_sum_of_its_parts_with_absent_modalities():
    X, y = _wide_noise(n=48, seed=1)
    X["a"][:6] = np.nan
    clf = I2MoEClassifier(**SMALL).fit(X, y)
    assert clf.output_temperature_ > 1.0
    explanation = clf.explain(X)
    total = explanation.contributions.sum(axis=1) + explanation.absence_offset
    np.testing.assert_allclose(total, explanation.output, atol=1e-5)
    z = torch.from_numpy(explanation.output).double()
    np.testing.assert_allclose(clf.predict_proba(X), torch.softmax(z, 1).numpy(), atol=1e-5)


def test_the_temperature_round_trips_through_a_model_file(tmp_path):
    pytest.importorskip("safetensors")
    X, y = _wide_noise()
    clf = I2MoEClassifier(**SMALL).fit(X, y)
    clf.save(tmp_path / "model.i2moe")
    restored = load(tmp_path / "model.i2moe")
    assert restored.output_temperature_ == clf.output_temperature_
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_the_served_graph_applies_the_temperature(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = _wide_noise()
    clf = I2MoEClassifier(**{**SMALL, "n_members": 1}).fit(X, y)
    assert clf.output_temperature_ > 1.0
    path = tmp_path / "model.onnx"
    clf.to_onnx(path)
    session = ort.InferenceSession(str(path))
    feed = {name: X[name].astype(np.float32) for name in X}
    probabilities = session.run(None, feed)[0]
    np.testing.assert_allclose(probabilities, clf.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize(
    "estimator",
    [
        I2MoEClassifier(**SMALL, early_stopping=False),
        I2MoEClassifier(**SMALL, interaction_constraint="loss"),
        I2MoERegressor(**SMALL),
    ],
    ids=["no early stopping", "paper's mixture", "regressor"],
)
def test_only_the_fallback_of_a_structured_classifier_is_calibrated(estimator):
    X, y = _wide_noise()
    target = y.astype(float) if isinstance(estimator, I2MoERegressor) else y
    assert estimator.fit(X, target).output_temperature_ == 1.0


def _validation_rows(n, y, random_state, fraction=0.2):
    """The rows a fit's early stopping holds out (the estimator's own split rule)."""
    seed = np.random.RandomState(random_state).randint(np.iinfo(np.int32).max)
    return train_test_split(np.arange(n), test_size=fraction, random_state=seed, stratify=y)[1]


def test_held_out_logits_are_the_validation_rows_outputs_of_every_epoch():
    X, y = _wide_noise(n=120)
    clf = I2MoEClassifier(
        **{**SMALL, "n_members": 1},
        early_stopping=True,
        weight_shrinkage=0.0,
        callbacks=[("held", HeldOutLogits())],
    ).fit(X, y)
    recorded = dict(clf.net_.callbacks_)["held"].logits_
    valid = _validation_rows(len(y), y, SMALL["random_state"])
    assert sorted(recorded) == list(range(1, len(clf.history_) + 1))
    assert all(logits.shape == (len(valid), 2) for logits in recorded.values())
    best = dict(clf.net_.callbacks_)["early_stopping"].best_epoch_
    kept = clf.explain({k: v[valid] for k, v in X.items()}).output  # the best epoch's network
    np.testing.assert_allclose(recorded[best].numpy(), kept, atol=1e-5)
    assert not np.allclose(recorded[1].numpy(), recorded[max(recorded)].numpy())  # one per epoch


@pytest.mark.parametrize("floor", [1, 4, 40])
def test_held_out_logits_keep_only_the_epochs_that_may_be_read(floor):
    # every epoch's outputs were kept though one is read: 4 MB an epoch at 10,000 held-out
    # rows and 100 classes
    X, y = _wide_noise(n=120)
    chosen = lambda best: max(best, floor)  # noqa: E731
    clf = I2MoEClassifier(
        **{**SMALL, "n_members": 1, "max_epochs": 60},
        early_stopping=True,
        callbacks=[("every", HeldOutLogits()), ("few", HeldOutLogits(chosen=chosen))],
    ).fit(X, y)
    every = dict(clf.net_.callbacks_)["every"].logits_
    few = dict(clf.net_.callbacks_)["few"].logits_
    last = len(clf.history_)
    assert last < 60  # stopped by early stopping's patience, inside its last epoch
    best = dict(clf.net_.callbacks_)["early_stopping"].best_epoch_
    read = min(chosen(best), last)
    # the best epoch's are read too: whether the floor costs the skill
    assert set(few) <= {best, read, last} and {best, read} <= set(few)
    for epoch, logits in few.items():
        assert torch.equal(logits, every[epoch])


@pytest.mark.parametrize("max_epochs", [5, 60])
def test_the_refit_is_calibrated_on_the_held_out_outputs_after_its_own_epoch_count(
    max_epochs, monkeypatch
):  # 5: the floor is max_epochs; 60: early stopping's patience ends the search
    # the search's held-out outputs after as many epochs as the refit trains (at least the
    # floor), or its last where it stopped before: read from a record that keeps few epochs
    from sk_i2moe._fit_rules import REFIT_MIN_EPOCHS

    X, y = _wide_noise(n=120)
    seen = {}
    original = I2MoEClassifier._held_out_temperature

    def spy(self, valid, logits):
        net = dict(self.net_.callbacks_)
        seen["logits"], seen["history"] = logits, len(self.net_.history)
        seen["best"] = net["early_stopping"].best_epoch_
        seen["every"] = net["every"].logits_
        return original(self, valid, logits)

    monkeypatch.setattr(I2MoEClassifier, "_held_out_temperature", spy)
    clf = I2MoEClassifier(
        **{**SMALL, "max_epochs": max_epochs}, callbacks=[("every", HeldOutLogits())]
    ).fit(X, y)
    assert clf.validation_loss_ is not None  # the refit path
    floor = min(REFIT_MIN_EPOCHS, max_epochs)
    epoch = min(max(seen["best"], floor), seen["history"])
    if max_epochs == 60:  # noise: the best epoch comes before the floor, the last after it
        assert seen["best"] < floor < seen["history"] < max_epochs
    assert torch.equal(seen["logits"], seen["every"][epoch])


def test_a_refit_is_calibrated_on_the_held_out_rows_at_the_final_epoch_count():
    X, y = _wide_noise(n=120)  # noise: the first fit's held-out predictions are worthless
    clf = I2MoEClassifier(**SMALL).fit(X, y)
    assert clf.validation_loss_ is not None  # the refit path, not the small-data fallback
    assert clf.output_temperature_ > 10.0
    X_new, y_new = _wide_noise(n=400, seed=5)
    calibrated = clf.predict_proba(X_new)
    predicted = clf.predict(X_new)
    set_temperature(clf._module(), 1.0)  # the same network as trained
    np.testing.assert_array_equal(clf.predict(X_new), predicted)
    assert log_loss(y_new, calibrated) < log_loss(y_new, clf.predict_proba(X_new))
    assert log_loss(y_new, calibrated) < 0.70  # near the class rate's ln 2


def test_a_refit_on_learnable_data_keeps_its_confidence():
    X, y, _ = make_interaction_classification("uniqueness", n_samples=400, random_state=0)
    clf = I2MoEClassifier(**SMALL).fit(X, y)
    assert clf.validation_loss_ is not None
    assert clf.output_temperature_ < 1.5
    assert I2MoEClassifier(**SMALL, early_stopping="refit").fit(X, y).output_temperature_ == (
        clf.output_temperature_
    )


def test_a_lone_class_sample_has_no_temperature():
    X, y = _wide_noise()
    y[:] = 0
    y[0] = 1  # one sample of class 1: no fold can predict it
    assert I2MoEClassifier(**SMALL).fit(X, y).output_temperature_ == 1.0


def test_a_warm_start_continuation_predicts_without_the_temperature():
    X, y = _wide_noise()
    clf = I2MoEClassifier(**SMALL, warm_start=True).fit(X, y)
    assert clf.output_temperature_ > 1.0
    clf.set_params(max_epochs=1).fit(X, y)
    assert clf.output_temperature_ == 1.0


def test_the_cross_fitting_leaves_the_callers_data_and_parameters_alone():
    X, y = _wide_noise()
    copies = {k: v.copy() for k, v in X.items()}, y.copy()
    weights = np.linspace(0.5, 1.5, len(y))
    clf = I2MoEClassifier(**SMALL)
    params = clf.get_params()
    clf.fit(X, y, sample_weight=weights)
    assert clf.get_params() == params
    for name in X:
        np.testing.assert_array_equal(X[name], copies[0][name])
    np.testing.assert_array_equal(y, copies[1])
    np.testing.assert_array_equal(weights, np.linspace(0.5, 1.5, len(y)))


def test_set_output_temperature_rejects_what_is_not_a_positive_number():
    model = StructuredInteractionMoE([3, 2], n_outputs=2, hidden_dim=8)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive and finite"):
            model.set_output_temperature(bad)
    set_temperature(model, 2.0)
    assert float(model.output_temperature) == 2.0


def test_a_multilabel_fallback_is_calibrated_per_label_with_plain_folds():
    X, _ = _wide_noise(n=40, seed=2)
    Y = np.random.default_rng(2).integers(0, 2, (40, 3))  # three noise labels
    auto = I2MoEClassifier(**SMALL).fit(X, Y)
    plain = I2MoEClassifier(**SMALL, early_stopping=False).fit(X, Y)
    assert auto.output_temperature_ > 1.0
    logits = plain.explain(X).output / auto.output_temperature_
    np.testing.assert_allclose(auto.predict_proba(X), 1 / (1 + np.exp(-logits)), atol=1e-5)
    np.testing.assert_array_equal(auto.predict(X), plain.predict(X))


@pytest.mark.parametrize("bad", [0.5, 0.0, float("inf"), float("nan"), "10"])
def test_fit_temperature_names_a_max_temperature_below_one(bad):
    logits = torch.tensor([[2.0, -2.0], [-2.0, 2.0]])
    loss = lambda z: torch.nn.functional.cross_entropy(z, torch.tensor([0, 1]))  # noqa: E731
    with pytest.raises(ValueError, match="max_temperature must be a finite number of at least 1"):
        fit_temperature(logits, loss, max_temperature=bad)


def test_a_multilabel_refit_is_calibrated_on_its_held_out_rows():
    X, _ = _wide_noise(n=150, seed=3)
    Y = np.random.default_rng(3).integers(0, 2, (150, 3))  # three noise labels
    clf = I2MoEClassifier(**SMALL, lr=0.03).fit(X, Y)  # memorises within the ten epochs
    assert clf.validation_loss_ is not None and clf.output_temperature_ > 2.0
    logits = clf.explain(X).output  # already divided by the temperature
    np.testing.assert_allclose(clf.predict_proba(X), 1 / (1 + np.exp(-logits)), atol=1e-5)


def test_the_temperature_is_chosen_with_the_loss_in_float32_as_the_fits_train():
    # the objective's loss took float64 logits as they came once nn models could run in
    # float64, which moved a fitted transformer's probabilities by 7e-5 (compare_checkouts)
    from sk_i2moe.classifier import _temperature
    from sk_i2moe.nn import StructuredObjective

    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(200, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (200,), generator=g)
    weights = torch.ones(200)
    seen = []

    class Spy(StructuredObjective):
        def weighted_task_loss(self, logits, y, weights):
            seen.append(logits.dtype)
            return super().weighted_task_loss(logits, y, weights)

    spy = Spy(torch.nn.CrossEntropyLoss(reduction="none"))
    assert _temperature(spy, logits, y, weights) > 1  # over-confident logits are softened
    assert set(seen) == {torch.float32}
