"""Wrong input fails with a clear error naming the culprit; nothing is silently changed."""

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import clone

from sk_i2moe import I2MoEClassifier
from sk_i2moe._modalities import ModalitySpec

SMALL = {"max_epochs": 1, "hidden_dim": 8, "n_tokens": 2, "batch_size": 16, "random_state": 0}


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = {"labs": rng.normal(size=(40, 3)), "notes": rng.normal(size=(40, 2))}
    y = np.arange(40) % 2
    return I2MoEClassifier(**SMALL).fit(X, y), X, y


def _fit(X, y=None, **params):
    y = np.arange(len(next(iter(X.values())))) % 2 if y is None else y
    return I2MoEClassifier(**{**SMALL, **params}).fit(X, y)


def test_missing_or_extra_modality_at_predict(fitted):
    clf, X, _ = fitted
    with pytest.raises(ValueError, match=r"missing \['notes'\], unexpected \[\]"):
        clf.predict({"labs": X["labs"]})
    with pytest.raises(ValueError, match=r"missing \[\], unexpected \['codes'\]"):
        clf.predict({**X, "codes": X["labs"]})


def test_feature_count_changed(fitted):
    clf, X, _ = fitted
    with pytest.raises(ValueError, match="Modality 'notes' has 3 features, but .* fitted with 2"):
        clf.predict_proba({"labs": X["labs"], "notes": np.ones((40, 3))})


def test_different_sample_counts():
    with pytest.raises(ValueError, match=r"same number of samples; got \{'a': 10, 'b': 9\}"):
        _fit({"a": np.ones((10, 2)), "b": np.ones((9, 2))})


def test_empty_modality_and_zero_samples():
    with pytest.raises(ValueError, match="Modality 'b' has 0 feature"):
        _fit({"a": np.ones((10, 2)), "b": np.ones((10, 0))})
    with pytest.raises(ValueError, match="Modality 'a' has 0 sample"):
        _fit({"a": np.ones((0, 2))}, y=np.array([]))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e39])
def test_inf_names_modality(bad):
    b = np.ones((10, 2))
    b[3, 1] = bad
    with pytest.raises(ValueError, match="Modality .b. contains inf .1 values"):
        _fit({"a": np.ones((10, 2)), "b": b})


def test_partial_nan_names_modality_rows_and_suggests_imputer():
    b = np.ones((10, 3))
    b[3, 1] = b[7, 0] = np.nan
    expected = (
        r"Modality .b. has NaN in some but not all .* 2 row\(s\) .*positions \[3, 7\].*Imputer"
    )
    with pytest.raises(ValueError, match=expected):
        _fit({"a": np.ones((10, 2)), "b": b})
    # a DataFrame's row labels too, as the error on rows without any modality gives them
    frame = pd.DataFrame(b, index=[f"pt-{i}" for i in range(10)])
    with pytest.raises(ValueError, match=r"positions \[3, 7\] \(index \['pt-3', 'pt-7'\]\)"):
        _fit({"a": np.ones((10, 2)), "b": frame})
    # and the columns with the gaps (a lab never measured was not named before)
    with pytest.raises(
        ValueError, match=r"; NaN in the modality's columns at positions \[0, 1\]\)"
    ):
        _fit({"a": np.ones((10, 2)), "b": b})
    with pytest.raises(ValueError, match=r"; NaN in columns \['hb', 'crp'\]\)"):
        _fit({"a": np.ones((10, 2)), "b": frame.set_axis(["hb", "crp", "wbc"], axis=1)})


def test_partial_nan_at_predict(fitted):
    clf, X, _ = fitted
    notes = X["notes"].copy()
    notes[0, 0] = np.nan
    with pytest.raises(ValueError, match="Modality 'notes' has NaN in some but not all"):
        clf.predict({"labs": X["labs"], "notes": notes})


def test_column_wise_tools_on_absent_modalities_are_sent_to_modality_importance():
    from sklearn.inspection import permutation_importance

    from sk_i2moe.inspection import modality_importance

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a__x", "b__y", "b__z"])
    frame.iloc[::5, 1:] = np.nan  # modality b absent in every fifth row: valid input
    y = np.arange(40) % 2
    clf = I2MoEClassifier(**SMALL).fit(frame, y)
    with pytest.raises(ValueError, match="one column at a time.*modality_importance"):
        permutation_importance(clf, frame, y, n_repeats=1, random_state=0)
    assert list(modality_importance(clf, frame, y, n_repeats=1).index) == ["a", "b"]


