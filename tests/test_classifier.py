import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from skorch.helper import SliceDict

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import load_breast_cancer_views

SMALL = {"max_epochs": 3, "hidden_dim": 8, "n_tokens": 2, "batch_size": 32}


def _split(X, idx):
    return {k: v[idx] for k, v in X.items()}


def test_learns_breast_cancer_with_defaults():
    X, y = load_breast_cancer_views()
    train, test = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)
    clf = I2MoEClassifier(random_state=0).fit(_split(X, train), y[train])
    acc = clf.score(_split(X, test), y[test])
    auc = roc_auc_score(y[test], clf.predict_proba(_split(X, test))[:, 1])
    assert acc >= 0.90
    assert auc >= 0.95


def test_fitted_attributes(three_views):
    X, y = three_views
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    assert clf.modalities_ == {"labs": 5, "notes": 4, "codes": 3}
    assert clf.n_features_in_ == 12
    assert clf.expert_names_ == [
        "uniqueness[labs]",
        "uniqueness[notes]",
        "uniqueness[codes]",
        "synergy",
        "redundancy",
    ]
    assert clf.interaction_weights_.shape == (5,)
    assert clf.interaction_weights_.sum() == pytest.approx(1.0, abs=1e-5)
    assert (clf.interaction_weights_ >= 0).all()
    assert clf.n_iter_ == 3 and len(clf.history_) == 3
    parts = ("task_loss", "expert_loss", "missing_modality_loss", "modality_loss")
    for key in ("train_loss", *parts):
        assert np.isfinite(clf.history_[-1, key])
    # the default (structured) objective: the task, expert and missing-modality losses
    # plus the weighted single-modality loss of the redundancy expert
    last = clf.history_[-1]
    assert last["train_loss"] == pytest.approx(
        last["task_loss"]
        + clf.expert_loss_weight * last["expert_loss"]
        + clf.missing_modality_loss_weight * last["missing_modality_loss"]
        + clf.interaction_loss_weight * last["modality_loss"],
        rel=1e-4,
    )
    assert "interaction_loss" not in last
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert not hasattr(clf, "feature_names_in_")


def test_missing_modality_loss_weight_reaches_the_objective(three_views):
    X, y = three_views
    heavy = I2MoEClassifier(**SMALL, missing_modality_loss_weight=2.5, random_state=0).fit(X, y)
    last = heavy.history_[-1]
    assert last["train_loss"] == pytest.approx(
        last["task_loss"]
        + heavy.expert_loss_weight * last["expert_loss"]
        + 2.5 * last["missing_modality_loss"]
        + heavy.interaction_loss_weight * last["modality_loss"],
        rel=1e-4,
    )
    off = I2MoEClassifier(**SMALL, missing_modality_loss_weight=0, random_state=0).fit(X, y)
    assert "missing_modality_loss" not in off.history_[-1]
    # the term trains the weights: without it they come out different
    assert not np.allclose(off.interaction_weights_, heavy.interaction_weights_, atol=1e-3)


def test_explain(three_views):
    X, y = three_views
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    exp = clf.explain(X)
    assert exp.weights.shape == (120, 5)
    assert exp.expert_outputs.shape == (120, 5, 2)
    np.testing.assert_allclose(exp.contributions.sum(1), exp.output, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(exp.weights.mean(0), clf.interaction_weights_, rtol=1e-5)
    frame = exp.to_frame()
    assert len(frame) == 120 * 5
    assert list(frame.columns[:3]) == ["sample", "expert", "weight"]
    assert set(frame["expert"]) == set(clf.expert_names_)
    np.testing.assert_allclose(frame.groupby("sample")["weight"].sum(), 1.0, rtol=1e-5)


def test_same_random_state_gives_identical_probabilities(three_views):
    X, y = three_views
    p1 = I2MoEClassifier(**SMALL, dropout=0.2, random_state=7).fit(X, y).predict_proba(X)
    p2 = I2MoEClassifier(**SMALL, dropout=0.2, random_state=7).fit(X, y).predict_proba(X)
    p3 = I2MoEClassifier(**SMALL, dropout=0.2, random_state=8).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)


def test_fit_leaves_the_global_torch_rng_alone(three_views):
    X, y = three_views
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_round_trip(three_views, tmp_path, dump):
    X, y = three_views
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    if dump == "pickle":
        loaded = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "clf.joblib")
        loaded = joblib.load(tmp_path / "clf.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.interaction_weights_, clf.interaction_weights_)


def test_string_labels(three_views):
    X, y = three_views
    labels = np.array(["benign", "malignant"])[y]
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, labels)
    assert clf.classes_.tolist() == ["benign", "malignant"]
    # the same model as on the integer labels, its predictions named by them
    numbers = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), numbers.predict_proba(X))
    names = np.array(["benign", "malignant"])
    np.testing.assert_array_equal(clf.predict(X), names[numbers.predict(X)])
    assert clf.explain(X).output_names == ["benign", "malignant"]


