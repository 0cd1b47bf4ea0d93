"""_net.py: the objective as criterion, recorded loss parts, prediction through the net."""

import pickle
import threading

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, EarlyStopping, EpochScoring

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe._data import ModalityDataset
from sk_i2moe._net import I2MoENetClassifier

SMALL = {"max_epochs": 3, "hidden_dim": 8, "n_tokens": 2, "batch_size": 32, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 160
    X = {"a": rng.normal(size=(n, 4)), "b": rng.normal(size=(n, 3))}
    y = (X["a"][:, 0] + X["b"][:, 1] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return I2MoEClassifier(**SMALL, dropout=0.3).fit(X, y)


def test_concurrent_predictions_equal_the_serial_result(fitted, data):
    X, _ = data
    big = {k: np.tile(v, (3, 1)) for k, v in X.items()}  # 480 rows: 15 batches of 32
    expected = fitted.predict_proba(big)
    results, errors = [], []
    barrier = threading.Barrier(4)

    def work():
        try:
            barrier.wait()
            for _ in range(5):
                results.append(fitted.predict_proba(big))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 20
    for result in results:
        np.testing.assert_array_equal(result, expected)
    assert not fitted.net_.module_.training  # prediction never switches back to training


def test_an_early_stopped_model_pickles_and_predicts_the_same(data, tmp_path):
    X, y = data
    clf = I2MoEClassifier(**{**SMALL, "max_epochs": 6}, early_stopping=True).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    joblib.dump(clf, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict(X), clf.predict(X))


def test_fit_does_not_change_the_callbacks_parameter(data):
    X, y = data
    callbacks = [
        EarlyStopping(monitor="valid_loss", patience=1, load_best=True),
        ("auc", EpochScoring("roc_auc", lower_is_better=False)),
    ]
    before = joblib.hash(callbacks)
    clf = I2MoEClassifier(**SMALL, early_stopping=True, callbacks=callbacks).fit(X, y)
    assert joblib.hash(callbacks) == before
    assert clf.get_params()["callbacks"] is callbacks
    assert not hasattr(callbacks[0], "best_model_params_")  # the net set up its own copy


@pytest.mark.parametrize("scoring", ["roc_auc", "accuracy", "neg_log_loss"])
def test_epoch_scoring_with_any_scorer_is_recorded(data, scoring):
    X, y = data
    clf = I2MoEClassifier(
        **SMALL, early_stopping=True, callbacks=[EpochScoring(scoring, lower_is_better=False)]
    ).fit(X, y)
    scores = clf.history_[:, scoring]
    assert len(scores) == clf.n_iter_ and all(np.isfinite(scores))
    if scoring != "neg_log_loss":
        assert all(0 <= s <= 1 for s in scores)


def test_epoch_scoring_on_a_regressor(data):
    X, y = data
    target = X["a"][:, 0] - X["b"][:, 1]
    reg = I2MoERegressor(
        **SMALL, early_stopping=True, callbacks=[EpochScoring("r2", lower_is_better=False)]
    ).fit(X, target)
    assert len(reg.history_[:, "r2"]) == reg.n_iter_


def test_loss_parts_are_recorded_per_batch_and_as_batch_size_weighted_epoch_means(data):
    X, y = data
    clf = I2MoEClassifier(  # the paper's mixture; batches of 50, 50, 50, 10
        **{**SMALL, "batch_size": 50, "interaction_constraint": "loss"}
    ).fit(X, y)
    for epoch in clf.history_:
        batches = [b for b in epoch["batches"] if "train_batch_size" in b]
        sizes = [b["train_batch_size"] for b in batches]
        assert sizes == [50, 50, 50, 10]
        for name in ("task_loss", "expert_loss", "interaction_loss"):
            expected = np.average([b[name] for b in batches], weights=sizes)
            assert epoch[name] == pytest.approx(expected)
        # the training loss is their weighted sum
        total = [
            b["task_loss"] + 1.0 * b["expert_loss"] + 0.5 * b["interaction_loss"] for b in batches
        ]
        assert epoch["train_loss"] == pytest.approx(np.average(total, weights=sizes), rel=1e-5)


def test_structured_parts_are_recorded(data):
    X, y = data
    clf = I2MoEClassifier(**SMALL, interaction_constraint="structure").fit(X, y)
    row = clf.history_[-1]
    for name in ("task_loss", "expert_loss", "missing_modality_loss", "modality_loss"):
        assert np.isfinite(row[name])
    assert "interaction_loss" not in row


def test_forward_outputs_do_not_depend_on_the_batch_size(fitted, data):
    X, _ = data
    arrays = [np.asarray(v, dtype=np.float32) for v in X.values()]
    one = fitted.net_.forward_outputs(ModalityDataset(arrays), batch_size=1000)
    small = fitted.net_.forward_outputs(ModalityDataset(arrays), batch_size=7)
    # the default ensemble (eight members on these 160 rows) adds every member's weights and
    # expert outputs
    assert set(one) == {
        "logits",
        "weights",
        "expert_logits",
        "member_weights",
        "member_expert_logits",
    }
    assert one["expert_logits"].shape == (160, 4, 2) and one["logits"].dtype == np.float32
    assert fitted.n_members_ == 8
    assert one["member_expert_logits"].shape == (160, 8, 4, 2)
    for name in one:
        np.testing.assert_allclose(one[name], small[name], rtol=1e-5, atol=1e-6)


def test_the_classifier_net_is_a_scikit_learn_classifier(fitted, data):
    X, y = data
    net = fitted.net_
    assert isinstance(net, I2MoENetClassifier)
    dataset = ModalityDataset([np.asarray(v, dtype=np.float32) for v in X.values()])
    proba = net.predict_proba(dataset)
    np.testing.assert_allclose(proba, fitted.predict_proba(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(net.predict(dataset), fitted.predict(X))
    np.testing.assert_array_equal(net.classes_, [0, 1])


def test_a_diverging_loss_is_reported(data):
    X, y = data
    bad = {"a": X["a"] * 1e30, "b": X["b"]}
    clf = I2MoEClassifier(**SMALL, standardize=False, lr=1e6)
    with pytest.raises(ValueError, match="Training diverged"):
        clf.fit(bad, y)


def test_bfloat16_autocast_runs_forward_passes_in_bfloat16(data):
    X, y = data
    clf = I2MoEClassifier(**{**SMALL, "max_epochs": 1}, precision="bfloat16", n_members=1)
    clf.fit(X, y)
    seen = []
    module = clf.net_.module_
    fusion_forward = module.fusion.forward

    def recording(tokens, *args, **kwargs):
        out = fusion_forward(tokens, *args, **kwargs)
        seen.append(out.logits.dtype)
        return out

    module.fusion.forward = recording
    clf.predict_proba(X)
    del module.fusion.forward
    assert seen and all(dtype == torch.bfloat16 for dtype in seen)


def test_a_stateful_user_callback_is_copied_not_changed(data):
    X, y = data

    class CountEpochs(Callback):
        def __init__(self):
            self.epochs = 0  # state kept outside the constructor's parameters

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    counter = CountEpochs()
    clf = I2MoEClassifier(**SMALL, callbacks=[("count", counter)]).fit(X, y)
    assert counter.epochs == 0
    assert dict(clf.net_.callbacks_)["count"].epochs == SMALL["max_epochs"]


def test_expert_scores_take_one_forward_pass(fitted, data):
    X, y = data
    calls = []
    forward_outputs = fitted.net_.forward_outputs

    def counting(*args, **kwargs):
        calls.append(1)
        return forward_outputs(*args, **kwargs)

    fitted.net_.forward_outputs = counting
    try:
        scores = fitted.expert_scores(X, y)
    finally:
        del fitted.net_.forward_outputs
    assert len(calls) == 1
    assert scores.loc["mixture", "score"] == pytest.approx(fitted.score(X, y))
