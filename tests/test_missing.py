"""Samples that lack a whole modality: fit, predict, explain and report without imputation."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.helper import SliceDict

from sk_i2moe import I2MoEClassifier, I2MoERegressor, load
from sk_i2moe._data import ModalityDataset, drop_modalities, standardization
from sk_i2moe.datasets import make_interaction_classification
from sk_i2moe.inspection import interaction_report
from sk_i2moe.nn import InteractionMoE, StructuredInteractionMoE

SMALL = {"max_epochs": 4, "hidden_dim": 8, "n_tokens": 2, "random_state": 0, "n_threads": 1}


@pytest.fixture(scope="module")
def data():
    """Three modalities; about a third of the rows lack one or two of them."""
    X, y, _ = make_interaction_classification("redundancy", n_samples=240, random_state=0)
    rng = np.random.default_rng(0)
    X = {k: v.copy() for k, v in X.items()}
    for row in np.flatnonzero(rng.random(240) < 0.35):
        lost = rng.choice(3, size=rng.integers(1, 3), replace=False)
        for m in lost:
            X[f"m{m}"][row] = np.nan
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return I2MoEClassifier(**SMALL).fit(X, y)


def _absent(X):
    return np.column_stack([np.isnan(v[:, 0]) for v in X.values()])


def test_absent_experts_get_exactly_zero_weight_and_the_rest_sum_to_one(fitted, data):
    X, _ = data
    explanation = fitted.explain(X)
    absent = _absent(X)
    np.testing.assert_array_equal(explanation.absent, absent)
    weights = explanation.weights
    for m in range(3):  # uniqueness[m<m>] is expert m
        assert (weights[absent[:, m], m] == 0).all()
        assert (weights[~absent[:, m], m] > 0).all()
    lonely = (~absent).sum(1) < 2
    assert lonely.any() and (weights[lonely, 3] == 0).all()  # synergy needs two modalities
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(explanation.usable[:, :3], ~absent)
    frame = explanation.to_frame()
    row = int(np.flatnonzero(absent[:, 0] & ~absent[:, 1] & ~absent[:, 2])[0])
    assert set(frame.loc[frame["sample"] == row, "absent"]) == {"m0"}
    # the table says which expert outputs were computed without their modality
    np.testing.assert_array_equal(frame["usable"].to_numpy(), explanation.usable.reshape(-1))
    one = frame[frame["sample"] == row].set_index("expert")
    assert not one.loc["uniqueness[m0]", "usable"] and one.loc["uniqueness[m1]", "usable"]


def test_an_absent_modalitys_values_do_not_matter(fitted, data):
    X, _ = data
    proba = fitted.predict_proba(X)
    assert np.isfinite(proba).all()
    # a model never sees an absent modality: with a different complete row there it would
    # predict differently, but every all-NaN row is the same absence
    model = fitted.net_.module_.eval()
    device = next(model.parameters()).device
    xs = [torch.randn(4, 10, device=device) for _ in range(3)]
    present = torch.tensor([[True, False, True]] * 4, device=device)
    base = model(xs, present=present).logits
    moved = model([xs[0], xs[1] + 5.0, xs[2]], present=present).logits
    torch.testing.assert_close(base, moved)


@pytest.mark.parametrize("form", ["SliceDict", "modalities=", "prefixed", "MultiIndex"])
def test_every_input_form_handles_absent_rows(data, form):
    X, y = data
    frame = pd.concat(
        {k: pd.DataFrame(v, columns=[f"f{i}" for i in range(v.shape[1])]) for k, v in X.items()},
        axis=1,
    )
    params = {}
    if form == "SliceDict":
        Xf = SliceDict(**X)
    elif form == "modalities=":
        Xf = frame.copy()
        Xf.columns = [f"{a}_{b}" for a, b in frame.columns]
        params["modalities"] = {k: [c for c in Xf.columns if c.startswith(f"{k}_")] for k in X}
    elif form == "prefixed":
        Xf = frame.copy()
        Xf.columns = [f"{a}__{b}" for a, b in frame.columns]
    else:
        Xf = frame
    clf = I2MoEClassifier(**SMALL, **params).fit(Xf, y)
    explanation = clf.explain(Xf)
    np.testing.assert_array_equal(explanation.absent, _absent(X))
    np.testing.assert_allclose(explanation.weights.sum(1), 1.0, atol=1e-5)
    assert clf.predict(Xf).shape == (len(y),)


def test_a_model_fitted_on_complete_rows_predicts_incomplete_ones(data):
    X, y = data
    complete = ~_absent(X).any(1)
    clf = I2MoEClassifier(**SMALL).fit({k: v[complete] for k, v in X.items()}, y[complete])
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    weights = clf.explain(X).weights
    assert (weights[_absent(X)[:, 1], 1] == 0).all()


def test_pickle_and_model_files_keep_the_behaviour(fitted, data, tmp_path):
    X, _ = data
    expected = fitted.predict_proba(X)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(fitted)).predict_proba(X), expected)
    fitted.save(tmp_path / "model")
    np.testing.assert_allclose(load(tmp_path / "model").predict_proba(X), expected, rtol=1e-6)


def test_standardisation_uses_present_values_only(data):
    X, _ = data
    dataset = ModalityDataset(list(X.values()))
    assert dataset.present is not None and not torch.isnan(dataset.inputs[0]).any()
    loc, scale = standardization(dataset.inputs, dataset.present)
    for m, values in enumerate(X.values()):
        present = values[~np.isnan(values[:, 0])].astype(np.float64)
        np.testing.assert_allclose(loc[m].numpy(), present.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(scale[m].numpy(), present.std(0), rtol=1e-5)
    assert ModalityDataset([np.ones((3, 2), dtype=np.float32)]).present is None


def test_the_report_counts_only_samples_that_could_use_an_expert(fitted, data):
    X, y = data
    report = interaction_report(fitted, X, y)
    absent = _absent(X)
    usable = report.table["n_usable"]
    assert usable.iloc[:3].tolist() == (~absent).sum(0).tolist()
    assert usable["synergy"] == ((~absent).sum(1) >= 2).sum() and usable["redundancy"] == len(y)
    assert "Some samples lack modalities" in report.summary()


def test_the_papers_mixture_refuses_absent_rows_with_interaction_losses(data):
    X, y = data
    with pytest.raises(ValueError, match="undefined for an absent one"):
        I2MoEClassifier(**SMALL, interaction_constraint="loss").fit(X, y)
    # vanilla fusion and the paper's mixture without interaction losses handle them
    for params in (
        {"experts": "single"},
        {"interaction_constraint": "loss", "interaction_loss_weight": 0.0},
    ):
        clf = I2MoEClassifier(**SMALL, **params).fit(X, y)
        assert np.isfinite(clf.predict_proba(X)).all()


def test_the_regressor_handles_absent_modalities(data):
    X, y = data
    target = np.where(np.isnan(X["m0"][:, 0]), 0.0, np.nan_to_num(X["m0"][:, 0])) + y
    reg = I2MoERegressor(**SMALL).fit(X, target)
    assert np.isfinite(reg.predict(X)).all()
    explanation, absent = reg.explain(X), _absent(X)
    for m in range(3):  # uniqueness[m<m>] is expert m: no weight where m<m> is absent
        assert (explanation.weights[absent[:, m], m] == 0).all()
        assert (explanation.weights[~absent[:, m], m] > 0).all()
    np.testing.assert_allclose(explanation.weights.sum(1), 1.0, atol=1e-5)
    # an absent modality's values are never read: other values there change nothing
    filled = {k: np.where(np.isnan(v), 1e3, v) for k, v in X.items()}
    moved = {k: np.where(absent[:, [m]], np.nan, filled[k]) for m, k in enumerate(X)}
    np.testing.assert_array_equal(reg.predict(moved), reg.predict(X))


@pytest.mark.parametrize("model_class", [StructuredInteractionMoE, InteractionMoE])
def test_models_take_the_presence_mask_explicitly(model_class):
    torch.manual_seed(0)
    model = model_class([5, 3, 4], n_outputs=2, hidden_dim=8).eval()
    xs = [torch.randn(6, 5), torch.randn(6, 3), torch.randn(6, 4)]
    present = torch.tensor([[True, True, True], [False, True, True], [True, False, False]] * 2)
    out = model(xs, present=present)
    assert (out.weights[~present[:, 0], 0] == 0).all()
    assert (out.weights[2, [1, 2, 3]] == 0).all()  # one modality left: no synergy
    torch.testing.assert_close(out.weights.sum(1), torch.ones(6))
    complete = model(xs)
    # a sample with every modality gets the same output with or without a mask
    torch.testing.assert_close(out.logits[0], complete.logits[0])


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.9])
def test_modality_dropout_keeps_a_subset_of_what_is_present_and_one_modality(rate):
    torch.manual_seed(0)
    present = torch.rand(4000, 3) < 0.8
    present[0] = False  # a row with nothing stays with nothing
    kept = drop_modalities(present, rate)
    assert not (kept & ~present).any()
    had = present.any(1)
    assert kept[had].any(1).all() and not kept[0].any()
    if rate == 0.0:
        assert torch.equal(kept, present)
    # a row with k modalities keeps Binomial(k, 1 - rate) of them, or 1 if that is 0
    k = present.sum(1).double()
    expected = (k * (1 - rate) + torch.where(k > 0, rate**k, 0.0)).sum() / k.sum()
    assert abs(kept.sum() / present.sum() - expected) < 0.02


def _record_masks(clf):
    """Wrap ``clf``'s fitted module so that every forward pass records its mask."""
    seen = []

    def hook(module, args, kwargs):
        seen.append((module.training, kwargs.get("present")))

    clf.net_.module_.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


