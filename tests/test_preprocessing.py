"""preprocessing.make_modality_transformer: mixed-type tables into the intended modalities."""

import decimal

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

from sk_i2moe import I2MoEClassifier
from sk_i2moe.preprocessing import KeepAbsentRows, make_modality_transformer


def _clinical(n=120, seed=0):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n),
            "sex": rng.choice(["f", "m"], n),
            "tumour_size": rng.gamma(2.0, 1.0, n),
            "grade": pd.Categorical(rng.choice(["I", "II", "III"], n)),
            "chemo": rng.choice(["yes", "no"], n),
            "dose": rng.normal(50, 5, n),
        }
    )
    table.loc[rng.random(n) < 0.1, "age"] = np.nan
    table.loc[rng.random(n) < 0.1, "sex"] = np.nan
    y = ((table["tumour_size"] > 2) ^ (table["chemo"] == "yes")).astype(int).to_numpy()
    return table, y


MODALITIES = {
    "demographics": ["age", "sex"],
    "tumour": ["tumour_size", "grade"],
    "treatment": ["chemo", "dose"],
}


def test_the_estimator_sees_the_intended_modalities():
    table, y = _clinical()
    pipe = make_pipeline(
        make_modality_transformer(MODALITIES),
        I2MoEClassifier(max_epochs=2, hidden_dim=8, n_tokens=2, random_state=0, n_threads=1),
    )
    pipe.fit(table, y)
    clf = pipe[-1]
    assert list(clf.modalities_) == ["demographics", "tumour", "treatment"]
    # age (scaled) + sex one-hot (f, m); size + grade one-hot (I, II, III); chemo (no, yes) + dose
    assert clf.modalities_ == {"demographics": 3, "tumour": 4, "treatment": 3}
    assert clf.expert_names_[:3] == [
        "uniqueness[demographics]",
        "uniqueness[tumour]",
        "uniqueness[treatment]",
    ]
    assert pipe.predict_proba(table.iloc[:5]).shape == (5, 2)
    out = pipe[0].transform(table)
    assert "demographics__num__age" in out and "tumour__cat__grade_III" in out
    # scattered NaN are imputed; a row with neither age nor sex lacks the modality
    lacking = table["age"].isna() & table["sex"].isna()
    demographics = out.filter(like="demographics__")
    assert lacking.sum() > 0 and demographics.isna().all(axis=1).equals(lacking)
    assert not demographics[~lacking].isna().any().any()
    assert not out.drop(columns=demographics.columns).isna().any().any()
    np.testing.assert_array_equal(clf.explain(out).absent[:, 0], lacking.to_numpy())


def test_absent_rows_can_be_imputed_instead():
    table, _ = _clinical()
    out = make_modality_transformer(MODALITIES, absent="impute").fit_transform(table)
    assert not out.isna().any().any()
    with pytest.raises(ValueError, match="absent must be 'keep' or 'impute'"):
        make_modality_transformer(MODALITIES, absent="drop")


def test_a_modalitys_steps_are_fitted_on_the_rows_that_have_it():
    table = pd.DataFrame({"crp": [1.0, np.nan, 3.0, np.nan], "wbc": [2.0, np.nan, 6.0, 5.0]})
    keep = KeepAbsentRows(make_pipeline(SimpleImputer(), StandardScaler())).fit(table)
    np.testing.assert_allclose(keep.transformer_[-1].mean_, [2.0, 13 / 3])
    out = keep.transform(table)
    assert np.isnan(out[1]).all() and not np.isnan(out[[0, 2, 3]]).any()
    assert keep.get_feature_names_out().tolist() == ["crp", "wbc"]
    with pytest.raises(ValueError, match=r"Every row lacks the modality \(its columns \['crp'\]"):
        KeepAbsentRows(StandardScaler()).fit(table.iloc[[1, 3]][["crp"]])


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_a_fold_without_a_modality_names_it(absent):
    # imputing would fill it with constants, and later pass real values on unscaled
    frame = pd.DataFrame({"age": [50.0, 60.0, 70.0], "crp": [np.nan, np.nan, np.nan]})
    transformer = make_modality_transformer({"demo": ["age"], "labs": ["crp"]}, absent=absent)
    with pytest.raises(ValueError, match=r"Every row lacks modality 'labs'.*stratify"):
        transformer.fit(frame)
    wide = frame.assign(**{f"x{i}": np.nan for i in range(8)})
    columns = {"demo": ["age"], "labs": ["crp", *(f"x{i}" for i in range(8))]}
    with pytest.raises(ValueError, match=r"\['crp', 'x0', 'x1', 'x2', 'x3'\] and 4 more"):
        make_modality_transformer(columns, absent=absent).fit(wide)
    # scattered gaps, and a column with no value, are still imputed
    frame.loc[0, "crp"] = 1.0
    assert make_modality_transformer({"demo": ["age"], "labs": ["crp"]}, absent=absent).fit(frame)


