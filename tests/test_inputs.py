"""Every accepted input form gives the same model for the same data."""

import warnings

import numpy as np
import pandas as pd
import pytest
from skorch.helper import SliceDict

from sk_i2moe import I2MoEClassifier

SMALL = {"max_epochs": 2, "hidden_dim": 8, "n_tokens": 2, "batch_size": 16, "random_state": 0}


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    labs = rng.normal(size=(60, 3))
    notes = rng.normal(size=(60, 2))
    y = (labs[:, 0] + notes[:, 1] > 0).astype(int)
    frame = pd.DataFrame(np.hstack([labs, notes]), columns=["hb", "wbc", "crp", "svd0", "svd1"])
    return labs, notes, frame, y


def _proba(X, y, **params):
    return I2MoEClassifier(**SMALL, **params).fit(X, y).predict_proba(X)


def test_all_input_forms_give_the_same_model(table):
    labs, notes, frame, y = table
    reference = _proba({"labs": labs, "notes": notes}, y)
    arr = frame.to_numpy()
    prefixed = frame.set_axis(
        ["labs__hb", "labs__wbc", "labs__crp", "notes__svd0", "notes__svd1"], axis=1
    )
    forms = {
        "slicedict": (SliceDict(labs=labs, notes=notes), {}),
        "frame_names": (
            frame,
            {"modalities": {"labs": ["hb", "wbc", "crp"], "notes": ["svd0", "svd1"]}},
        ),
        "frame_label_slice": (
            frame,
            {"modalities": {"labs": slice("hb", "crp"), "notes": slice("svd0", None)}},
        ),
        "array_indices": (arr, {"modalities": {"labs": [0, 1, 2], "notes": [3, 4]}}),
        "array_slices": (arr, {"modalities": {"labs": slice(0, 3), "notes": slice(3, 5)}}),
        "array_masks": (
            arr,
            {"modalities": {"labs": np.arange(5) < 3, "notes": np.arange(5) >= 3}},
        ),
        "prefixes": (prefixed, {}),
    }
    for name, (X, params) in forms.items():
        np.testing.assert_array_equal(_proba(X, y, **params), reference, err_msg=name)


def test_prefix_inference_keeps_first_seen_order(table):
    labs, notes, frame, y = table
    prefixed = pd.DataFrame(
        {"notes__a": notes[:, 0], "labs__x": labs[:, 0], "notes__b": notes[:, 1]}
    )
    clf = I2MoEClassifier(**SMALL).fit(prefixed, y)
    assert clf.modalities_ == {"notes": 2, "labs": 1}
    assert clf.feature_names_in_.tolist() == ["notes__a", "labs__x", "notes__b"]
    assert clf.n_features_in_ == 3