def test_rows_with_every_modality_absent_are_named():
    a, b = np.ones((10, 2)), np.ones((10, 3))
    a[[2, 5]] = b[[2, 5]] = np.nan
    expected = r"2 row\(s\) have every modality absent .*positions \[2, 5\];"
    with pytest.raises(ValueError, match=expected):
        _fit({"a": a, "b": b})
    index = pd.Index([f"pt{i:03d}" for i in range(10)])
    frame = pd.concat(
        {"a": pd.DataFrame(a, index=index), "b": pd.DataFrame(b, index=index)}, axis=1
    )
    named = r"positions \[2, 5\] \(index \['pt002', 'pt005'\]\)"
    with pytest.raises(ValueError, match=named):
        _fit({"a": frame["a"], "b": frame["b"]})  # a mapping of DataFrames
    with pytest.raises(ValueError, match=named):
        _fit(frame, y=np.arange(10) % 2)  # one table with MultiIndex columns


def test_a_modality_absent_in_every_training_row_is_refused():
    b = np.full((10, 2), np.nan)
    with pytest.raises(ValueError, match="Modality 'b' is absent .* in every training row"):
        _fit({"a": np.ones((10, 2)), "b": b})


def test_absent_modalities_can_be_refused(fitted):
    clf, X, _ = fitted
    notes = X["notes"].copy()
    notes[:3] = np.nan
    strict = clone(clf).set_params(allow_missing_modalities=False)
    with pytest.raises(ValueError, match=r"absent \(all NaN\) in some rows: \{'notes': 3\}"):
        strict.fit({"labs": X["labs"], "notes": notes}, np.arange(len(notes)) % 2)


def test_non_numeric_columns():
    frame = pd.DataFrame({"x": np.arange(10.0), "sex": ["f", "m"] * 5})
    with pytest.raises(TypeError, match=r"Modality 'demo' has non-numeric columns \['sex'\]"):
        _fit({"demo": frame})
    prefixed = pd.DataFrame({"demo__x": np.arange(10.0), "demo__sex": ["f", "m"] * 5})
    with pytest.raises(TypeError, match="non-numeric columns .*make_modality_transformer"):
        I2MoEClassifier(**SMALL).fit(prefixed, np.arange(10) % 2)
    # dates were told to use a OneHotEncoder, None to "flatten it"
    dated = frame.assign(sex=pd.date_range("2020-01-01", periods=10))
    with pytest.raises(TypeError, match=r"Make dates and durations numbers first"):
        _fit({"demo": dated})
    with pytest.raises(ValueError, match=r"got NoneType .* Give the modality's"):
        _fit({"demo": frame[["x"]], "other": None})
    with pytest.raises(TypeError, match="Modality 'c' must hold real numbers"):
        _fit({"c": np.array([["a", "b"]] * 10, dtype=object)})
    # numbers stored as text are text: NumPy would parse them without a word
    with pytest.raises(TypeError, match=r"Modality 'c' .* holds text \(e.g. '1.5'\)"):
        _fit({"c": np.array([[0.5, "1.5"]] * 10, dtype=object)})
    with pytest.raises(ValueError, match="Modality 'c' must hold real numbers.*Complex data"):
        _fit({"c": np.ones((10, 2), dtype=complex)})
    # as a DataFrame too (it was cut to its real part), and with repeated column names
    with pytest.raises(ValueError, match="Modality 'c' must hold real numbers.*Complex data"):
        _fit({"c": pd.DataFrame(np.full((10, 2), 1 + 2j))})
    repeated = pd.DataFrame([["f", "m"]] * 10, columns=["sex", "sex"])
    with pytest.raises(TypeError, match=r"non-numeric columns \['sex', 'sex'\]"):
        _fit({"demo": repeated})


def test_masked_arrays_are_refused_with_the_nan_convention():
    # np.asarray drops the mask: the hidden values would be read as measurements
    masked = np.ma.masked_array(np.ones((10, 2)), mask=np.zeros((10, 2), dtype=bool))
    masked.mask[3] = True
    with pytest.raises(TypeError, match="Modality 'c' is a masked array.*np.ma.filled"):
        _fit({"c": masked, "d": np.ones((10, 2))})
    with pytest.raises(TypeError, match="is a masked array"):
        I2MoEClassifier(**SMALL).fit(masked, np.arange(10) % 2)