def test_modality_dropout_masks_training_batches_only(data):
    X, y = data
    complete = ~_absent(X).any(1)
    Xc, yc = {k: v[complete] for k, v in X.items()}, y[complete]
    clf = I2MoEClassifier(**SMALL, modality_dropout=0.5, warm_start=True).fit(Xc, yc)
    seen = _record_masks(clf)
    clf.set_params(max_epochs=1).fit(Xc, yc)  # one more epoch, watched
    masks = [mask for training, mask in seen if training]
    assert masks and all(mask is not None and mask.any(1).all() for mask in masks)
    dropped = 1 - torch.cat(masks).float().mean().item()
    assert 0.3 < dropped < 0.5
    seen.clear()
    before = clf.predict_proba(Xc)
    assert seen and all(not training and mask is None for training, mask in seen)
    np.testing.assert_array_equal(clf.predict_proba(Xc), before)  # no randomness left


def test_modality_dropout_is_reproducible_and_changes_training(data):
    X, y = data
    complete = ~_absent(X).any(1)
    Xc, yc = {k: v[complete] for k, v in X.items()}, y[complete]
    first = I2MoEClassifier(**SMALL, modality_dropout=0.3).fit(Xc, yc).predict_proba(X)
    again = I2MoEClassifier(**SMALL, modality_dropout=0.3).fit(Xc, yc).predict_proba(X)
    plain = I2MoEClassifier(**SMALL).fit(Xc, yc).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - plain).max() > 1e-3


