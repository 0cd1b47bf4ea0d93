"""Class weights, 2-D targets and the small-data calibration of I2MoEClassifier."""

import inspect

import numpy as np
import pytest
from scipy import sparse
from sklearn.utils.class_weight import compute_class_weight

from sk_i2moe import I2MoEClassifier
from tests.helpers import TINY


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(60, 3)), "b": rng.normal(size=(60, 2))}
    y = (X["a"][:, 0] + X["b"][:, 1] > 0.5).astype(int)
    return X, y


def _proba(X, y, **params):
    kwargs = {"early_stopping": False, "n_members": 1, **TINY, **params}
    sample_weight = kwargs.pop("sample_weight", None)
    return I2MoEClassifier(**kwargs).fit(X, y, sample_weight=sample_weight).predict_proba(X)


def test_balanced_weights_count_the_sample_weights(data):
    # as scikit-learn's compute_class_weight: rows of weight 0 change nothing
    X, y = data
    sample_weight = np.where(y == 0, 3.0, 1.0)
    sample_weight[:5] = 0.0
    totals = np.array([sample_weight[y == c].sum() for c in (0, 1)])
    expected = sample_weight.sum() / (2 * totals)
    if "sample_weight" in inspect.signature(compute_class_weight).parameters:  # sklearn >= 1.7
        reference = compute_class_weight(
            "balanced", classes=np.array([0, 1]), y=y, sample_weight=sample_weight
        )
        np.testing.assert_allclose(reference, expected)
    balanced = _proba(X, y, class_weight="balanced", sample_weight=sample_weight)
    explicit = _proba(X, y, class_weight=dict(enumerate(expected)), sample_weight=sample_weight)
    np.testing.assert_allclose(balanced, explicit, atol=1e-6)


@pytest.mark.parametrize("value", [-0.1, np.nan, np.inf, None, "2", True])
def test_class_weight_values_are_checked(data, value):
    X, y = data
    with pytest.raises(ValueError, match=r"class_weight\[0\] is .*finite numbers >= 0"):
        _proba(X, y, class_weight={0: value, 1: 1.0})


def test_class_weights_that_leave_no_weight_are_named(data):
    X, y = data
    with pytest.raises(ValueError, match="leaves every training row with weight 0"):
        _proba(X, y, class_weight={0: 0.0, 1: 0.0})


def test_numeric_string_labels_take_a_class_weight_dict(data):
    # scikit-learn's compute_class_weight turns "1" into 1 and then finds no key
    X, y = data
    labels = y.astype(str)
    weighted = _proba(X, labels, class_weight={"1": 3.0})
    assert not np.allclose(weighted, _proba(X, labels))
    # class "1", not "0", weighs 3: as the sample weights that say so
    by_rows = _proba(X, labels, sample_weight=np.where(labels == "1", 3.0, 1.0))
    np.testing.assert_allclose(weighted, by_rows, atol=1e-6)


def test_a_sparse_multilabel_y_fits_as_the_dense_one(data):
    X, y = data
    Y = np.column_stack([y, 1 - y])
    np.testing.assert_array_equal(_proba(X, sparse.csr_matrix(Y)), _proba(X, Y))