def test_a_modality_given_as_none_says_how_to_mark_it_absent():
    X = {"a": np.ones((10, 2)), "b": None}
    with pytest.raises(ValueError, match="got NoneType.*rows of NaN in it") as info:
        _fit(X, y=np.arange(10) % 2)
    assert "leave its key out" not in str(info.value)  # refused at prediction


@pytest.mark.parametrize("shape", [(10,), (10, 2, 2)])
def test_wrong_dimensionality(shape):
    with pytest.raises(ValueError, match=f"Modality 'a' must be a 2-D array .*{len(shape)} dim"):
        _fit({"a": np.ones(shape)}, y=np.arange(10) % 2)
    with pytest.raises(ValueError, match="X must be 2-D"):
        I2MoEClassifier(**SMALL).fit(np.ones(shape), np.arange(10) % 2)


def test_y_problems():
    X = {"a": np.random.default_rng(0).normal(size=(10, 2))}
    with pytest.raises(ValueError, match=r"only one class \(0.0\)"):  # np.float64(0.0) before
        _fit(X, y=np.zeros(10))
    with pytest.raises(ValueError, match="y has 9 samples but X has 10"):
        _fit(X, y=np.arange(9) % 2)
    with pytest.raises(ValueError, match="Unknown label type"):
        _fit(X, y=np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match=r"y has missing labels .* at rows \[0\]"):
        _fit(X, y=np.r_[np.nan, np.arange(9) % 2])
    labels = np.array(["a", "b"] * 5, dtype=object)
    # before: "'<' not supported between 'float' and 'str'", "Unknown label type: unknown",
    # "boolean value of NA is ambiguous"
    for missing in (
        pd.Series(labels, dtype="category").where(np.arange(10) != 3),
        np.where(np.arange(10) == 3, None, labels),
        pd.Series(labels, dtype="string").where(np.arange(10) != 3, pd.NA),
    ):
        with pytest.raises(ValueError, match=r"y has missing labels .* at rows \[3\]"):
            _fit(X, y=missing)
    # the caller's row, also when rows of weight 0 come first (row 1 was named before)
    with pytest.raises(ValueError, match=r"y has missing labels .* at rows \[3\]"):
        I2MoEClassifier(**SMALL).fit(X, missing, sample_weight=np.r_[0.0, 0.0, np.ones(8)])
    # a row of weight 0 is left out as if not given: its label may be missing
    weights = np.r_[np.ones(3), 0.0, np.ones(6)]
    fitted = I2MoEClassifier(**SMALL).fit(X, missing, sample_weight=weights)
    assert fitted.classes_.tolist() == ["a", "b"]
    dates = pd.Series(pd.date_range("2020-01-01", periods=2).repeat(5))
    with pytest.raises(ValueError, match=r"y has missing labels .* at rows \[3\]"):
        _fit(X, y=dates.where(np.arange(10) != 3))  # "warm_start cannot add classes" before


def test_a_signalling_nan_target_is_named_in_fit_and_score(fitted):
    import decimal

    from sk_i2moe import I2MoERegressor

    clf, X, y = fitted
    signalling = np.array([decimal.Decimal("sNaN"), *y[1:]], dtype=object)
    # "Unknown label type: unknown" and "argument must be an integer" before
    with pytest.raises(ValueError, match="y holds a signalling NaN"):
        _fit(X, y=signalling)
    with pytest.raises(ValueError, match="y holds a signalling NaN"):
        clf.score(X, signalling)
    reg = I2MoERegressor(**SMALL).fit(X, y.astype(float))
    # "cannot convert signaling NaN to float", naming nothing, before
    with pytest.raises(ValueError, match="y holds a signalling NaN"):
        reg.score(X, signalling)
    assert clf.score(X, list(y)) == clf.score(X, y)  # lists pass unchanged


