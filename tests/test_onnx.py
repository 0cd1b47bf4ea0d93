"""to_onnx: the exported graph, run by onnxruntime, predicts what the estimator predicts."""

import json
import warnings

import numpy as np
import pytest
import torch

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe.nn import FUSIONS
from sk_i2moe.nn.calibration import set_absence_shrinkage

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


def _run(path, estimator, X, weights=False):
    """The graph's prediction on ``X`` (and its interaction weights, with ``weights``)."""
    session = ort.InferenceSession(str(path))
    inputs = [(i.name, i.type) for i in session.get_inputs()]
    assert inputs == [(name, "tensor(float)") for name in estimator.modalities_]
    feeds = {name: np.asarray(X[name], dtype=np.float32) for name in estimator.modalities_}
    prediction, interaction_weights = session.run(None, feeds)
    return (prediction, interaction_weights) if weights else prediction


#: an export costs 10-20 s: the tests of one fitted model share its export, and run in one
#: pytest-xdist worker (``--dist loadgroup``), so that it is exported once
SHARED = pytest.mark.xdist_group("onnx_default_export")


@pytest.fixture(scope="module")
def default_export(tmp_path_factory):
    """The structured mixture of MLP experts (the defaults) on ``_data()``, exported once."""
    X, y = _data()
    clf = I2MoEClassifier(**TINY, fusion="mlp", interaction_constraint="structure").fit(X, y)
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    clf.to_onnx(path)
    return clf, path


def _assert_matches(path, clf):
    X_new, _ = _data(n=17, seed=1)  # another number of rows than the export's example
    proba, weights = _run(path, clf, X_new, weights=True)
    np.testing.assert_allclose(proba, clf.predict_proba(X_new), atol=1e-5)
    np.testing.assert_allclose(weights, clf.explain(X_new).weights, atol=1e-5)


#: every other exportable backbone in the default mixture, and the paper's mixture once: the
#: mixture kind and the backbone are separate parts of the graph
EXPORTED = [(fusion, "structure") for fusion in sorted(set(FUSIONS) - NOT_EXPORTABLE - {"mlp"})]
EXPORTED.append(("mlp", "loss"))


@pytest.mark.parametrize(("fusion", "constraint"), EXPORTED)
def test_every_exportable_backbone_matches_predict_proba(fusion, constraint, tmp_path):
    X, y = _data()
    clf = I2MoEClassifier(**TINY, fusion=fusion, interaction_constraint=constraint).fit(X, y)
    clf.to_onnx(tmp_path / "model.onnx")
    _assert_matches(tmp_path / "model.onnx", clf)


@SHARED
def test_the_default_model_matches_predict_proba(default_export):
    # four members (TINY): the graph averages the ensemble as predict_proba does
    clf, path = default_export
    assert clf.n_members_ == 4
    _assert_matches(path, clf)


@pytest.mark.parametrize("fusion", sorted(NOT_EXPORTABLE))
def test_backbones_that_cannot_export_say_so(fusion, tmp_path, capfd):
    X, y = _data()
    clf = I2MoEClassifier(**TINY, fusion=fusion).fit(X, y)
    capfd.readouterr()
    with pytest.raises(ValueError, match=f"fusion='{fusion}' cannot be exported to ONNX"):
        clf.to_onnx(tmp_path / "model.onnx")
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # refused before the exporter prints its failed graph


def test_a_custom_backbone_exports_for_any_number_of_rows(tmp_path, monkeypatch):
    # a custom backbone applying a linear layer to its tokens (the docs' example) was exported
    # with every shape fixed at 2 rows: onnxruntime refused any other batch (audit helper-68
    # K1); traced expert by expert, it keeps the batch free
    import torch
    from torch import nn

    class Pooling(nn.Module):
        def __init__(self, hidden_dim, n_outputs):
            super().__init__()
            self.score, self.head = nn.Linear(hidden_dim, 1), nn.Linear(hidden_dim, n_outputs)

        def forward(self, tokens):
            attention = torch.softmax(self.score(tokens), dim=1)
            pooled = (attention * tokens).sum(dim=1)
            return self.head(pooled), pooled

    def attention(n_modalities, n_tokens, hidden_dim, n_outputs):
        return Pooling(hidden_dim, n_outputs)

    X, y = _data()
    for constraint in ("structure", "loss"):
        clf = I2MoEClassifier(
            **{**TINY, "n_members": 2}, fusion=attention, interaction_constraint=constraint
        ).fit(X, y)
        path = tmp_path / f"{constraint}.onnx"
        clf.to_onnx(path)
        for rows in (1, 7, 50):
            part = {name: values[:rows] for name, values in X.items()}
            prediction, weights = _run(path, clf, part, weights=True)
            np.testing.assert_allclose(prediction, clf.predict_proba(part), atol=1e-5)
            np.testing.assert_allclose(weights, clf.explain(part).weights, atol=1e-5)
    # the export ran a copy one expert at a time; the estimator still batches them
    assert not any(member.fusion.one_by_one for member in clf.net_.module_.members)
    # where the exporter still fixes the rows (here: the batched trace), the graph is refused
    batched = property(lambda _: False, lambda *_: None)  # to_onnx's setting has no effect
    monkeypatch.setattr("sk_i2moe.nn.custom.VmappedFusion.one_by_one", batched)
    path = tmp_path / "fixed.onnx"
    with pytest.raises(ValueError, match="fixed the number of rows at 2, so the graph would"):
        clf.to_onnx(path)
    assert not path.exists()


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


