"""Inputs and situations that used to give a silently wrong result."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score
from skorch.callbacks import Callback

from sk_i2moe import I2MoEClassifier, I2MoERegressor, load

TINY = {"max_epochs": 2, "hidden_dim": 8, "n_tokens": 2, "random_state": 0, "n_threads": 1}


def _frames(n=60, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.Index([f"p{i}" for i in range(n)], name="patient")
    labs = pd.DataFrame(rng.normal(size=(n, 3)), index=index, columns=["hb", "crp", "na"])
    notes = pd.DataFrame(rng.normal(size=(n, 2)), index=index, columns=["svd0", "svd1"])
    y = (labs["hb"] + notes["svd0"] > 0).astype(int).to_numpy()
    return {"labs": labs, "notes": notes}, y


def test_a_constant_feature_keeps_scale_one():
    rng = np.random.default_rng(0)
    X = {
        "a": np.column_stack([rng.normal(size=80), np.full(80, 5.0)]),
        "b": rng.normal(size=(80, 2)),
    }
    y = (X["a"][:, 0] > 0).astype(int)
    clf = I2MoEClassifier(**TINY, n_members=1).fit(X, y)  # one mixture's statistics
    moved = {"a": X["a"].copy(), "b": X["b"]}
    moved["a"][:, 1] = 5.001
    # before: the constant feature was divided by 1e-6 and probabilities moved by up to 0.48
    assert np.abs(clf.predict_proba(moved) - clf.predict_proba(X)).max() < 0.01
    assert clf.net_.module_.scale_0.tolist()[1] == 1.0


def test_features_that_float32_rounds_to_a_few_levels_are_named_at_fit():
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(60, 2)), "b": rng.normal(size=(60, 2))}
    y = (X["a"][:, 0] > 0).astype(int)
    offset = dict(X, a=X["a"] * [0.01, 1.0] + [1e6, 0.0])  # 1e6 + x / 100: a few levels
    assert np.unique(offset["a"][:, 0].astype(np.float32)).size < 5
    with pytest.warns(UserWarning, match=r"Modality 'a': float32.* rounds features \[0\]"):
        clf = I2MoEClassifier(**TINY).fit(offset, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # at fit only: a batch cannot be centred without a refit
        clf.predict(offset)
    seconds = 1_700_000_000 + rng.permutation(60)  # epoch seconds within a minute, int32 too
    for dtype in (np.int64, np.int32, np.uint32):
        table = pd.DataFrame({"t": seconds.astype(dtype), "u": X["b"][:, 1]})
        with pytest.warns(UserWarning, match=r"Modality 'b': .* rounds features \['t'\]"):
            I2MoEClassifier(**TINY).fit(dict(X, b=table), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # values float32 keeps, or has room for, are not named
        I2MoEClassifier(**TINY).fit({k: v.astype(np.float32) + 1e6 for k, v in X.items()}, y)
        I2MoEClassifier(**TINY).fit(dict(X, a=X["a"] + 1e3), y)
        kept = np.column_stack([100_000 + np.arange(60) % 2, X["a"][:, 1]]).astype(np.int64)
        I2MoEClassifier(**TINY).fit(dict(X, a=kept), y)
        tenths = np.column_stack([1e5 + np.arange(60) % 10 / 10, X["a"][:, 1]])  # 10 of 10 kept
        I2MoEClassifier(**TINY).fit(dict(X, a=tenths), y)
        # the mean of equal doses differs in its last bits only: round-off, not a spread
        means = np.array([np.mean([0.1] * k) for k in range(1, 61)])
        assert 0 < np.ptp(means) < 1e-15
        I2MoEClassifier(**TINY).fit(dict(X, a=np.column_stack([means, X["a"][:, 1]])), y)


def test_a_finite_extreme_value_does_not_overflow_the_standardisation():
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(60, 2)), "b": rng.normal(size=(60, 2))}
    X["a"][:5, 0] = 3e38  # finite in float32; the old statistics overflowed from two such rows
    y = (X["b"][:, 0] > 0).astype(int)
    clf = I2MoEClassifier(**TINY, n_members=1).fit(X, y)
    assert np.isfinite(clf.net_.module_.scale_0.cpu().numpy()).all()
    assert np.isfinite(clf.predict_proba(X)).all()


def test_dataframe_modalities_must_share_their_row_order():
    X, y = _frames()
    shuffled = dict(X, notes=X["notes"].sample(frac=1.0, random_state=0))
    with pytest.raises(ValueError, match="same row labels in another order"):
        I2MoEClassifier(**TINY).fit(shuffled, y)
    other = dict(X, notes=X["notes"].set_axis([f"q{i}" for i in range(60)]))
    with pytest.raises(ValueError, match="different row labels"):
        I2MoEClassifier(**TINY).fit(other, y)
    # a label repeated in place of another: "the same row labels in another order" and
    # "e.g. [] only in 'notes'" before
    labels = list(X["labs"].index)
    for repeated in ([labels[1], *labels[1:]], [*labels[:-1], labels[0]]):
        with pytest.raises(ValueError, match=r"different row labels \(e.g. \['p"):
            I2MoEClassifier(**TINY).fit(dict(X, notes=X["notes"].set_axis(repeated)), y)
    clf = I2MoEClassifier(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="same row labels in another order"):
        clf.predict(shuffled)


def test_a_target_series_in_another_row_order_than_x_is_refused():
    from sk_i2moe.inspection import expert_scores

    X, labels = _frames()
    y = pd.Series(labels, index=X["labs"].index)
    shuffled = y.sample(frac=1.0, random_state=0)
    # before: paired by position, each patient trained on another's label, without a word
    with pytest.raises(ValueError, match="y's row index holds the labels of X's rows in another"):
        I2MoEClassifier(**TINY).fit(X, shuffled)
    clf = I2MoEClassifier(**TINY).fit(X, y)
    for call in (lambda: clf.score(X, shuffled), lambda: expert_scores(clf, X, shuffled)):
        with pytest.raises(ValueError, match="in another order"):
            call()
    # other labels (X indexed by patient, y by position) pair by position, as in scikit-learn
    renumbered = y.reset_index(drop=True)
    np.testing.assert_array_equal(
        I2MoEClassifier(**TINY).fit(X, renumbered).predict_proba(X), clf.predict_proba(X)
    )
    assert clf.score(X, y.loc[X["labs"].index]) == clf.score(X, labels)


def test_a_weight_series_in_another_row_order_than_x_is_refused():
    # before: a sample_weight Series keyed by patient but in another order than X was paired
    # by position without a word (each patient weighed as another), while the same mistake in
    # y was refused (checker helper-102 F1)
    from sk_i2moe.inspection import expert_scores, interaction_report, modality_importance

    X, labels = _frames()
    y = pd.Series(labels, index=X["labs"].index)
    weights = pd.Series(np.linspace(0.5, 2.0, len(y)), index=y.index)
    shuffled = weights.sample(frac=1.0, random_state=0)
    with pytest.raises(
        ValueError,
        match=r"sample_weight's row index holds the labels of X's rows in another order.*"
        r"another's weight.*sample_weight = sample_weight\.loc\[X\.index\]",
    ):
        I2MoEClassifier(**TINY).fit(X, y, sample_weight=shuffled)
    clf = I2MoEClassifier(**TINY).fit(X, y, sample_weight=weights)
    calls = (
        lambda: clf.score(X, y, sample_weight=shuffled),
        lambda: expert_scores(clf, X, y, sample_weight=shuffled),
        lambda: modality_importance(clf, X, y, sample_weight=shuffled, n_repeats=1),
        lambda: interaction_report(clf, X, y, sample_weight=shuffled, n_bootstrap=200),
    )
    for call in calls:
        with pytest.raises(ValueError, match="sample_weight's row index"):
            call()
    # aligned, or numbered by position: accepted, and the same as the values in X's order
    aligned = I2MoEClassifier(**TINY).fit(X, y, sample_weight=shuffled.loc[y.index])
    positional = I2MoEClassifier(**TINY).fit(X, y, sample_weight=weights.reset_index(drop=True))
    for other in (aligned, positional):
        np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))
    assert clf.score(X, y, sample_weight=weights) == clf.score(X, y, sample_weight=weights.values)


def test_a_y_numbered_by_position_beside_a_shuffled_x_is_given_both_remedies():
    # X's index a permutation of 0..n-1, y = pd.Series(values) in X's order: the message
    # told the user to reindex y by X's index, which paired half the rows with another's
    # target, and the fit then accepted it (audit helper-67 G1)
    X, labels = _frames()
    shuffled = {
        name: frame.reset_index(drop=True).sample(frac=1.0, random_state=0)
        for name, frame in X.items()
    }
    y = pd.Series(labels[shuffled["labs"].index])  # in X's row order, labelled 0..n-1
    with pytest.raises(
        ValueError,
        match=r"y = y\.loc\[X\.index\].* do not reindex it: pass "
        r"y\.to_numpy\(\) or y\.set_axis\(X\.index\)",
    ):
        I2MoEClassifier(**TINY).fit(shuffled, y)
    positional = I2MoEClassifier(**TINY).fit(shuffled, y.to_numpy())
    relabelled = I2MoEClassifier(**TINY).fit(shuffled, y.set_axis(shuffled["labs"].index))
    np.testing.assert_array_equal(
        positional.predict_proba(shuffled), relabelled.predict_proba(shuffled)
    )


def test_dataframe_modalities_check_their_column_names_at_prediction():
    X, y = _frames()
    clf = I2MoEClassifier(**TINY).fit(X, y)
    reordered = dict(X, labs=X["labs"][["crp", "hb", "na"]])
    with pytest.raises(ValueError, match="Modality 'labs'.*another order"):
        clf.predict(reordered)
    renamed = dict(X, labs=X["labs"].rename(columns={"hb": "haemoglobin"}))
    with pytest.raises(ValueError, match=r"missing \['hb'\], unexpected \['haemoglobin'\]"):
        clf.predict(renamed)
    as_arrays = dict(X, labs=X["labs"].to_numpy())
    with pytest.warns(UserWarning, match="'labs' does not have valid feature names"):
        clf.predict(as_arrays)


def test_integer_columns_are_no_feature_names_as_in_scikit_learn():
    X, y = _frames()
    arrays = {name: frame.to_numpy() for name, frame in X.items()}
    clf = I2MoEClassifier(**TINY).fit(arrays, y)
    numbered = dict(arrays, labs=pd.DataFrame(arrays["labs"]))  # columns 0, 1, 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(clf.predict_proba(numbered), clf.predict_proba(arrays))
        I2MoEClassifier(**TINY).fit(numbered, y).predict(arrays)
    # string names are still checked against an array
    with pytest.warns(UserWarning, match="'labs' has feature names"):
        clf.predict(dict(arrays, labs=X["labs"]))


def test_dataframe_modalities_check_column_labels_that_are_not_strings(tmp_path):
    X, y = _frames()
    numbered = {name: frame.set_axis(range(frame.shape[1]), axis=1) for name, frame in X.items()}
    clf = I2MoEClassifier(**TINY).fit(numbered, y)
    reordered = dict(numbered, labs=numbered["labs"][[2, 1, 0]])
    # accepted before, and the probabilities changed
    with pytest.raises(ValueError, match="Modality 'labs'.*another order"):
        clf.predict(reordered)
    with pytest.raises(ValueError, match=r"missing \[0, 1, 2\], unexpected \[7, 8, 9\]"):
        clf.predict(dict(numbered, labs=numbered["labs"].set_axis([7, 8, 9], axis=1)))
    clf.save(tmp_path / "model.i2moe")
    with pytest.raises(ValueError, match="another order"):
        load(tmp_path / "model.i2moe").predict(reordered)
    mixed = dict(X, labs=X["labs"].set_axis(["hb", 1, "na"], axis=1))
    clf = I2MoEClassifier(**TINY).fit(mixed, y)
    with pytest.raises(ValueError, match="another order"):
        clf.predict(dict(mixed, labs=mixed["labs"][["na", 1, "hb"]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # labels that are not all strings: no feature names
        clf.predict(dict(mixed, labs=mixed["labs"].to_numpy()))


def test_missing_and_unusual_column_labels_match_themselves_and_are_saved(tmp_path):
    X, y = _frames()
    labs = X["labs"]
    cases = {
        "none": labs.set_axis(["hb", None, "na"], axis=1),
        "na": labs.set_axis(pd.Index(["hb", pd.NA, "na"], dtype="string"), axis=1),
        "nat": labs.set_axis(pd.DatetimeIndex(["2020-01-01", None, "2020-01-03"]), axis=1),
        "dates": labs.set_axis(pd.date_range("2020-01-01", periods=3), axis=1),
        "nested": labs.set_axis([("a", ("b", 1)), ("c", 2), ("d", 3)], axis=1),
        "numpy bools": labs.set_axis(pd.Index([np.bool_(True), "x", 3], dtype=object), axis=1),
    }
    for name, frame in cases.items():
        data = dict(X, labs=frame)
        clf = I2MoEClassifier(**TINY).fit(data, y)
        expected = clf.predict_proba(data)  # "boolean value of NA is ambiguous" (pd.NA) before
        path = tmp_path / f"{name}.i2moe"
        if name in ("none", "numpy bools"):  # numpy bools: refused at save before
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # written as it is
                clf.save(path)
        else:  # kept in memory, not in the file (dates: "a Timestamp cannot be saved" before)
            with pytest.warns(UserWarning, match=r"labels of modalities \['labs'\] are not"):
                clf.save(path)
        np.testing.assert_array_equal(load(path).predict_proba(data), expected, err_msg=name)
    table = pd.concat(X, axis=1)
    table.columns = pd.MultiIndex.from_tuples(
        [("labs", "hb"), ("labs", np.nan), *table.columns[2:]]
    )
    clf = I2MoEClassifier(**TINY).fit(table, y)
    clf.predict(table.copy())  # "missing [('labs', nan)], unexpected [('labs', nan)]" before


def test_a_polars_frame_matches_the_integer_labels_of_the_pandas_frame_fitted():
    pl = pytest.importorskip("polars")
    X, y = _frames()
    numbered = {name: frame.set_axis(range(frame.shape[1]), axis=1) for name, frame in X.items()}
    clf = I2MoEClassifier(**TINY).fit(numbered, y)
    as_polars = {name: pl.from_numpy(frame.to_numpy()) for name, frame in numbered.items()}
    as_polars = {
        name: frame.rename({old: str(i) for i, old in enumerate(frame.columns)})
        for name, frame in as_polars.items()
    }
    np.testing.assert_array_equal(clf.predict_proba(as_polars), clf.predict_proba(numbered))
    backwards = dict(as_polars, labs=as_polars["labs"].select(["2", "1", "0"]))
    with pytest.raises(ValueError, match="Modality 'labs'"):
        clf.predict(backwards)


def test_a_nan_column_label_matches_itself():
    X, y = _frames()
    table = pd.concat(X, axis=1).droplevel(0, axis=1)
    table.columns = ["hb", "crp", np.nan, "s0", "s1"]
    clf = I2MoEClassifier(**TINY, modalities={"labs": [0, 1, 2], "notes": [3, 4]}).fit(table, y)
    # refused before: "missing [], unexpected [], same names in another order"
    np.testing.assert_array_equal(clf.predict(table.copy()), clf.predict(table))
    with pytest.raises(ValueError, match="another order"):
        clf.predict(table.iloc[:, [2, 1, 0, 3, 4]])


def test_a_table_fitted_with_names_warns_for_an_array():
    X, y = _frames()
    table = pd.concat(X, axis=1)
    table.columns = [f"{m}__{f}" for m, f in table.columns]
    clf = I2MoEClassifier(**TINY).fit(table, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        clf.predict(table.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(table)  # the fitted form: no warning


def test_multiindex_columns_are_modality_feature_pairs():
    X, y = _frames()
    table = pd.concat(X, axis=1)  # columns ('labs', 'hb'), ..., ('notes', 'svd1')
    clf = I2MoEClassifier(**TINY).fit(table, y)
    assert clf.modalities_ == {"labs": 3, "notes": 2}
    reference = I2MoEClassifier(**TINY).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(table), reference.predict_proba(X), atol=1e-6)
    deeper = table.copy()
    deeper.columns = pd.MultiIndex.from_tuples([(*c, "x") for c in table.columns])
    with pytest.raises(ValueError, match="MultiIndex with 3 levels"):
        I2MoEClassifier(**TINY).fit(deeper, y)


def test_an_empty_prefix_is_not_a_modality_name():
    X, y = _frames()
    table = pd.DataFrame(
        np.column_stack([X["labs"], X["notes"]]),
        columns=["__hb", "labs__crp", "labs__na", "notes__svd0", "notes__svd1"],
    )
    with pytest.raises(ValueError, match="'__hb' starts with the separator"):
        I2MoEClassifier(**TINY).fit(table, y)


def test_a_column_listed_twice_in_one_modality_is_named():
    X, y = _frames()
    table = pd.concat([X["labs"], X["notes"]], axis=1)
    modalities = {"labs": ["hb", "crp", "na", "hb"], "notes": ["svd0", "svd1"]}
    with pytest.raises(ValueError, match=r"Modality 'labs' lists columns \['hb'\] more than once"):
        I2MoEClassifier(**TINY, modalities=modalities).fit(table, y)


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_fit_warns_and_keeps_the_epochs_run():
    X, y = _frames()
    clf = I2MoEClassifier(**{**TINY, "max_epochs": 10}, callbacks=[_InterruptAt(2)])
    with pytest.warns(UserWarning, match=r"interrupted by the user .* after 2 epoch\(s\) of "):
        clf.fit(X, y)
    assert clf.n_iter_ == 2
    assert clf.predict_proba(X).shape == (60, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        I2MoEClassifier(**TINY).fit(X, y)  # an ordinary fit does not warn
        # nor does early stopping, which skorch implements with a KeyboardInterrupt
        stopped = I2MoEClassifier(
            **{**TINY, "max_epochs": 200}, early_stopping=True, n_iter_no_change=2, lr=1e-6
        ).fit(X, y)
    assert stopped.n_iter_ < 200


def test_an_interrupted_epoch_choosing_fit_says_it_kept_one_mixture(tmp_path):
    # the first fit of "refit" trains one mixture; interrupted, that is the network kept
    X, y = _frames(n=120)
    clf = I2MoEClassifier(
        **{**TINY, "max_epochs": 10},
        n_members=3,
        early_stopping="refit",
        callbacks=[_InterruptAt(1)],
    )
    with pytest.warns(UserWarning, match="one mixture of the first fit"):
        clf.fit(X, y)
    assert clf.n_members_ == 1
    clf.save(tmp_path / "m.i2moe")  # its file describes the network it holds
    restored = load(tmp_path / "m.i2moe")
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_regression_targets_of_extreme_scale(scale):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(80, 3)), "b": rng.normal(size=(80, 2))}
    y = (X["a"][:, 0] + 3.0) * scale
    reg = I2MoERegressor(**{**TINY, "max_epochs": 20}).fit(X, y)
    pred = reg.predict(X)
    assert np.isfinite(pred).all()
    # the same model as on y / scale, in the target's units
    unit = I2MoERegressor(**{**TINY, "max_epochs": 20}).fit(X, y / scale)
    np.testing.assert_allclose(pred / scale, unit.predict(X), rtol=1e-5)
    assert r2_score(y / scale, pred / scale) > 0.05
    lopsided = np.r_[np.full(79, 1.7e308), -1.7e308]  # y - mean(y) overflows float64
    with pytest.raises(ValueError, match="too wide to standardise"):
        I2MoERegressor(**TINY).fit(X, lopsided)


def test_class_weight_naming_an_unknown_label_is_an_error():
    X, y = _frames()
    with pytest.raises(ValueError, match=r"class_weight names labels \['1'\]"):
        I2MoEClassifier(**TINY, class_weight={0: 1.0, "1": 5.0}).fit(X, y)