def test_custom_steps_are_cloned_per_modality():
    table, _ = _clinical()
    numbers = table[["age", "tumour_size", "dose"]].fillna(0.0)
    scaler = MinMaxScaler()
    transformer = make_modality_transformer(
        {"a": ["age", "tumour_size"], "b": ["dose"]}, numeric=scaler
    ).fit(numbers)
    out = transformer.transform(numbers)
    assert out.min().min() == pytest.approx(0.0) and out.max().max() == pytest.approx(1.0)
    assert not hasattr(scaler, "data_min_")  # the user's object is left unfitted
    inner = transformer.named_transformers_["a"].transformer_
    assert inner.named_transformers_["num"] is not scaler


@pytest.mark.parametrize("bad", [{}, {"": ["age"]}, {"demo__x": ["age"]}, ["age"]])
def test_bad_modality_specs_are_named(bad):
    with pytest.raises(ValueError, match="(?i)modalit"):
        make_modality_transformer(bad)


def test_absent_rows_never_reach_the_wrapped_transformer():
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import OneHotEncoder

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(10, 3)), columns=list("abc"))
    X.iloc[2] = np.nan
    out = KeepAbsentRows(make_pipeline(StandardScaler(), PCA(2))).fit(X).transform(X)
    assert (
        out.shape == (10, 2) and np.isnan(out[2]).all() and np.isfinite(np.delete(out, 2, 0)).all()
    )
    # a sparse one-hot output, and a transform of rows that all lack the modality
    codes = pd.DataFrame({"c": ["a", "b", None, "a"]})
    onehot = KeepAbsentRows(OneHotEncoder(handle_unknown="ignore")).fit(codes)
    np.testing.assert_array_equal(
        onehot.transform(codes), [[1, 0], [0, 1], [np.nan, np.nan], [1, 0]]
    )
    assert np.isnan(onehot.transform(codes.iloc[[2, 2]])).all()
    assert onehot.transform(codes.iloc[[2, 2]]).shape == (2, 2)


def test_feature_names_need_a_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        KeepAbsentRows(StandardScaler()).get_feature_names_out()