@pytest.mark.parametrize(
    "param, value",
    [
        ("fusion", "resnet"),
        ("perturbation", "blur"),
        ("hidden_dim", 0),
        ("batch_size", 0),
        ("batch_size", "large"),
        ("max_epochs", -1),
        ("temperature", 0.0),
        ("temperature", -1.0),
        ("lr", 0.0),
        ("class_weight", "balance"),
        # bool is an int to Python, not a count: refused rather than read as 1
        ("hidden_dim", True),
        ("n_members", True),
        ("n_threads", True),
        ("batch_size", np.True_),
        ("lr", True),
        ("weight_shrinkage", True),
    ],
)
def test_invalid_parameters(param, value):
    X = {"a": np.ones((10, 2))}
    with pytest.raises(ValueError, match=f"'{param}' parameter of I2MoEClassifier must be"):
        _fit(X, **{param: value})


def test_fusion_kwargs_are_checked_against_the_backbone_and_the_estimator():
    X = {"a": np.ones((10, 2))}
    with pytest.raises(ValueError, match=r"fusion_kwargs sets \['dropout'\].* pass dropout="):
        _fit(X, fusion="transformer", fusion_kwargs={"dropout": 5.0})
    with pytest.raises(ValueError, match=r"fusion_kwargs sets \['hidden_dim'\]"):
        _fit(X, fusion_kwargs={"hidden_dim": 16})
    with pytest.raises(ValueError, match=r"\['bogus'\].*'transformer'.*\['ffn_mult'\]"):
        _fit(X, fusion="transformer", fusion_kwargs={"bogus": 1})
    with pytest.raises(ValueError, match=r"\['rank'\], which fusion='transformer' does not"):
        _fit(X, fusion="transformer", fusion_kwargs={"rank": 4})  # an option of lrtf's only
    _fit(X, fusion="transformer", fusion_kwargs={"ffn_mult": 2})  # an option of its own


def test_callbacks_must_be_skorch_callbacks():
    X = {"a": np.ones((10, 2))}
    with pytest.raises(TypeError, match="callbacks holds 'nope' \\(str\\); give skorch"):
        _fit(X, callbacks=["nope"])
    with pytest.raises(TypeError, match="a pair must be \\(name, callback\\)"):
        _fit(X, callbacks=[(1, "x")])


def test_heads_must_divide_hidden_dim():
    with pytest.raises(ValueError, match="hidden_dim=10 must be divisible by n_heads=4"):
        _fit({"a": np.ones((10, 2))}, fusion="transformer", hidden_dim=10, n_heads=4)


def test_more_tokens_than_features_is_allowed():
    X = {"a": np.random.default_rng(0).normal(size=(20, 2))}
    clf = _fit(X, n_tokens=5, n_members=1)  # one mixture's encoders
    assert clf.net_.module_.encoders[0].pad == 3
    assert clf.predict_proba(X).shape == (20, 2)


def test_diverging_training_stops_with_advice():
    X = {"a": np.random.default_rng(0).normal(size=(64, 3)) * 100}
    with pytest.raises(ValueError, match="lower the learning rate"):
        _fit(X, lr=1e30, max_epochs=5, standardize=False)


def test_sample_weight_errors():
    X = {"a": np.ones((10, 2))}
    with pytest.raises(ValueError, match="sample_weight must have shape \\(10,\\)"):
        I2MoEClassifier(**SMALL).fit(X, np.arange(10) % 2, sample_weight=np.ones(9))
    with pytest.raises(ValueError, match="negative"):
        I2MoEClassifier(**SMALL).fit(X, np.arange(10) % 2, sample_weight=-np.ones(10))
    for bad in (np.r_[np.nan, np.ones(9)], np.r_[np.inf, np.ones(9)]):
        with pytest.raises(ValueError, match="sample_weight contains NaN or inf"):
            I2MoEClassifier(**SMALL).fit(X, np.arange(10) % 2, sample_weight=bad)
    with pytest.raises(TypeError, match="sample_weight must be numeric; got dtype <U1"):
        I2MoEClassifier(**SMALL).fit(X, np.arange(10) % 2, sample_weight=np.array(["1"] * 10))
    with pytest.raises(ValueError, match="sample_weight is all zero"):
        I2MoEClassifier(**SMALL).fit(X, np.arange(10) % 2, sample_weight=np.zeros(10))
    # a positive weight float32 held as 0 left its row out of the fit like a weight of 0,
    # silently: a missing label on it passed; the row now stays in, so it is refused
    labels = np.array(["a", "b"] * 5, dtype=object)
    labels[0] = None
    tiny = np.r_[1e-300, np.ones(9)]
    with pytest.raises(ValueError, match="missing"):
        I2MoEClassifier(**SMALL).fit(X, labels, sample_weight=tiny)


