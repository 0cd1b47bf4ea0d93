"""to_onnx: the exported graph, run by onnxruntime, predicts what the estimator predicts."""

import numpy as np
import pytest

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe.nn import FUSIONS

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TINY = {
    "max_epochs": 2,
    "hidden_dim": 8,
    "n_tokens": 2,
    "n_layers": 1,
    "random_state": 0,
    "n_threads": 1,
    "n_members": 4,  # an ensemble, as by default on larger data; "auto" gives 8 on these rows
}
#: backbones torch's exporter cannot trace (data-dependent routing of the sparse layers)
NOT_EXPORTABLE = {"switch", "moepp"}


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = {"labs": rng.normal(size=(n, 3)), "notes": rng.normal(size=(n, 2)) * 10 + 3}
    y = (X["labs"][:, 0] + X["notes"][:, 1] / 10 > 0.3).astype(int)
    return X, y


def _run(path, estimator, X):
    session = ort.InferenceSession(str(path))
    inputs = [(i.name, i.type) for i in session.get_inputs()]
    assert inputs == [(name, "tensor(float)") for name in estimator.modalities_]
    feeds = {name: np.asarray(X[name], dtype=np.float32) for name in estimator.modalities_}
    return session.run(None, feeds)[0]


#: every exportable backbone in the default mixture, and the paper's mixture once: the mixture
#: kind and the backbone are separate parts of the graph (an export costs ~10 s)
EXPORTED = [(fusion, "structure") for fusion in sorted(set(FUSIONS) - NOT_EXPORTABLE)]
EXPORTED.append(("mlp", "loss"))


@pytest.mark.parametrize(("fusion", "constraint"), EXPORTED)
def test_every_exportable_backbone_matches_predict_proba(fusion, constraint, tmp_path):
    X, y = _data()
    clf = I2MoEClassifier(**TINY, fusion=fusion, interaction_constraint=constraint).fit(X, y)
    path = tmp_path / "model.onnx"
    clf.to_onnx(path)
    X_new, _ = _data(n=17, seed=1)  # another number of rows than the export's example
    np.testing.assert_allclose(_run(path, clf, X_new), clf.predict_proba(X_new), atol=1e-5)


@pytest.mark.parametrize("fusion", sorted(NOT_EXPORTABLE))
def test_backbones_that_cannot_export_say_so(fusion, tmp_path):
    X, y = _data()
    clf = I2MoEClassifier(**TINY, fusion=fusion).fit(X, y)
    with pytest.raises(ValueError, match=f"fusion='{fusion}' cannot be exported to ONNX"):
        clf.to_onnx(tmp_path / "model.onnx")


def test_modalities_named_like_values_inside_the_graph(tmp_path):
    X, y = _data()
    X = {"mean": X["labs"], "add": X["notes"], "probabilities_0": X["labs"][:, :1]}
    clf = I2MoEClassifier(**TINY).fit(X, y)
    clf.to_onnx(tmp_path / "model.onnx")
    got = _run(tmp_path / "model.onnx", clf, X)
    np.testing.assert_allclose(got, clf.predict_proba(X), atol=1e-5)


def test_multilabel_and_multiclass_probabilities(tmp_path):
    X, _ = _data()
    multilabel = np.stack([X["labs"][:, 0] > 0, X["notes"][:, 0] > 3], 1).astype(int)
    multiclass = np.digitize(X["labs"][:, 1], [-0.5, 0.5])
    for y in (multilabel, multiclass):
        clf = I2MoEClassifier(**TINY).fit(X, y)
        clf.to_onnx(tmp_path / "model.onnx")
        got = _run(tmp_path / "model.onnx", clf, X)
        np.testing.assert_allclose(got, clf.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("two_d", [False, True])
def test_regressor_predictions_in_target_units(two_d, tmp_path):
    X, _ = _data()
    y = X["labs"][:, :2] * 50 + 1000 if two_d else X["labs"][:, 0] * 50 + 1000
    reg = I2MoERegressor(**TINY).fit(X, y)
    reg.to_onnx(tmp_path / "model.onnx")
    got = _run(tmp_path / "model.onnx", reg, X)
    expected = reg.predict(X).reshape(len(y), -1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)


def test_an_ensemble_exports_its_averaged_prediction(tmp_path):
    X, y = _data()
    clf = I2MoEClassifier(**{**TINY, "n_members": 3}).fit(X, y)
    path = tmp_path / "model.onnx"
    clf.to_onnx(path)
    X_new, _ = _data(n=9, seed=2)
    np.testing.assert_allclose(_run(path, clf, X_new), clf.predict_proba(X_new), atol=1e-5)