def test_regressor_predictions_in_target_units(tmp_path):
    # one target here; two targets in the test of absent modalities below
    X, _ = _data()
    y = X["labs"][:, 0] * 50 + 1000
    reg = I2MoERegressor(**TINY).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.to_onnx(tmp_path / "model.onnx")
    # the serving wrapper was left in training mode: the exporter warned of it
    assert not [w for w in caught if "training mode" in str(w.message)]
    got = _run(tmp_path / "model.onnx", reg, X)
    assert got.shape == (len(y), 1)
    np.testing.assert_allclose(got[:, 0], reg.predict(X), rtol=1e-5, atol=1e-3)
    # an output constant in training (scale 0) is served as that constant
    constant = I2MoERegressor(**TINY).fit(X, np.column_stack([y, np.full(len(y), 2.5)]))
    constant.to_onnx(tmp_path / "constant.onnx")
    served = _run(tmp_path / "constant.onnx", constant, X)
    np.testing.assert_array_equal(served[:, 1], 2.5)
    np.testing.assert_allclose(served[:, 0], constant.predict(X)[:, 0], rtol=1e-5, atol=1e-3)


def _with_absent(X):
    """A copy of ``X`` where some rows lack ``labs``, some ``notes`` (all-NaN rows)."""
    X = {name: a.copy() for name, a in X.items()}
    X["labs"][::4] = np.nan
    X["notes"][2::4] = np.nan
    return X


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_absent_modalities_are_handled_as_the_estimator_does(task, tmp_path):
    complete, y = _data(n=60)
    X = _with_absent(complete)
    if task == "classification":
        model = I2MoEClassifier(**TINY).fit(X, y)
    else:  # two targets, in their own units
        model = I2MoERegressor(**TINY).fit(X, complete["labs"][:, 1:3] * [50, 5] + [1000, -20])
    # the offsets the absent modalities add are part of the prediction the graph must match
    assert np.abs(model._module().members[0].absence_logits.detach().cpu().numpy()).max() > 0
    # and so is the absence shrinkage (too few rows here to hold out and choose it: set one)
    set_absence_shrinkage(model._module(), [0.6, 0.3], torch.tensor([0.5, -0.25]))
    model.to_onnx(tmp_path / "model.onnx")
    X_new = _with_absent(_data(n=23, seed=3)[0])
    got, weights = _run(tmp_path / "model.onnx", model, X_new, weights=True)
    # the absent modality's uniqueness expert gets no weight, in the graph as in explain
    np.testing.assert_allclose(weights, model.explain(X_new).weights, atol=1e-5)
    assert (weights[np.isnan(X_new["labs"]).all(axis=1), 0] == 0).all()
    if task == "classification":
        np.testing.assert_allclose(got, model.predict_proba(X_new), atol=1e-5)
    else:
        np.testing.assert_allclose(got, model.predict(X_new), rtol=1e-5, atol=1e-3)


@SHARED
def test_rows_the_estimator_refuses_give_nan(default_export, tmp_path):
    X, y = _data()
    X_new = {name: a[:4].copy() for name, a in X.items()}
    X_new["labs"][0] = np.nan  # absent: handled
    X_new["labs"][1] = np.nan  # every modality absent: the estimator refuses the row
    X_new["notes"][1] = np.nan
    X_new["notes"][2, 0] = np.nan  # partly missing: the estimator asks for imputation
    clf, path = default_export
    got = _run(path, clf, X_new)
    assert np.isnan(got[1:3]).all()
    assert np.isfinite(got[[0, 3]]).all()
    complete = {name: a[[0, 3]] for name, a in X_new.items()}
    complete["labs"][0] = np.nan
    np.testing.assert_allclose(got[[0, 3]], clf.predict_proba(complete), atol=1e-5)
    # a model that refuses absent modalities: its graph does not handle them either
    strict = I2MoEClassifier(**TINY, allow_missing_modalities=False).fit(X, y)
    strict.to_onnx(tmp_path / "strict.onnx")
    got = _run(tmp_path / "strict.onnx", strict, X_new)
    assert np.isnan(got[:3]).all() and np.isfinite(got[3]).all()


@SHARED
def test_the_graph_names_its_outputs_and_experts(default_export):
    X, y = _data()
    clf, path = default_export
    session = ort.InferenceSession(str(path))
    assert [o.name for o in session.get_outputs()] == ["probabilities", "interaction_weights"]
    stored = session.get_modelmeta().custom_metadata_map
    assert json.loads(stored["expert_names"]) == clf.expert_names_
    assert json.loads(stored["output_names"]) == [str(c) for c in clf.classes_]
    _, weights = _run(path, clf, X, weights=True)
    assert weights.shape == (len(y), len(clf.expert_names_))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)


def test_a_modality_named_like_an_output_is_refused(tmp_path):
    X, y = _data()
    X = {"interaction_weights": X["labs"], "notes": X["notes"]}
    clf = I2MoEClassifier(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="named 'interaction_weights', like an output"):
        clf.to_onnx(tmp_path / "model.onnx")


def test_a_torch_without_the_dynamo_exporter_is_named(tmp_path, monkeypatch):
    import torch

    X, y = _data()
    clf = I2MoEClassifier(**{**TINY, "n_members": 1}).fit(X, y)

    def export(model, args, f=None, *, input_names=None):  # torch < 2.5's signature, shortened
        raise AssertionError("the old exporter must not be called")

    monkeypatch.setattr(torch.onnx, "export", export)
    with pytest.raises(ImportError, match=r"torch >= 2\.5"):
        clf.to_onnx(tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()