@pytest.mark.parametrize(
    ("Y", "match"),
    [
        (lambda y: np.column_stack([2 * y - 1, 1 - 2 * y]), r"0 and 1 only; it holds \[-1, 1\]"),
        (lambda y: np.column_stack([y, y + np.arange(60) % 3]), "multiclass-multioutput"),
    ],
)
def test_a_2d_y_that_is_not_an_indicator_matrix_is_named(data, Y, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        _proba(X, Y(y))


def test_a_class_weight_dict_may_name_classes_the_training_rows_lack(data):
    # as scikit-learn: a dict written for the whole data set works in a fold without a rare
    # class and where only rows of weight 0 have it; the labels it names for classes of y count
    X, y = data
    weights = {0: 1.0, 1: 3.0, 2: 5.0}
    assert np.allclose(_proba(X, y, class_weight=weights), _proba(X, y, class_weight={1: 3.0}))
    labels = np.where(np.arange(60) < 3, 2, y)
    sample_weight = np.where(labels == 2, 0.0, 1.0)
    model = I2MoEClassifier(n_members=1, early_stopping=False, class_weight=weights, **TINY)
    model.fit(X, labels, sample_weight=sample_weight)
    assert model.classes_.tolist() == [0, 1]
    np.testing.assert_array_equal(model.class_weight_, [1.0, 3.0])


def test_a_bad_weight_of_a_label_the_rows_lack_is_refused(data):
    # in every cross-validation fold, not only in those that have the class
    X, y = data
    with pytest.raises(ValueError, match=r"class_weight\[2\] is -1"):
        _proba(X, y, class_weight={0: 1.0, 1: 1.0, 2: -1})


@pytest.mark.parametrize("weights", [{0: 1.0, "1": 3.0}, {0: 2.0, 7: 3.0}])
def test_a_class_weight_label_that_may_be_a_misspelling_is_refused(data, weights):
    # a label that is no class of y while a class of y is left out of the dict
    X, y = data
    with pytest.raises(ValueError, match=r"not classes of y .* leaves out the classes \[1\]"):
        _proba(X, y, class_weight=weights)


def test_a_long_list_of_left_out_classes_says_how_many_more(data):
    # the list was cut at five with no sign: "leaves out [0, 1, 2, 3, 4]" of ten classes
    X, _ = data
    digits = np.arange(60) % 10
    with pytest.raises(ValueError, match=r"leaves out the classes \[0, 1, 2, 3, 4\] and 5 more"):
        _proba(X, digits, class_weight={"a": 1.0})


def test_a_class_of_one_sample_is_named_as_what_stops_the_split(data):
    X, y = data
    y = y.copy()
    y[0] = 2
    with pytest.raises(ValueError, match="a class with at least 2 samples"):
        _proba(X, y, early_stopping=True)


def test_small_data_calibration_is_skipped_where_a_fold_cannot_be_fitted(data):
    # early_stopping="auto" on 60 rows cross-fits a temperature; a fold whose other folds have
    # no row with a rare modality cannot be fitted (rows of weight 0 are not in the fit at all:
    # one row of positive weight is a fit on one row, of one class)
    X, y = data
    one_row = np.zeros(60)
    one_row[5] = 1.0
    with pytest.raises(ValueError, match="only one class .* positive sample_weight count"):
        I2MoEClassifier(n_members=1, **TINY).fit(X, y, sample_weight=one_row)
    rare = {"a": X["a"].copy(), "b": X["b"]}
    rare["a"][1:] = np.nan
    model = I2MoEClassifier(n_members=1, **TINY).fit(rare, y)
    assert model.output_temperature_ == 1.0
    assert np.isfinite(model.predict_proba(rare)).all()


def test_a_fresh_fit_that_fails_leaves_the_estimator_unfitted(data):
    # the previous network predicted with the new classes_ (three labels, two outputs)
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    X, y = data
    model = I2MoEClassifier(n_members=1, early_stopping=False, **TINY).fit(X, y)
    check_is_fitted(model)
    labels = np.array(["lo", "mid", "hi"])[np.arange(60) % 3]
    with pytest.raises(ValueError, match="not classes of y"):
        model.set_params(class_weight={"nope": 2.0}).fit(X, labels)  # "hi", "lo", "mid" left out
    with pytest.raises(NotFittedError):
        model.predict(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_a_fresh_fit_interrupted_outside_the_epoch_loop_leaves_the_estimator_unfitted(data):
    # Ctrl-C after skorch's epoch loop (which only catches it inside the loop) is no Exception:
    # the old network must not stay next to the new fit's classes_
    from sklearn.exceptions import NotFittedError
    from skorch.callbacks import Callback

    class Interrupt(Callback):
        def on_train_end(self, net, **kwargs):
            raise KeyboardInterrupt

    X, y = data
    model = I2MoEClassifier(n_members=1, early_stopping=False, **TINY).fit(X, y)
    with pytest.raises(KeyboardInterrupt):
        model.set_params(callbacks=[Interrupt()]).fit(X, np.where(y == 1, "sick", "healthy"))
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_the_resolved_class_weights_are_kept_and_saved(data, tmp_path):
    from sk_i2moe import load

    X, y = data
    params = {"early_stopping": False, "n_members": 1, **TINY}
    assert I2MoEClassifier(**params).fit(X, y).class_weight_ is None
    clf = I2MoEClassifier(**params, class_weight={1: 2.5}).fit(X, y)
    np.testing.assert_array_equal(clf.class_weight_, [1.0, 2.5])
    clf.save(tmp_path / "m.i2moe")
    np.testing.assert_array_equal(load(tmp_path / "m.i2moe").class_weight_, [1.0, 2.5])


def test_tags_say_what_the_estimators_accept():
    # scikit-learn's meta-estimators and checks read the tags: a mapping of modalities is an
    # input form; multi-label targets are refused with class_weight
    from sklearn.utils import get_tags

    from sk_i2moe import I2MoERegressor

    assert get_tags(I2MoEClassifier()).input_tags.dict
    assert get_tags(I2MoERegressor()).input_tags.dict
    assert not get_tags(I2MoEClassifier()).input_tags.allow_nan  # only whole modalities
    assert get_tags(I2MoEClassifier()).classifier_tags.multi_label
    assert not get_tags(I2MoEClassifier(class_weight="balanced")).classifier_tags.multi_label


def test_class_weights_beyond_float32_keep_their_ratios():
    # class weights of 1e-50 became loss weights of 0 in float32 (every row trained with
    # weight 0, silently) and 1e39 became inf; only their ratio matters
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(80, 3)), "b": rng.normal(size=(80, 2))}
    y = (X["a"][:, 0] > 0).astype(int)
    params = dict(max_epochs=2, hidden_dim=8, n_members=1, early_stopping=False, random_state=0)
    tiny = I2MoEClassifier(class_weight={0: 1e-50, 1: 2e-50}, **params).fit(X, y)
    huge = I2MoEClassifier(class_weight={0: 1e39, 1: 2e39}, **params).fit(X, y)
    plain = I2MoEClassifier(class_weight={0: 1.0, 1: 2.0}, **params).fit(X, y)
    for other in (tiny, huge):
        assert np.isfinite(other.history_[:, "train_loss"]).all()
        np.testing.assert_allclose(other.predict_proba(X), plain.predict_proba(X), atol=1e-5)


def test_class_weights_multiply_the_exact_sample_weight_ratios():
    # a sample weight of 1e-300 was first held at float32's smallest value, then multiplied
    # by a class weight of 1e250: that row (true weight 1e-50) carried the whole fit
    from sk_i2moe._modalities import check_sample_weight

    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(40, 3))}
    y = np.zeros(40, dtype=int)
    y[1] = 1  # the only row of class 1, and the lightest by far: 1e-300 x 1e250
    weights = np.ones(40)
    weights[1] = 1e-300
    clf = I2MoEClassifier(max_epochs=1, hidden_dim=4, n_members=1, early_stopping=False)
    clf.set_params(class_weight={0: 1.0, 1: 1e250}).fit(X, y, sample_weight=weights)
    loss = clf._loss_weights(y, check_sample_weight(weights, 40))
    assert loss[1] == np.finfo(np.float32).smallest_subnormal
    np.testing.assert_allclose(np.delete(loss, 1), 40 / 39, rtol=1e-6)