def test_modalities_spec_errors():
    frame = pd.DataFrame(np.ones((10, 3)), columns=["a", "b", "c"])
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=r"Columns \['c'\] belong to no modality"):
        I2MoEClassifier(**SMALL, modalities={"m": ["a", "b"]}).fit(frame, y)
    with pytest.raises(ValueError, match=r"Columns \['b'\] are assigned to more than one"):
        I2MoEClassifier(**SMALL, modalities={"m": ["a", "b"], "n": ["b", "c"]}).fit(frame, y)
    with pytest.raises(ValueError, match=r"names columns \['z'\] that are not in X"):
        I2MoEClassifier(**SMALL, modalities={"m": ["a", "b", "z"]}).fit(frame, y)
    with pytest.raises(TypeError, match="NumPy array without column names"):
        I2MoEClassifier(**SMALL, modalities={"m": ["a"]}).fit(frame.to_numpy(), y)
    with pytest.raises(ValueError, match="modalities= selects columns .* Set modalities=None"):
        I2MoEClassifier(**SMALL, modalities={"m": [0]}).fit({"m": np.ones((10, 1))}, y)
    mixed = pd.DataFrame(np.ones((10, 2)), columns=["labs__a", "b"])
    with pytest.raises(ValueError, match=r"columns \['b'\] have no 'modality__' prefix"):
        I2MoEClassifier(**SMALL).fit(mixed, y)


def test_column_names_are_looked_up_as_given():
    y = np.arange(10) % 2
    twice = pd.DataFrame(np.ones((10, 3)), columns=["a", "a", "b"])
    with pytest.raises(ValueError, match=r"names columns \['a'\] that X has more than once"):
        I2MoEClassifier(**SMALL, modalities={"m": ["a"], "n": ["b"]}).fit(twice, y)
    # positions say which column is meant
    I2MoEClassifier(**SMALL, modalities={"m": [0, 1], "n": [2]}).fit(twice, y)
    # names of several types are not turned into strings
    mixed = pd.DataFrame(np.ones((10, 3)), columns=["a", "b", 2])
    clf = I2MoEClassifier(**SMALL, modalities={"m": ["a", 2], "n": ["b"]}).fit(mixed, y)
    assert clf.modalities_ == {"m": 2, "n": 1}
    with pytest.raises(ValueError, match=r"names columns \['2'\] that are not in X"):
        I2MoEClassifier(**SMALL, modalities={"m": ["a", "2"], "n": ["b"]}).fit(mixed, y)
    levels = pd.DataFrame(
        np.ones((10, 3)), columns=pd.MultiIndex.from_tuples([("g", "x"), ("g", "y"), ("h", "z")])
    )
    with pytest.raises(ValueError, match="named by its full tuple of 2 levels"):
        I2MoEClassifier(**SMALL, modalities={"m": ["g"], "n": [("h", "z")]}).fit(levels, y)
    with pytest.raises(TypeError, match=r"Modality 'm' selects columns by \[\['g', 'x'\]\]"):
        I2MoEClassifier(**SMALL, modalities={"m": [["g", "x"]], "n": [2]}).fit(levels, y)
    # a column named once among repeated ones is still one column
    repeated = levels.set_axis(
        pd.MultiIndex.from_tuples([("g", "x"), ("g", "x"), ("h", "z")]), axis=1
    )
    clf = I2MoEClassifier(**SMALL, modalities={"m": [0, 1], "n": [("h", "z")]}).fit(repeated, y)
    assert clf.modalities_ == {"m": 2, "n": 1}
    # a tuple of integers that is also a column: which one is meant is asked, not guessed
    numbered = levels.set_axis(pd.MultiIndex.from_tuples([(0, 0), (0, 1), (1, 0)]), axis=1)
    with pytest.raises(ValueError, match=r"\(0, 1\), which is both a column .* and a tuple"):
        I2MoEClassifier(**SMALL, modalities={"m": (0, 1), "n": [2]}).fit(numbered, y)


# -- property tests of the conversion -------------------------------------------------------
KNOWN_ERRORS = (
    "must be a 2-D array",
    "0 feature",
    "0 sample",
    "contains inf",
    "NaN in some but not all",
    "have every modality absent",
    "same number of samples",
    "must hold real numbers",
    "non-empty strings",
)