def test_fitted_on_an_array_a_dataframe_is_taken_by_position_with_sklearns_warning(table):
    # a TypeError before, though fitted on a DataFrame an array only warns, as in scikit-learn
    # (a pipeline whose steps output pandas after set_config; audit helper-67 G2)
    _, _, frame, y = table
    positions = {"labs": [0, 1, 2], "notes": slice(3, 5)}
    clf = I2MoEClassifier(**SMALL, modalities=positions).fit(frame.to_numpy(), y)
    with pytest.warns(UserWarning, match="X has feature names, but I2MoEClassifier was fitted "):
        from_frame = clf.predict_proba(frame)
    np.testing.assert_array_equal(from_frame, clf.predict_proba(frame.to_numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # integer labels are no feature names: no warning
        clf.predict_proba(frame.set_axis(range(5), axis=1))
    with pytest.raises(ValueError, match="X has 4 features, but I2MoEClassifier is expecting 5"):
        clf.predict_proba(frame.iloc[:, :4])


def test_plain_array_is_one_modality(table):
    labs, _, _, y = table
    with pytest.warns(
        UserWarning, match=r"one modality \('x'\).*modalities=\{name: columns\}"
    ) as rec:
        warnings.simplefilter("always")
        clf = I2MoEClassifier(**SMALL).fit(labs, y)
    # once, not again for each fit of the cross-fitted temperature (60 rows: the fallback)
    assert len([w for w in rec if "one modality" in str(w.message)]) == 1
    assert clf.modalities_ == {"x": 3}
    assert clf.expert_names_ == ["uniqueness[x]", "synergy", "redundancy"]
    assert not hasattr(clf, "feature_names_in_")


def test_dataframe_sets_feature_names_and_checks_them(table):
    _, _, frame, y = table
    spec = {"labs": ["hb", "wbc", "crp"], "notes": ["svd0", "svd1"]}
    clf = I2MoEClassifier(**SMALL, modalities=spec).fit(frame, y)
    assert clf.feature_names_in_.tolist() == list(frame.columns)
    with pytest.raises(ValueError, match="unexpected \\['HB'\\]"):
        clf.predict(frame.rename(columns={"hb": "HB"}))
    with pytest.raises(ValueError, match="another order"):
        clf.predict(frame[["wbc", "hb", "crp", "svd0", "svd1"]])
    with pytest.raises(ValueError, match="missing \\['crp'\\]"):
        clf.predict(frame.drop(columns="crp"))
    with pytest.raises(TypeError, match="without column names|2-D table"):
        clf.predict({"labs": frame.iloc[:, :3]})


def test_multiindex_columns_are_selected_by_their_tuples(table):
    labs, notes, frame, y = table
    reference = _proba({"labs": labs, "notes": notes}, y)
    deep = frame.set_axis(
        pd.MultiIndex.from_tuples([("t", c, 0) for c in frame.columns]), axis=1
    )  # three levels: read only through modalities=
    tuples = {
        "labs": [("t", "hb", 0), ("t", "wbc", 0), ("t", "crp", 0)],
        "notes": [("t", "svd0", 0), ("t", "svd1", 0)],
    }
    np.testing.assert_array_equal(_proba(deep, y, modalities=tuples), reference)


def test_integer_column_names_are_no_feature_names(table, recwarn):
    labs, notes, frame, y = table
    positions = {"labs": [0, 1, 2], "notes": [3, 4]}
    numbered = frame.set_axis(range(5), axis=1)
    clf = I2MoEClassifier(**SMALL, modalities=positions).fit(numbered, y)
    assert not hasattr(clf, "feature_names_in_")  # as scikit-learn's estimators
    recwarn.clear()
    np.testing.assert_array_equal(
        clf.predict_proba(numbered.to_numpy()), clf.predict_proba(numbered)
    )
    assert not [w for w in recwarn if "feature names" in str(w.message)]
    with pytest.raises(ValueError, match="another order"):  # a DataFrame's names still count
        clf.predict(numbered[[1, 0, 2, 3, 4]])


def test_positions_that_also_label_other_columns_are_refused_as_ambiguous(table):
    labs, notes, frame, y = table
    positions = {"labs": [0, 1, 2], "notes": [3, 4]}
    # before: read as positions without a word, which selects other columns than labels 0-2
    shuffled = frame.set_axis([3, 2, 1, 0, 4], axis=1)
    ambiguous = r"'labs' selects \[0, 1, 2\]: .* but \[0, 1, 2\] also label"
    with pytest.raises(ValueError, match=ambiguous):
        I2MoEClassifier(**SMALL, modalities=positions).fit(shuffled, y)
    # labels that are positions elsewhere are none of the selector's: no ambiguity
    shifted = frame.set_axis([10, 11, 12, 13, 14], axis=1)
    np.testing.assert_array_equal(
        _proba(shifted, y, modalities=positions), _proba({"labs": labs, "notes": notes}, y)
    )


def test_positions_on_repeated_integer_labels_are_positions(table):
    labs, notes, frame, y = table
    # pd.concat of unnamed frames: labels [0, 1, 2, 0, 1] name no one column, so positions
    # are the only reading (refused as ambiguous by the first version of the check)
    concat = pd.concat([pd.DataFrame(labs), pd.DataFrame(notes)], axis=1)
    np.testing.assert_array_equal(
        _proba(concat, y, modalities={"labs": [0, 1, 2], "notes": [3, 4]}),
        _proba({"labs": labs, "notes": notes}, y),
    )


def test_a_file_fitted_before_the_ambiguity_check_still_loads(table, tmp_path, monkeypatch):
    import sk_i2moe._modalities as modalities_module
    from sk_i2moe import load

    labs, notes, frame, y = table
    shuffled = frame.set_axis([3, 2, 1, 0, 4], axis=1)
    positions = {"labs": [0, 1, 2], "notes": [3, 4]}
    with monkeypatch.context() as patch:  # as an earlier version fitted it
        patch.setattr(modalities_module, "_refuse_labels_read_as_positions", lambda *a: None)
        clf = I2MoEClassifier(**SMALL, modalities=positions).fit(shuffled, y)
        clf.save(tmp_path / "earlier.i2moe")
    # before: "its metadata disagrees with itself ... not written by sk_i2moe's save()"
    loaded = load(tmp_path / "earlier.i2moe")
    np.testing.assert_array_equal(loaded.predict_proba(shuffled), clf.predict_proba(shuffled))


def test_mapping_values_may_be_dataframes(table):
    labs, notes, _, y = table
    X = {"labs": pd.DataFrame(labs), "notes": notes}
    np.testing.assert_array_equal(_proba(X, y), _proba({"labs": labs, "notes": notes}, y))


def test_a_one_modality_fit_says_its_weights_are_not_interactions(table, recwarn):
    labs, notes, _, y = table
    with pytest.warns(UserWarning, match=r"one modality \('labs'\)") as record:
        I2MoEClassifier(**SMALL).fit({"labs": labs}, y)
    assert "prefixes" not in str(record[0].message)  # a mapping: the user chose one modality
    recwarn.clear()
    I2MoEClassifier(**SMALL).fit({"labs": labs, "notes": notes}, y)
    assert not [w for w in recwarn if "one modality" in str(w.message)]


def test_names_and_row_labels_handed_out_are_copies_of_the_callers_index():
    # pandas keeps an Index's labels in a writeable object array: handing it out would let an
    # edit of feature_names_in_ or of an explanation's sample_ids rename the caller's table
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(40, 4)), columns=["a__x", "a__y", "b__x", "b__y"])
    df.index = [f"patient{i}" for i in range(40)]
    clf = I2MoEClassifier(**SMALL, n_members=1).fit(df, (df["a__x"] > 0).astype(int))
    clf.explain(df).sample_ids[0] = "anonymised"
    clf.feature_names_in_[0] = "renamed"  # (the model's own columns: as scikit-learn's)
    assert list(df.columns) == ["a__x", "a__y", "b__x", "b__y"]
    assert df.index[0] == "patient0"