def test_modality_dropout_needs_a_mixture_that_trains_with_absent_modalities(data):
    X, y = data
    complete = ~_absent(X).any(1)
    Xc, yc = {k: v[complete] for k, v in X.items()}, y[complete]
    clf = I2MoEClassifier(**SMALL, interaction_constraint="loss", modality_dropout=0.2)
    with pytest.raises(ValueError, match="modality_dropout=0.2 trains with absent"):
        clf.fit(Xc, yc)
    vanilla = I2MoEClassifier(**SMALL, experts="single", modality_dropout=0.2).fit(Xc, yc)
    assert np.isfinite(vanilla.predict_proba(X)).all()


def test_a_modality_no_training_row_has_is_standardised_as_is():
    values = np.arange(6, dtype=np.float32).reshape(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loc, scale = standardization([values], np.zeros((3, 1), dtype=bool))
    assert loc[0].tolist() == [0.0, 0.0] and scale[0].tolist() == [1.0, 1.0]


def test_a_rare_modality_the_validation_split_takes_whole_keeps_the_losses_finite():
    # 'a' is in one row, which the seeded split holds out: its statistics came from no row
    rng = np.random.RandomState(0)
    X = {"a": rng.randn(120, 3), "b": rng.randn(120, 2), "c": rng.randn(120, 2)}
    X["a"][1:] = np.nan
    y = (X["b"][:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = I2MoEClassifier(
            hidden_dim=8, max_epochs=3, n_members=1, n_threads=1, random_state=0
        ).fit(X, y)
    assert model.validation_loss_ is not None and np.isfinite(model.validation_loss_).all()


def test_a_modality_only_zero_weight_rows_have_is_named():
    rng = np.random.RandomState(0)
    X = {"a": rng.randn(40, 3), "b": rng.randn(40, 2)}
    X["a"][5:] = np.nan
    weights = np.r_[np.zeros(5), np.ones(35)]
    with pytest.raises(ValueError, match="'a' is absent .* every training row with a positive"):
        I2MoEClassifier(max_epochs=1).fit(X, np.arange(40) % 2, sample_weight=weights)


def _rare(n_rows, n_present, seed=0):
    rng = np.random.default_rng(seed)
    X = {"labs": rng.normal(size=(n_rows, 3)), "notes": rng.normal(size=(n_rows, 6))}
    X["notes"][n_present:] = np.nan
    return X, (X["labs"][:, 0] > 0).astype(int)


def test_a_modality_few_training_rows_have_draws_a_warning_at_fit():
    # an independent check (helper-91): notes of pure noise in 10 of 250 training rows took
    # 0.6 of the weight of the samples that had them (ROC-AUC 0.79 against 0.996 without
    # them), and nothing said so
    params = {**SMALL, "max_epochs": 1, "n_members": 1}
    X, y = _rare(80, 12)
    few = r"Few of the 80 training rows have some modalities \('notes' in 12\)\. The experts"
    with pytest.warns(UserWarning, match=few) as record:
        fitted = I2MoEClassifier(**params).fit(X, y)
    # once: not again from the fits on folds that calibrate a fit on all the data
    assert sum("Few of the" in str(w.message) for w in record) == 1
    weights = np.r_[np.ones(70), np.zeros(10)]  # the rows of weight 0 are not counted
    with pytest.warns(UserWarning, match=r"the 70 training rows with a positive sample_weight"):
        I2MoEClassifier(**params).fit(X, y, sample_weight=weights)
    with warnings.catch_warnings():  # in half the rows, or in complete data: no warning
        warnings.simplefilter("error")
        I2MoEClassifier(**params).fit(*_rare(80, 40))
        I2MoEClassifier(**params).fit(*_rare(80, 80))
        assert fitted.predict(X).shape == (80,)  # at fit only: prediction is silent
    # in fewer than half, but in 100 rows or more: enough for a held-out fifth to check
    from sk_i2moe._fit_rules import FEW_MODALITY_ROWS, warn_few_rows

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_few_rows({"notes": np.arange(250) >= FEW_MODALITY_ROWS})
    with pytest.warns(UserWarning, match=f"'notes' in {FEW_MODALITY_ROWS - 1}\\)"):
        warn_few_rows({"notes": np.arange(250) >= FEW_MODALITY_ROWS - 1})


def test_a_rare_modality_is_never_left_to_the_held_out_part():
    from sk_i2moe._fit_rules import every_modality_trained

    rng = np.random.default_rng(0)
    X = {"vitals": rng.normal(size=(100, 3)), "labs": rng.normal(size=(100, 4)) + 50}
    y = (X["vitals"][:, 0] > 0).astype(int)
    X["labs"][1:] = np.nan  # one patient has the labs panel
    for seed in range(8):  # the class-stratified split held that patient out for 0 and 5
        params = {**SMALL, "max_epochs": 2, "random_state": seed, "n_members": 1}
        clf = I2MoEClassifier(**params, early_stopping=True).fit(X, y)
        # before: the labs were standardised with nothing (location 0) and never trained
        loc = clf.net_.module_.state_dict()["loc_1"].numpy()
        np.testing.assert_allclose(loc, X["labs"][0], rtol=1e-5)
    present = torch.tensor([[True, True], [True, False], [True, False], [True, True]])
    train, valid = every_modality_trained(present, np.array([1, 2]), np.array([0, 3]))
    assert train.tolist() == [1, 2, 0, 3] and valid.tolist() == []
    train, valid = every_modality_trained(present, np.array([0, 1]), np.array([2, 3]))
    assert train.tolist() == [0, 1] and valid.tolist() == [2, 3]  # nothing lacking: unchanged


def test_a_split_whose_held_out_rows_alone_have_a_modality_is_refused():
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(10, 2)), np.full((10, 3), np.nan)]
    arrays[1][0] = 1.0  # one row has the second modality
    dataset = ModalityDataset([a.astype(np.float32) for a in arrays], np.zeros(10, np.float32))
    seed = next(
        s
        for s in range(100)
        if train_test_split(np.arange(10), test_size=0.1, random_state=s)[1].tolist() == [0]
    )
    reg = I2MoERegressor(early_stopping=True, validation_fraction=0.1)
    with pytest.raises(ValueError, match="a modality that no row of the training part has"):
        reg._split(dataset, np.zeros(10), seed)
    train, valid = I2MoERegressor(early_stopping=True, validation_fraction=0.1)._split(
        dataset, np.zeros(10), seed + 1 if seed else 1
    )  # another seed holds out a row without it: the split stands
    assert len(valid) == 1 and len(train) == 9


def test_auto_trains_on_all_data_when_a_moved_row_leaves_too_few_held_out():
    from sklearn.model_selection import train_test_split

    from sk_i2moe._fit_rules import AUTO_MIN_VALIDATION

    n = 5 * AUTO_MIN_VALIDATION  # exactly the minimum held out at validation_fraction 0.2
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(n, 2)), np.full((n, 3), np.nan)]
    arrays[1][0] = 1.0
    dataset = ModalityDataset([a.astype(np.float32) for a in arrays], np.zeros(n, np.float32))
    seed = next(
        s
        for s in range(100)
        if 0 in train_test_split(np.arange(n), test_size=0.2, random_state=s)[1]
    )
    reg = I2MoERegressor(early_stopping="auto")
    train, valid = reg._split(dataset, np.zeros(n), seed)  # 19 held out after the move before
    assert train is dataset and valid is None
    train, valid = I2MoERegressor(early_stopping="refit")._split(dataset, np.zeros(n), seed)
    assert len(valid) == AUTO_MIN_VALIDATION - 1 and len(train) == n - len(valid)