def test_every_kind_of_missing_category_is_imputed_and_empty_columns_are_kept():
    import warnings

    table = pd.DataFrame(
        {
            "age": [61.0, 54.0, 70.0, 48.0],
            "never_measured": [np.nan] * 4,
            "sex": ["f", None, "m", "f"],
            "smoker": pd.array([True, None, False, True], dtype="boolean"),
            "site": pd.array(["a", pd.NA, "b", "a"], dtype="string"),
            "stage": pd.Categorical(["I", "II", None, "I"]),
            "treated": [True, False, True, True],
        }
    )
    transformer = make_modality_transformer({"patient": list(table.columns)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = transformer.fit_transform(table)
    columns = out.columns.tolist()
    assert not [c for c in columns if c.endswith(("_None", "_nan", "_<NA>"))]
    assert "patient__cat__smoker_True" in columns and "patient__num__never_measured" in columns
    assert np.isfinite(out.to_numpy()).all()
    # the imputed row takes the most frequent category
    assert out.loc[1, "patient__cat__sex_f"] == 1.0 and out.loc[1, "patient__cat__site_a"] == 1.0


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_date_and_duration_columns_are_refused_by_name(absent):
    table, _ = _clinical(n=20)
    table["diagnosed"] = pd.date_range("2020-01-01", periods=20, freq="D")
    table["follow_up"] = pd.to_timedelta(np.arange(20), unit="D")
    modalities = {"demographics": ["age", "diagnosed"], "treatment": ["chemo", "follow_up"]}
    transformer = make_modality_transformer(modalities, absent=absent, remainder="drop")
    with pytest.raises(TypeError, match=r"Modality 'demographics': columns \['diagnosed'\]"):
        transformer.fit(table)
    # converted to numbers, the same columns are scaled like any other
    table["diagnosed"] = (table["diagnosed"] - pd.Timestamp("2020-01-01")).dt.days
    table["follow_up"] = table["follow_up"].dt.days
    out = make_modality_transformer(modalities, absent=absent, remainder="drop").fit_transform(
        table
    )
    assert "demographics__num__diagnosed" in out.columns
    assert "treatment__num__follow_up" in out.columns


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_a_duration_column_is_refused_alone_and_beside_numbers(absent):
    table, _ = _clinical(n=20)
    table["stay"] = pd.to_timedelta(np.arange(20), unit="h")
    # NumPy's DTypePromotionError, naming nothing, beside a number column before
    for columns in (["stay"], ["stay", "dose"]):
        transformer = make_modality_transformer({"m": columns}, absent=absent, remainder="drop")
        with pytest.raises(TypeError, match=r"Modality 'm': columns \['stay'\] hold dates or dur"):
            transformer.fit(table)


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_a_column_of_numbers_must_hold_numbers_when_transforming(absent):
    table, _ = _clinical(n=30)
    decimals = table.assign(dose=[decimal.Decimal(str(round(v, 2))) for v in table["dose"]])
    modalities = {"demographics": ["age", "sex"], "treatment": ["dose", "chemo"]}
    for fitted_on in (table, decimals):
        fitted = make_modality_transformer(modalities, absent=absent, remainder="drop")
        fitted.fit(fitted_on)
        # text of numbers was read as numbers by scikit-learn (a text dtype), or refused naming
        # no column (text among Decimals), before
        for text in (
            fitted_on["dose"].astype(str).astype(object),
            fitted_on["dose"].astype(str).astype("string"),
            pd.Series(pd.to_timedelta(np.arange(30), unit="h")),
        ):
            with pytest.raises(
                TypeError, match=r"column 'dose' held numbers when fitted|\['dose'\] were numeric"
            ):
                fitted.transform(fitted_on.assign(dose=text.to_numpy()))
    # a record whose number is missing, however pandas types it (scikit-learn's error naming
    # nothing for pd.NA, "holds datetime64 values" for NaT, before)
    fitted = make_modality_transformer(modalities, absent=absent, remainder="drop").fit(table)
    expected = fitted.transform(table.iloc[:1].assign(dose=np.nan))
    for missing in (pd.NA, pd.NaT, None):
        record = table.iloc[:1].assign(dose=pd.Series([missing], index=table.index[:1]))
        pd.testing.assert_frame_equal(fitted.transform(record), expected)
    pl = pytest.importorskip("polars")  # polars frames are held to the same rule
    as_text = pl.DataFrame(
        {
            "age": table["age"].tolist(),
            "sex": [v if isinstance(v, str) else None for v in table["sex"]],
            "dose": [str(v) for v in table["dose"]],
            "chemo": table["chemo"].astype(object).tolist(),
        }
    )
    with pytest.raises(TypeError, match=r"'dose' held numbers when fitted|\['dose'\] were num"):
        fitted.transform(as_text)
    # flags stored as 0/1 numbers when fitted may arrive as bools
    flags = table.assign(dose=(np.arange(30) % 2).astype(float))
    fitted = make_modality_transformer(modalities, absent=absent, remainder="drop").fit(flags)
    expected = fitted.transform(flags)
    for as_bools in (flags["dose"] == 1, (flags["dose"] == 1).astype(object)):
        pd.testing.assert_frame_equal(fitted.transform(flags.assign(dose=as_bools)), expected)


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_object_columns_of_numbers_are_scaled_not_one_hot_encoded(absent):
    table, _ = _clinical(n=30)
    as_decimals = table.assign(
        dose=[None, *(decimal.Decimal(str(round(v, 2))) for v in table["dose"][1:])]
    )
    assert as_decimals["dose"].dtype == object
    original = as_decimals.copy()
    modalities = {"demographics": ["age", "sex"], "treatment": ["dose", "chemo"]}
    out = make_modality_transformer(modalities, absent=absent, remainder="drop").fit_transform(
        as_decimals
    )
    # before: one column per distinct dose (demographics__cat__dose_36.7, ...)
    assert [c for c in out.columns if "dose" in c] == ["treatment__num__dose"]
    floats = table.assign(dose=[np.nan, *table["dose"][1:].round(2)])
    expected = make_modality_transformer(modalities, absent=absent, remainder="drop")
    pd.testing.assert_frame_equal(out, expected.fit_transform(floats))
    pd.testing.assert_frame_equal(as_decimals, original)  # the caller's table is not changed
    # bools written as objects stay a category, as a bool column is
    flags = table.assign(chemo=np.array([True, False] * 15, dtype=object))
    out = make_modality_transformer(modalities, absent=absent, remainder="drop").fit_transform(
        flags
    )
    assert "treatment__cat__chemo_True" in out.columns


def test_categorical_columns_refuse_numbers_for_text_and_warn_of_unseen_categories():
    table, _ = _clinical(n=30)
    table["stage"] = np.array(["1", "2", "3"] * 10, dtype=object)
    modalities = {"demographics": ["age", "sex"], "tumour": ["tumour_size", "stage"]}
    transformer = make_modality_transformer(modalities, remainder="drop").fit(table)
    # before: every row's stage encoded as all zeros, without a word
    with pytest.raises(TypeError, match=r"columns \['stage'\] held text at fit and numbers now"):
        transformer.transform(table.assign(stage=table["stage"].astype(int)))
    with pytest.warns(UserWarning, match=r"30 row\(s\) of 'stage', e.g. '4'"):
        out = transformer.transform(table.assign(stage="4"))
    assert (out.filter(like="stage") == 0).all().all()
    # a bool column written as text: "were numeric at fit" and a remedy that made it all
    # missing before
    flagged = table.assign(chemo=table["chemo"] == "yes")
    modalities_with_flag = {"demographics": ["age", "sex"], "treatment": ["dose", "chemo"]}
    fitted = make_modality_transformer(modalities_with_flag, remainder="drop").fit(flagged)
    with pytest.warns(UserWarning, match=r"categories not seen in fit .* of 'chemo', e.g. '"):
        fitted.transform(flagged.assign(chemo=flagged["chemo"].astype(str)))
    mixed = table.assign(stage=np.array(["1", 2, "3"] * 10, dtype=object))
    # before: scikit-learn's "Encoders require their input argument must be uniformly strings
    # or numbers", naming no column
    with pytest.raises(TypeError, match=r"columns \['stage'\] hold both text and numbers"):
        make_modality_transformer(modalities, remainder="drop").fit(mixed)


def test_selections_a_table_cannot_satisfy_name_the_modality():
    table, _ = _clinical(n=20)
    # scikit-learn's "Some column names are not columns of the dataframe" before
    with pytest.raises(ValueError, match=r"Modality 'labs' names columns \['hbb'\] that are not"):
        make_modality_transformer({"labs": ["hbb"]}, remainder="drop").fit(table)
    numbered = table[["age", "dose"]].set_axis([10, 11], axis=1)
    # "all features must be in [0, 1] or [-2, 0]" before
    with pytest.raises(
        ValueError, match=r"out of range for 2 columns: \[10\]\. X's column labels are numbers"
    ):
        make_modality_transformer({"a": [10], "b": [11]}).fit(numbered)


@pytest.mark.parametrize(
    ("relabel", "message"),
    [
        # a duplicate-name error naming no modality or fix before
        (lambda t: t.set_axis(["age", "age"], axis=1), r"used more than once: \['age'\]"),
        # scikit-learn's feature-name TypeError before
        (lambda t: t.set_axis(["age", 1], axis=1), r"partly strings \(\['age'\]\) and partly not"),
    ],
)
def test_column_labels_a_transformer_cannot_select_by_are_named_with_the_fix(relabel, message):
    table, _ = _clinical(n=20)
    relabelled = relabel(table[["age", "dose"]])
    columns = list(relabelled.columns)
    with pytest.raises(ValueError, match=message):
        make_modality_transformer({"a": [0], "b": [1]}).fit(relabelled)
    assert list(relabelled.columns) == columns  # the caller's table untouched


def test_multiindex_columns_are_selected_by_their_tuples_or_positions():
    table, _ = _clinical(n=20)
    nested = pd.concat({"demo": table[["age"]], "rx": table[["dose"]]}, axis=1)
    by_position = make_modality_transformer({"a": [0], "b": [1]}).fit_transform(nested)
    # pandas' "Cannot index with multidimensional key" from inside ColumnTransformer before
    by_tuple = make_modality_transformer({"a": [("demo", "age")], "b": [("rx", "dose")]})
    pd.testing.assert_frame_equal(by_tuple.fit_transform(nested), by_position)
    np.testing.assert_allclose(
        by_position.to_numpy(), StandardScaler().fit_transform(nested.to_numpy()), atol=1e-12
    )


def test_custom_categorical_steps_may_handle_dates():
    table, _ = _clinical(n=20)
    table["diagnosed"] = pd.date_range("2020-01-01", periods=20, freq="D")
    days = FunctionTransformer(_days_since_first, feature_names_out="one-to-one")
    modalities = {"demographics": ["age", "diagnosed"]}
    transformer = make_modality_transformer(modalities, categorical=days, remainder="drop")
    out = transformer.fit_transform(table)  # not refused: the user's steps handle them
    np.testing.assert_array_equal(out["demographics__cat__diagnosed"], np.arange(20))


def _days_since_first(X):
    return X.apply(lambda column: (column - column.min()).dt.days)


def test_keep_absent_rows_names_what_it_cannot_take():
    with pytest.raises(TypeError, match="does not accept sparse input"):
        KeepAbsentRows(StandardScaler()).fit(sparse.csr_matrix(np.eye(3)))
    with pytest.raises(ValueError, match="0 feature"):
        KeepAbsentRows(StandardScaler()).fit(np.zeros((3, 0)))
    fitted = KeepAbsentRows(StandardScaler()).fit(np.eye(3))
    with pytest.raises(ValueError, match="Reshape your data"):
        fitted.transform(np.ones(3))
    # decimal.InvalidOperation, naming nothing, before
    signalling = np.array([[1.0, 2.0, 0.0], [decimal.Decimal("sNaN"), 1.0, 0.0]], dtype=object)
    with pytest.raises(ValueError, match="Modality 'labs' holds a signalling NaN Decimal"):
        KeepAbsentRows(StandardScaler(), modality="labs").fit(signalling)
    with pytest.raises(ValueError, match="X holds a signalling NaN Decimal"):
        fitted.transform(signalling)


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_a_signalling_nan_is_named_by_modality_in_either_absent_mode(absent):
    # decimal.InvalidOperation (impute), or "not numbers (text such as 'nan')" (keep), before
    table, _ = _clinical(n=20)
    transformer = make_modality_transformer(MODALITIES, absent=absent).fit(table)
    for column in ("sex", "age"):  # categorical, and numeric at fit
        bad = table.astype(object)
        bad.loc[3, column] = decimal.Decimal("sNaN")
        with pytest.raises(ValueError, match="Modality 'demographics' holds a signalling NaN"):
            transformer.transform(bad)


def test_column_selectors_that_are_not_a_block_of_columns_are_named():
    for columns, message in (
        ("age", r"columns='age' is not a list of columns.*\['age'\]"),
        (None, "columns=None is not a list of columns"),
        ([], "'labs' selects no columns"),
        (np.zeros(6, dtype=bool), "'labs' selects no columns"),
    ):
        with pytest.raises(ValueError, match=message):
            make_modality_transformer({"labs": columns})


def test_integer_column_names_of_categorical_columns_are_named():
    frame = pd.DataFrame({0: [1.0, 2.0, 3.0], 1: ["x", "y", None]})
    with pytest.raises(TypeError, match=r"'labs'.*not strings.*astype\(str\)"):
        make_modality_transformer({"labs": [0, 1]}).fit_transform(frame)
    frame.columns = frame.columns.astype(str)
    out = make_modality_transformer({"labs": ["0", "1"]}).fit_transform(frame)
    assert out.shape[0] == 3


def test_integer_column_names_of_numeric_columns_are_columns_not_positions():
    frame = pd.DataFrame({7: [1.0, 2.0, 3.0], 3: [100.0, 200.0, 300.0], 5: [-1.0, 0.0, 1.0]})
    keep = FunctionTransformer(feature_names_out="one-to-one")
    # integers select by position, as in a ColumnTransformer, whatever the labels
    out = make_modality_transformer({"a": [2, 0], "b": [1]}, numeric=keep).fit_transform(frame)
    np.testing.assert_array_equal(out.to_numpy(), frame.iloc[:, [2, 0, 1]].to_numpy())
    # scikit-learn names columns without string names by their position
    assert out.columns.tolist() == ["a__num__x2", "a__num__x0", "b__num__x1"]


def test_a_table_without_dtypes_is_refused_by_modality():
    with pytest.raises(TypeError, match=r"Modality 'a'.* needs a pandas DataFrame; got ndarray"):
        make_modality_transformer({"a": [0, 1], "b": [2]}).fit_transform(np.ones((4, 3)))


def test_keep_absent_rows_names_an_empty_table():
    with pytest.raises(ValueError, match=r"0 sample\(s\) .* minimum of 1 is required"):
        KeepAbsentRows(StandardScaler()).fit(np.empty((0, 2)))


def test_keep_absent_rows_names_a_transformer_that_outputs_text():
    data = np.array([["a"], [None], ["c"]], dtype=object)
    with pytest.raises(TypeError, match="KeepAbsentRows needs its transformer to output numbers"):
        KeepAbsentRows(SimpleImputer(strategy="most_frequent")).fit_transform(data)


def test_keep_absent_rows_names_numeric_columns_that_arrive_as_text():
    train = pd.DataFrame({"hb": [1.0, 2.0, np.nan], "crp": [3.0, 4.0, np.nan]})
    step = KeepAbsentRows(StandardScaler()).fit(train)
    text = train.astype(str)  # e.g. read from a CSV export: NaN became "nan"
    with pytest.raises(TypeError, match=r"\['hb', 'crp'\] were numeric at fit.*to_numeric"):
        step.transform(text)
    assert np.isnan(step.transform(train)[2]).all()  # the absent row stays absent


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_a_modality_without_categorical_columns_can_be_displayed(absent):
    # a notebook shows a fitted pipeline as HTML; an empty categorical branch broke it
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils import estimator_html_repr

    table, y = _clinical()
    transformer = make_modality_transformer(
        {"numbers": ["age", "dose"], "mixed": ["sex", "tumour_size"]},
        absent=absent,
        remainder="drop",
    )
    pipeline = make_pipeline(transformer, LogisticRegression()).fit(table, y)
    assert "numbers" in estimator_html_repr(pipeline)


def test_a_callable_selector_that_selects_nothing_is_named_at_fit():
    # a ColumnTransformer skips an empty selection: the modality vanished silently
    from sklearn.compose import make_column_selector

    table, _ = _clinical()
    for selector in (make_column_selector(pattern="^lab_"), lambda X: []):
        transformer = make_modality_transformer({"demographics": ["age"], "labs": selector})
        with pytest.raises(ValueError, match="Modality 'labs': its column selector .* no column"):
            transformer.fit(table)
    for empty in (slice("dose", "age"), slice(10, 20)):
        transformer = make_modality_transformer({"demographics": ["age"], "labs": empty})
        with pytest.raises(ValueError, match="Modality 'labs': its column selector slice"):
            transformer.fit(table)
    by_slice = make_modality_transformer(
        {"demographics": slice("age", "sex"), "labs": ["dose"]}, remainder="drop"
    )
    assert by_slice.fit_transform(table).columns.tolist()[:3] == [
        "demographics__num__age",
        "demographics__cat__sex_f",
        "demographics__cat__sex_m",
    ]
    chosen = make_modality_transformer(
        {"demographics": ["age"], "labs": make_column_selector(pattern="^dose")},
        remainder="drop",
    )
    assert chosen.fit_transform(table).columns.tolist() == [
        "demographics__num__age",
        "labs__num__dose",
    ]


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_one_record_with_a_missing_number_is_served(absent):
    # a patient's record as a dict: a lone None makes its column object dtype, which is no text
    table, _ = _clinical()
    transformer = make_modality_transformer(MODALITIES, absent=absent).fit(table)
    record = table.iloc[[0]].astype(object)
    record.loc[:, "age"] = None
    expected = table.iloc[[0]].copy()
    expected.loc[:, "age"] = np.nan
    pd.testing.assert_frame_equal(
        transformer.transform(record).reset_index(drop=True),
        transformer.transform(expected).reset_index(drop=True),
    )
    lacking = record.copy()
    lacking.loc[:, ["age", "sex"]] = None  # the whole modality: absent (kept) or imputed
    out = transformer.transform(lacking).filter(like="demographics__")
    assert out.isna().all(axis=None) == (absent == "keep")


def test_keep_absent_rows_passes_the_targets_of_the_rows_it_fits():
    # y-using steps (TargetEncoder cross-fits in fit_transform; SelectKBest) get the rows' y
    from sklearn.feature_selection import SelectKBest
    from sklearn.preprocessing import TargetEncoder

    table, y = _clinical()
    table.loc[:9, ["tumour_size", "grade"]] = np.nan  # ten rows lack the tumour modality
    keep = make_modality_transformer(MODALITIES, categorical=TargetEncoder(random_state=0))
    impute = make_modality_transformer(
        MODALITIES, categorical=TargetEncoder(random_state=0), absent="impute"
    )
    kept, imputed = keep.fit_transform(table, y), impute.fit_transform(table, y)
    assert kept.shape == imputed.shape  # it raised: TargetEncoder got no y
    assert kept.filter(like="tumour__").iloc[:10].isna().all(axis=None)
    assert not kept.filter(like="tumour__").iloc[10:].isna().any(axis=None)
    # the cross-fitted encodings of the rows that have the modality, as without the wrapper
    has = np.arange(len(y)) >= 10
    inner = KeepAbsentRows(TargetEncoder(random_state=0)).fit_transform(table[["grade"]], y)
    alone = TargetEncoder(random_state=0).fit_transform(table.loc[has, ["grade"]], y[has])
    np.testing.assert_allclose(inner[has], alone)
    assert np.isnan(inner[~has]).all()
    best = KeepAbsentRows(SelectKBest(k=1)).fit(table[["age", "dose"]].fillna(0), y)
    assert best.transform(table[["age", "dose"]].fillna(0)).shape == (len(y), 1)


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_polars_tables_give_what_pandas_tables_give(absent):
    pl = pytest.importorskip("polars")
    table, y = _clinical()
    table["grade"] = table["grade"].astype(str)
    missing_as_none = table.astype(object).where(table.notna(), None)
    frame = pl.from_dict({c: missing_as_none[c].to_list() for c in table})
    reference = make_modality_transformer(MODALITIES, absent=absent).fit(table)
    expected = reference.transform(table)
    fitted = make_modality_transformer(MODALITIES, absent=absent).fit(frame)
    pd.testing.assert_frame_equal(fitted.transform(frame), expected)
    pd.testing.assert_frame_equal(reference.transform(frame), expected)  # fitted on pandas
    out = make_modality_transformer(MODALITIES, absent=absent).set_output(transform="polars")
    polars_out = out.fit(frame).transform(frame)
    assert type(polars_out).__module__.startswith("polars")
    np.testing.assert_allclose(polars_out.to_numpy(), expected.to_numpy())


def test_columns_in_two_modalities_and_reserved_names_are_refused():
    with pytest.raises(ValueError, match="Column 'dose' is in modalities 'a' and 'b'"):
        make_modality_transformer({"a": ["age", "dose"], "b": ["dose", "tumour_size"]})
    with pytest.raises(ValueError, match="Modality name 'verbose' is a parameter"):
        make_modality_transformer({"verbose": ["age"], "b": ["dose"]})


def test_numeric_columns_that_arrive_as_dates_are_refused_not_read_as_numbers():
    # pd.to_numeric reads dates as nanoseconds and NaT as -9.2e18: an absent row would not be
    train = pd.DataFrame({"hb": [1.0, 2.0, np.nan], "crp": [3.0, 4.0, np.nan]})
    step = KeepAbsentRows(StandardScaler()).fit(train)
    dated = pd.DataFrame({"hb": pd.to_datetime(["2026-01-01", "2026-01-02", None]), "crp": 1.0})
    with pytest.raises(TypeError, match=r"\['hb'\] were numeric at fit and are \['datetime64"):
        step.transform(dated)
    as_objects = train.astype(object)
    as_objects.loc[0, "crp"] = pd.Timestamp("2026-01-01")
    with pytest.raises(TypeError, match=r"\['crp'\] were numeric at fit"):
        step.transform(as_objects)


def test_keep_absent_rows_checks_y_and_passes_it_only_when_given():
    class NoTargets(StandardScaler):
        def fit(self, X):  # a transformer whose fit takes no y
            return super().fit(X)

    train = pd.DataFrame({"hb": [1.0, 2.0, np.nan, 4.0], "crp": [3.0, 4.0, np.nan, 1.0]})
    KeepAbsentRows(NoTargets()).fit(train)
    KeepAbsentRows(NoTargets()).fit_transform(train)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        KeepAbsentRows(StandardScaler()).fit(train, np.arange(5))


def test_a_column_given_as_a_string_is_named_before_overlaps():
    with pytest.raises(ValueError, match="is not a list of columns"):
        make_modality_transformer({"a": "age", "b": "age"})


def test_keep_absent_rows_passes_metadata_for_the_rows_it_fits():
    # sample_weight reached no wrapped scaler: routing stopped at the wrapper (an error
    # from the ColumnTransformer, or silently unweighted scaling inside a Pipeline)
    from sklearn import config_context
    from sklearn.exceptions import UnsetMetadataPassedError

    table, y = _clinical()
    table.loc[:9, ["tumour_size", "grade"]] = np.nan  # ten rows lack the tumour modality
    weights = np.random.default_rng(1).uniform(0.1, 3.0, len(y))
    has = np.arange(len(y)) >= 10
    expected = np.average(table.loc[has, "tumour_size"], weights=weights[has])
    direct = KeepAbsentRows(StandardScaler()).fit(table[["tumour_size"]], sample_weight=weights)
    assert direct.transformer_.mean_[0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="sample_weight has 110 entries but X has 120 rows"):
        KeepAbsentRows(StandardScaler()).fit(table[["tumour_size"]], sample_weight=weights[has])
    with config_context(enable_metadata_routing=True):
        scaler = StandardScaler().set_fit_request(sample_weight=True)
        model = I2MoEClassifier(max_epochs=2, hidden_dim=8, n_tokens=2, random_state=0, n_threads=1)
        pipe = make_pipeline(
            make_modality_transformer(
                MODALITIES, numeric=make_pipeline(SimpleImputer(strategy="median"), scaler)
            ),
            model.set_fit_request(sample_weight=True),
        ).fit(table, y, sample_weight=weights)
        step = pipe[0].named_transformers_["tumour"].transformer_.named_transformers_["num"]
        assert step[-1].mean_[0] == pytest.approx(expected)
        transformed = pipe[0].transform(table)  # transform routes nothing and needs nothing
        assert transformed.filter(like="tumour__").iloc[:10].isna().all(axis=None)
        # weights for the estimator only: the default steps (out of the caller's reach) say
        # they take none, instead of failing the fit as steps that never said
        for absent in ("keep", "impute"):
            make_pipeline(
                make_modality_transformer(MODALITIES, absent=absent),
                I2MoEClassifier(
                    max_epochs=1, hidden_dim=8, n_tokens=2, random_state=0, n_threads=1
                ).set_fit_request(sample_weight=True),
            ).fit(table, y, sample_weight=weights)
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):  # not requested
            KeepAbsentRows(StandardScaler()).fit(table[["tumour_size"]], sample_weight=weights)


@pytest.mark.parametrize(
    "labs, blood",
    [
        (slice("hb", "crp"), slice("crp", "plt")),  # label slices include both ends
        (["hb", "crp"], [1, 2, 3]),  # names beside positions
        ([True, True, False, False], [False, True, True, True]),  # masks
        (lambda X: ["hb", "crp"], slice(1, None)),  # a callable beside a position slice
    ],
)
def test_a_column_selected_by_two_modalities_in_any_form_is_refused_at_fit(labs, blood):
    # only lists of names were compared: the other forms copied 'crp' into both modalities
    table = pd.DataFrame(np.arange(24.0).reshape(6, 4), columns=["hb", "crp", "wbc", "plt"])
    transformer = make_modality_transformer({"labs": labs, "blood": blood})
    with pytest.raises(ValueError, match=r"Columns \['crp'\] are selected by modalities"):
        transformer.fit(table)
    disjoint = make_modality_transformer({"labs": slice("hb", "hb"), "blood": [1, 2, 3]})
    assert disjoint.fit_transform(table).shape == (6, 4)


@pytest.mark.parametrize("absent", ["keep", "impute"])
def test_a_step_without_output_names_is_refused_not_stripped_of_the_prefixes(absent):
    # scikit-learn named every output tmp_col_name_*: the estimator then saw one modality 'x'
    table, _ = _clinical()
    logged = make_pipeline(SimpleImputer(), FunctionTransformer(np.log1p), StandardScaler())
    with pytest.raises(ValueError, match="'demographics': its numeric step's FunctionTransformer"):
        make_modality_transformer(MODALITIES, numeric=logged, absent=absent).fit(table)
    named = make_pipeline(
        SimpleImputer(), FunctionTransformer(np.log1p, feature_names_out="one-to-one")
    )
    out = make_modality_transformer(MODALITIES, numeric=named, absent=absent).fit_transform(table)
    assert {c.split("__")[0] for c in out.columns} == set(MODALITIES)


def test_label_slices_of_a_polars_table_select_its_columns():
    # pd.DataFrame(polars frame) has positional column labels: a label slice selected nothing
    pl = pytest.importorskip("polars")
    table = pd.DataFrame(np.arange(24.0).reshape(6, 4), columns=["hb", "crp", "wbc", "plt"])
    frame = pl.DataFrame({c: table[c].to_list() for c in table})
    modalities = {"a": slice("hb", "crp"), "b": slice("wbc", "plt")}
    out = make_modality_transformer(modalities).fit_transform(frame)
    assert list(out.columns) == ["a__num__hb", "a__num__crp", "b__num__wbc", "b__num__plt"]
    with pytest.raises(ValueError, match=r"Columns \['crp'\] are selected by modalities"):
        make_modality_transformer({"a": slice("hb", "crp"), "b": slice("crp", "plt")}).fit(frame)


def test_columns_in_no_modality_are_refused_unless_dropped_on_purpose():
    # a prognostic column forgotten in the mapping was dropped without a word
    table, y = _clinical()
    table["patient_id"] = np.arange(len(table))
    forgetful = {"demographics": ["age", "sex"], "tumour": ["tumour_size", "grade"]}
    with pytest.raises(ValueError, match=r"Columns 'chemo', 'dose', 'patient_id' .* no modality"):
        make_modality_transformer(forgetful).fit(table)
    with pytest.raises(ValueError, match="remainder must be 'error'"):
        make_modality_transformer(forgetful, remainder="passthrough")
    kept = make_modality_transformer(forgetful, remainder="drop").fit_transform(table)
    assert {c.split("__")[0] for c in kept.columns} == {"demographics", "tumour"}
    everything = {**MODALITIES, "ids": ["patient_id"]}
    assert make_modality_transformer(everything).fit(table, y).transform(table).shape[0] == len(y)
    # still a ColumnTransformer by name: pipelines' step and grid parameter names unchanged
    pipeline = make_pipeline(make_modality_transformer(MODALITIES), StandardScaler())
    assert list(pipeline.named_steps) == ["columntransformer", "standardscaler"]
    one = make_modality_transformer({"tumour": ["tumour_size", "grade"]})
    with pytest.raises(ValueError, match=r"Columns 'age', 'sex', 'chemo', 'dose', 'patient_id'"):
        one.fit(table)
    # the refusal is the ColumnTransformer's remainder, so its parameters say what it does
    refusing = make_modality_transformer(MODALITIES)
    assert type(refusing.get_params()["remainder"]).__name__ == "_InNoModality"
    with pytest.raises(ValueError, match=r"^Column 'patient_id' of the table is in no modality"):
        refusing.fit(table)
    assert refusing.set_params(remainder="drop").fit_transform(table).shape[0] == len(y)
    numbered = pd.DataFrame(np.arange(15.0).reshape(5, 3))  # columns 0, 1, 2: labels as given
    with pytest.raises(ValueError, match=r"^Column 2 of the table is in no modality\. Add it"):
        make_modality_transformer({"a": [0], "b": [1]}).fit(numbered)


def test_the_default_steps_keep_scikit_learns_parameter_keys():
    # the routing fix's private scaler renamed the key to ..._unweightedscaler__with_std, so a
    # grid over num__standardscaler__with_std was refused (audit helper-67 G5)
    transformer = make_modality_transformer(MODALITIES)
    key = "tumour__transformer__num__standardscaler__with_std"
    assert key in transformer.get_params(deep=True)
    transformer.set_params(**{key: False})
    table, _ = _clinical()
    fitted = transformer.fit(table).named_transformers_["tumour"].transformer_
    assert fitted.named_transformers_["num"].named_steps["standardscaler"].with_std is False
    assert "simpleimputer" in fitted.named_transformers_["num"].named_steps