def test_object_columns_of_numbers_are_read_as_numbers(table):
    # as an object array with modalities= and as scikit-learn: a DataFrame's object column of
    # numbers (None/pd.NA a missing value) is not refused as "non-numeric"
    labs, notes, frame, y = table
    prefixed = frame.set_axis(
        ["labs__hb", "labs__wbc", "labs__crp", "notes__svd0", "notes__svd1"], axis=1
    )
    as_objects = prefixed.astype({"notes__svd1": object, "labs__hb": object})
    np.testing.assert_array_equal(_proba(as_objects, y), _proba(prefixed, y))
    with_absent = as_objects.copy()
    with_absent.loc[:4, ["notes__svd0", "notes__svd1"]] = [np.nan, None]
    reference = prefixed.copy()
    reference.loc[:4, ["notes__svd0", "notes__svd1"]] = np.nan
    np.testing.assert_array_equal(_proba(with_absent, y), _proba(reference, y))
    # a nullable column made object holds pd.NA; NaT is missing too; both paths read them alike
    nullable = reference.astype({"notes__svd0": "Float64"}).astype({"notes__svd0": object})
    nullable["notes__svd1"] = (
        reference["notes__svd1"].astype(object).where(np.arange(len(y)) >= 5, pd.NaT)
    )
    assert nullable.loc[0, "notes__svd0"] is pd.NA
    np.testing.assert_array_equal(_proba(nullable, y), _proba(reference, y))
    by_position = {"labs": [0, 1, 2], "notes": [3, 4]}
    np.testing.assert_array_equal(
        _proba(nullable.to_numpy(dtype=object), y, modalities=by_position),
        _proba(reference.to_numpy(), y, modalities=by_position),
    )
    for when in (pd.Timestamp("2026-01-01"), np.datetime64("2026-01-01"), np.timedelta64(1, "D")):
        dated = as_objects.copy()
        dated["notes__svd1"] = pd.Series([when] * len(dated), dtype=object)
        with pytest.raises(TypeError, match="'notes' must hold real numbers; its object values"):
            _proba(dated, y)