def test_multiclass_string_labels_pandas_inputs():
    rng = np.random.default_rng(0)
    X = {
        "a": pd.DataFrame(rng.normal(size=(60, 3)), columns=["x", "y", "z"]),
        "b": rng.normal(size=(60, 2)),
    }
    y = np.array(["low", "mid", "high"])[rng.integers(0, 3, 60)]
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    assert clf.predict_proba(X).shape == (60, 3)
    assert clf.classes_.tolist() == ["high", "low", "mid"]


@pytest.mark.parametrize("n_modalities", [1, 5])
def test_number_of_modalities(n_modalities):
    rng = np.random.default_rng(n_modalities)
    X = {f"m{i}": rng.normal(size=(50, 2 + i)) for i in range(n_modalities)}
    y = (X["m0"][:, 0] > 0).astype(int)
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    assert len(clf.expert_names_) == n_modalities + 2
    assert np.isfinite(clf.history_[:, "modality_loss"]).all()
    assert clf.explain(X).weights.sum(1) == pytest.approx(1.0, abs=1e-5)
    assert clf.predict_proba(X).shape == (50, 2)


def test_slicedict_input(three_views):
    X, y = three_views
    a = I2MoEClassifier(**SMALL, random_state=0).fit(X, y).predict_proba(X)
    b = (
        I2MoEClassifier(**SMALL, random_state=0)
        .fit(SliceDict(**X), y)
        .predict_proba(SliceDict(**X))
    )
    np.testing.assert_array_equal(a, b)


def test_device_auto_is_cpu_without_cuda(three_views, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = three_views
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    assert clf.net_.device == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        I2MoEClassifier(**SMALL, device="cuda").fit(X, y)


def test_cuda_model_loads_on_cpu_only_machine(three_views, monkeypatch):
    """A net saved with device='cuda' is mapped to the CPU where CUDA is absent."""
    X, y = three_views
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    clf.net_.device = "cuda"  # what a CUDA fit leaves behind
    payload = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pickle.loads(payload)
    assert torch.device(loaded.net_.device).type == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.net_.module_.parameters())
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_real_cuda_fit_then_cpu_load(three_views, monkeypatch):
    X, y = three_views
    clf = I2MoEClassifier(**SMALL, device="cuda", random_state=0).fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    expected = clf.predict_proba(X)
    payload = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pickle.loads(payload)
    assert torch.device(loaded.net_.device).type == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=1e-4, atol=1e-5)


def test_predict_log_proba_is_the_log_of_predict_proba_and_stays_finite(three_views):
    X, y = three_views
    clf = I2MoEClassifier(**SMALL, random_state=0).fit(X, y)
    log_proba = clf.predict_log_proba(X)
    np.testing.assert_allclose(np.exp(log_proba), clf.predict_proba(X), rtol=1e-12, atol=1e-15)
    # logits far apart: a probability rounds to 0 (its log would be -inf), the log-probability
    # stays finite
    far = {k: 1e6 * v for k, v in X.items()}
    assert (clf.predict_proba(far) == 0).any()
    assert np.isfinite(clf.predict_log_proba(far)).all()


def test_rows_that_overflow_the_network_are_refused_not_predicted_as_the_first_class():
    # a finite float32 value near its maximum gave NaN probabilities and predict() classes_[0]
    from sk_i2moe import I2MoERegressor

    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(30, 2)), "b": rng.normal(size=(30, 3))}
    y = np.r_[0, 1, rng.integers(0, 2, 28)]
    extreme = {"a": np.array([[0.1, 0.2], [3e38, 3e38]]), "b": X["b"][:2]}
    for model, target in [
        (I2MoEClassifier(**SMALL, random_state=0), y),
        (I2MoERegressor(**SMALL, random_state=0), y * 1.5),
    ]:
        model.fit(X, target)
        assert np.isfinite(model.predict({k: v[:1] for k, v in extreme.items()})).all()
        with pytest.raises(
            ValueError, match=r"1 row\(s\) \(e.g. at positions \[1\]\) give non-finite"
        ):
            model.predict(extreme)
        with pytest.raises(ValueError, match="non-finite outputs"):
            model.explain(extreme)