dtypes = st.sampled_from(
    [
        np.float32,
        np.float64,
        np.int8,
        np.int64,
        np.uint16,
        np.bool_,
        np.complex64,
        "datetime64[s]",
        "U3",
        object,
    ]
)


@st.composite
def modality_arrays(draw):
    dtype = draw(dtypes)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    if dtype is object:
        return np.array(
            draw(
                st.lists(
                    st.one_of(st.floats(), st.text(max_size=2)),
                    min_size=int(np.prod(shape)),
                    max_size=int(np.prod(shape)),
                )
            ),
            dtype=object,
        ).reshape(shape)
    return draw(hnp.arrays(np.dtype(dtype), shape))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.text(max_size=3), st.integers()), modality_arrays(), min_size=1, max_size=3
    )
)
def test_conversion_is_exact_or_a_known_error(X):
    try:
        spec, data = ModalitySpec.from_input(X, None, "I2MoEClassifier")
    except (ValueError, TypeError) as err:
        assert any(msg in str(err) for msg in KNOWN_ERRORS), str(err)
        return
    assert list(data) == list(X)  # nothing dropped or reordered
    for name, arr in data.items():
        original = np.asarray(X[name])
        assert not any(isinstance(v, str) for v in original.flat)  # text is never parsed
        assert arr.dtype == np.float32 and arr.shape == original.shape
        assert not np.isinf(arr).any()
        # NaN only as whole absent rows, every other value exact
        nan = np.isnan(arr)
        assert (nan.all(axis=1) | ~nan.any(axis=1)).all()
        np.testing.assert_array_equal(arr, original.astype(np.float64).astype(np.float32))
    assert spec.transform(X).keys() == data.keys()


@st.composite
def valid_mappings(draw):
    """2-4 modalities of one row count, absent rows (all NaN) but none without any modality."""
    n = draw(st.integers(2, 6))
    names = draw(
        st.lists(
            st.text(alphabet="abcdefgXYZ_", min_size=1, max_size=3).filter(lambda k: "__" not in k),
            min_size=2,
            max_size=4,
            unique=True,
        )
    )
    X = {}
    for name in names:
        dtype = draw(st.sampled_from([np.float32, np.float64, np.int16, np.int64]))
        shape = (n, draw(st.integers(1, 3)))
        elements = st.floats(-1e6, 1e6, width=32) if dtype in (np.float32, np.float64) else None
        X[name] = draw(hnp.arrays(np.dtype(dtype), shape, elements=elements)).astype(np.float64)
    absent = draw(hnp.arrays(bool, (n, len(names))))
    absent[np.arange(n), draw(hnp.arrays(np.int64, n, elements=st.integers(0, len(names) - 1)))] = (
        False
    )
    for m, name in enumerate(names):
        X[name][absent[:, m]] = np.nan
    return X, absent


@settings(max_examples=60, deadline=None)
@given(valid_mappings())
def test_valid_mappings_are_converted_exactly_in_order(case):
    # the test above almost never converted (2 of 200 examples, one modality, no absent row)
    X, absent = case
    spec, data = ModalitySpec.from_input(X, None, "I2MoEClassifier")
    assert list(data) == list(X)  # nothing dropped or reordered
    for m, (name, arr) in enumerate(data.items()):
        assert arr.dtype == np.float32 and arr.shape == X[name].shape
        np.testing.assert_array_equal(np.isnan(arr).all(axis=1), absent[:, m])
        np.testing.assert_array_equal(arr, X[name].astype(np.float32))  # NaN equal to NaN
    assert list(spec.transform(X)) == list(X)


def test_a_float64_default_dtype_is_named_at_fit_and_load(tmp_path, monkeypatch):
    from sk_i2moe import load

    clf = _fit({"a": np.ones((10, 2)), "b": np.ones((10, 3))})
    clf.save(tmp_path / "model.i2moe")
    monkeypatch.setattr(torch, "get_default_dtype", lambda: torch.float64)
    message = r"default dtype is torch.float64 .*set_default_dtype\(torch.float32\)"
    with pytest.raises(RuntimeError, match=message):
        _fit({"a": np.ones((10, 2)), "b": np.ones((10, 3))})
    with pytest.raises(RuntimeError, match=message):
        load(tmp_path / "model.i2moe")