def test_polars_frames_read_as_pandas_frames(table):
    # scikit-learn transformers output polars with set_output(transform="polars"): prefixes,
    # feature names and their checks as for pandas (it was read as one bare array 'x')
    pl = pytest.importorskip("polars")
    labs, notes, frame, y = table
    names = ["labs__hb", "labs__wbc", "labs__crp", "notes__svd0", "notes__svd1"]
    prefixed = frame.set_axis(names, axis=1)
    polars_frame = pl.DataFrame({c: prefixed[c].to_numpy() for c in names})
    model = I2MoEClassifier(**SMALL).fit(polars_frame, y)
    assert model.modalities_ == {"labs": 3, "notes": 2}
    assert model.feature_names_in_.tolist() == names
    reference = _proba(prefixed, y)
    np.testing.assert_array_equal(model.predict_proba(polars_frame), reference)
    np.testing.assert_array_equal(model.predict_proba(prefixed), reference)
    with pytest.raises(ValueError, match="same names in another order"):
        model.predict_proba(polars_frame.select(names[::-1]))
    by_name = {"labs": names[:3], "notes": names[3:]}
    np.testing.assert_array_equal(_proba(polars_frame, y, modalities=by_name), reference)
    split = {"labs": polars_frame.select(names[:3]), "notes": polars_frame.select(names[3:])}
    np.testing.assert_array_equal(
        _proba(split, y), _proba({"labs": prefixed[names[:3]], "notes": prefixed[names[3:]]}, y)
    )
    # a missing value of a number column is NaN: a row without its notes is absent there
    absent = polars_frame.with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(None).otherwise(pl.col(c)).alias(c)
        for c in names[3:]
    )
    gappy = prefixed.copy()
    gappy.loc[:4, names[3:]] = np.nan
    np.testing.assert_array_equal(_proba(absent, y), _proba(gappy, y))
    # beside a pandas frame indexed by patient, a polars frame is paired by position
    ids = pd.Index([f"P{i}" for i in range(len(y))])
    mixed = {"labs": prefixed[names[:3]].set_axis(ids), "notes": split["notes"]}
    np.testing.assert_array_equal(
        _proba(mixed, y), _proba({"labs": prefixed[names[:3]], "notes": prefixed[names[3:]]}, y)
    )
    with pytest.raises(TypeError, match=r"X is a polars LazyFrame.*\.collect\(\)"):
        _proba(polars_frame.lazy(), y)
    with pytest.raises(TypeError, match="Modality 'notes' is a polars LazyFrame"):
        _proba({**split, "notes": split["notes"].lazy()}, y)
    pair = pl.concat_list("notes__svd0", "notes__svd1").cast(pl.Array(pl.Float64, 2))
    nested = polars_frame.with_columns(pair.alias("x__v"))
    with pytest.raises(TypeError, match="Column 'x__v' of the polars DataFrame holds nested"):
        _proba(nested, y)


def test_warnings_point_at_the_callers_line(table, tmp_path):
    # the same checks run at different depths under fit, predict, predict_proba, explain and
    # save: each warning is attributed to the line that called the estimator (module filters
    # and Python's once-per-location rule key on it), not to a line inside the package
    from skorch.callbacks import EpochScoring

    labs, notes, frame, y = table
    prefixed = frame.set_axis(
        ["labs__hb", "labs__wbc", "labs__crp", "notes__svd0", "notes__svd1"], axis=1
    )
    model = I2MoEClassifier(**SMALL).fit(prefixed, y)
    one = I2MoEClassifier(**SMALL, callbacks=[EpochScoring("accuracy")])
    calls = {
        "fit": lambda: one.fit(labs, y),
        "predict": lambda: model.predict(prefixed.to_numpy()),
        "predict_proba": lambda: model.predict_proba(prefixed.to_numpy()),
        "explain": lambda: model.explain(prefixed.to_numpy()),
        "save": lambda: one.save(tmp_path / "one.safetensors"),
    }
    for name, call in calls.items():
        with pytest.warns(UserWarning) as record:
            call()
        assert {w.filename for w in record} == {__file__}, name


def test_a_doctest_example_is_the_caller_of_a_warning():
    # a doctest's examples run with a package module's globals: the example, not doctest's
    # own line, is where the warning comes from (by file, not module name)
    import sk_i2moe._modalities as modalities

    code = compile("_warn_if_one_modality(('a',), table=False)", "<doctest example>", "exec")
    with pytest.warns(UserWarning, match="one modality") as record:
        exec(code, dict(vars(modalities)))
    assert [w.filename for w in record] == ["<doctest example>"]


def test_a_ragged_modality_and_a_signalling_nan_are_named():
    # numpy's "inhomogeneous shape" error and decimal.InvalidOperation named no modality
    import decimal

    y = np.arange(4) % 2
    ragged = [[1.0, 2.0], [3.0, 4.0], [5.0], [6.0, 7.0]]
    with pytest.raises(ValueError, match="Modality 'labs' must be a 2-D array .* cannot form"):
        I2MoEClassifier(**SMALL).fit({"labs": ragged, "notes": np.ones((4, 2))}, y)
    values = np.array(
        [[1.0, 2.0], [decimal.Decimal("sNaN"), 1.0], [3.0, 4.0], [5.0, 6.0]], dtype=object
    )
    with pytest.raises(ValueError, match=r"Modality 'labs' holds a signalling NaN Decimal"):
        I2MoEClassifier(**SMALL).fit({"labs": values, "notes": np.ones((4, 2))}, y)
