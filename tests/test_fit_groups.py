"""fit(groups=...): the internal held-out part and the cross-fitted folds keep groups whole."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.model_selection import GroupKFold, cross_validate
from skorch.helper import SliceDict

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe._fit_rules import every_modality_trained
from sk_i2moe._groups import group_folds, group_holdout
from sk_i2moe.datasets import make_interaction_classification, make_interaction_regression

from .helpers import TINY, repeated

SMALL = {"hidden_dim": 16, "n_tokens": 2, "lr": 5e-3, "random_state": 0, "n_threads": 1}


def test_copies_of_a_patient_on_both_sides_hide_memorised_labels():
    # random labels: nothing generalises, but a network that learns a patient's copies
    # predicts the patient's other copies; only a split by patient shows the loss rise
    X, _, _ = make_interaction_classification("redundancy", n_samples=150, random_state=0)
    y = np.random.default_rng(0).integers(0, 2, 150)
    Xc, yc, patient = repeated(X, y, 5)
    params = {**SMALL, "early_stopping": True, "max_epochs": 25, "n_iter_no_change": 25}
    by_row = I2MoEClassifier(**params).fit(Xc, yc)
    by_patient = I2MoEClassifier(**params).fit(Xc, yc, groups=patient)
    rows_loss = by_row.history_[:, "valid_loss"]
    patient_loss = by_patient.history_[:, "valid_loss"]
    assert min(rows_loss) < 0.6 < min(patient_loss)  # chance is log 2 = 0.69
    assert rows_loss[-1] < rows_loss[0] and patient_loss[-1] > patient_loss[0]


def test_groups_of_one_row_each_give_the_fit_without_groups():
    X, y, _ = make_interaction_classification("uniqueness", n_samples=120, random_state=1)
    params = {**SMALL, "max_epochs": 12}
    plain = I2MoEClassifier(**params).fit(X, y)
    single = I2MoEClassifier(**params).fit(X, y, groups=[f"p{i}" for i in range(120)][::-1])
    assert plain.n_iter_ == single.n_iter_
    np.testing.assert_array_equal(plain.predict_proba(X), single.predict_proba(X))


def test_only_which_rows_share_a_group_matters():
    X, y, _ = make_interaction_classification("redundancy", n_samples=60, random_state=2)
    Xc, yc, patient = repeated(X, y, 3)
    params = {**SMALL, "max_epochs": 12}
    numbers = I2MoEClassifier(**params).fit(Xc, yc, groups=patient)
    names = I2MoEClassifier(**params).fit(
        Xc, yc, groups=pd.Series([("site", f"id-{p * 7 % 61}") for p in patient], dtype=object)
    )
    np.testing.assert_array_equal(numbers.validation_loss_, names.validation_loss_)
    np.testing.assert_array_equal(numbers.predict_proba(Xc), names.predict_proba(Xc))
    plain = I2MoEClassifier(**params).fit(Xc, yc)  # other rows held out
    assert not np.array_equal(numbers.validation_loss_, plain.validation_loss_)


def test_a_row_of_weight_zero_takes_its_group_label_out_with_it():
    X, y, _ = make_interaction_regression("synergy", n_samples=60, random_state=3)
    Xc, yc, patient = repeated(X, y, 3)
    weight = np.ones(len(yc))
    weight[::4] = 0
    kept = weight > 0
    params = {**SMALL, "max_epochs": 12}
    weighted = I2MoERegressor(**params).fit(Xc, yc, sample_weight=weight, groups=patient)
    dropped = I2MoERegressor(**params).fit(
        {k: v[kept] for k, v in Xc.items()}, yc[kept], groups=patient[kept]
    )
    np.testing.assert_array_equal(weighted.predict(Xc), dropped.predict(Xc))


def test_group_holdout_keeps_groups_whole_stratified_and_near_the_fraction():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(100), rng.integers(1, 9, 100))
    classes = (np.arange(100) % 3)[clusters]  # a patient's visits share the label
    for fraction in (0.1, 0.2, 0.25, 0.5, 0.7, 0.8):
        train, held_out = group_holdout(classes, clusters, fraction, seed=0)
        assert not set(clusters[train]) & set(clusters[held_out])
        assert len(train) + len(held_out) == len(clusters)
        assert abs(len(held_out) / len(clusters) - fraction) < 0.05
        assert set(classes[held_out]) == set(classes[train]) == {0, 1, 2}
    # regression (no classes): groups dealt at random, still whole
    train, held_out = group_holdout(None, clusters, 0.2, seed=1)
    assert not set(clusters[train]) & set(clusters[held_out])
    # fewer groups than folds, or a class in one group only: no such split
    assert group_holdout(None, np.repeat(np.arange(4), 5), 0.2, seed=0) is None
    one_group = np.r_[np.zeros(5, int), np.ones(45, int)]
    assert group_holdout(one_group, np.repeat(np.arange(10), 5), 0.2, seed=0) is None


def test_group_folds_leave_a_rare_class_out_of_the_stratification_without_warning():
    clusters = np.arange(60) // 2
    classes = np.zeros(60, int)
    classes[:2] = 1  # one group of a class with two samples: fewer than the folds
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's "least populated class" warning
        assert group_folds(classes, clusters, 5, seed=0) is None  # one fold's fit lacks it
        classes[:12] = 1  # six groups
        folds = group_folds(classes, clusters, 5, seed=0)
    for train, test in folds:
        assert not set(clusters[train]) & set(clusters[test])
        assert set(classes[train]) == {0, 1}


def test_a_rare_modality_moves_to_the_training_part_with_its_whole_group():
    import torch

    present = torch.ones(6, 2, dtype=torch.bool)
    present[:, 1] = False
    present[4, 1] = True  # row 4 alone has the second modality; row 5 is its patient's too
    clusters = np.array([0, 0, 1, 1, 2, 2])
    train, held_out = every_modality_trained(
        present, np.array([0, 1, 2, 3]), np.array([4, 5]), clusters
    )
    assert sorted(train) == [0, 1, 2, 3, 4, 5] and len(held_out) == 0
    # without groups only the row moves
    train, held_out = every_modality_trained(present, np.array([0, 1, 2, 3]), np.array([4, 5]))
    assert sorted(train) == [0, 1, 2, 3, 4] and list(held_out) == [5]


def test_too_few_groups_to_hold_out():
    X, y, _ = make_interaction_classification("redundancy", n_samples=200, random_state=0)
    groups = np.arange(200) % 3
    with pytest.raises(ValueError, match=r"3 groups are fewer than the 5 folds of groups"):
        I2MoEClassifier(**TINY, early_stopping=True).fit(X, y, groups=groups)
    # "auto" trains on all the data, and says so
    with pytest.warns(UserWarning, match="3 groups are fewer .* trains on all the data"):
        clf = I2MoEClassifier(**TINY).fit(X, y, groups=groups)
    assert clf.validation_loss_ is None


def test_a_class_of_one_group_is_named_where_it_keeps_the_groups_from_being_split():
    X, y, _ = make_interaction_classification("redundancy", n_samples=200, random_state=0)
    labels = np.where(y == 1, "yes", "no").astype(object)
    groups = np.arange(200) // 4
    labels[groups == 7] = "rare"  # the third class: one patient's rows
    with pytest.raises(ValueError, match="class 'rare' is found in one group only"):
        I2MoEClassifier(**TINY, early_stopping=True).fit(X, labels, groups=groups)
    with pytest.warns(UserWarning, match="class 'rare' is found in one group only"):
        I2MoEClassifier(**TINY).fit(X, labels, groups=groups)
    # in two groups it can be on both sides
    labels[groups == 8] = "rare"
    clf = I2MoEClassifier(**TINY, early_stopping="refit").fit(X, labels, groups=groups)
    assert clf.validation_loss_ is not None


@pytest.mark.parametrize("task", ["classes", "values"])
def test_a_dominant_group_does_not_decide_the_held_out_part(task):
    # one hospital with 40 % of the rows beside sixty of 10 rows each
    clusters = np.r_[np.zeros(400, int), np.repeat(np.arange(1, 61), 10)]
    classes = (np.arange(1000) % 2) if task == "classes" else None
    held_out_sets = set()
    for seed in range(8):
        train, held_out = group_holdout(classes, clusters, 0.2, seed)
        # the other folds share the other 60 %: about 0.15 each
        assert 0.1 < len(held_out) / 1000 < 0.25 and 0 not in clusters[held_out]
        assert not set(clusters[train]) & set(clusters[held_out])
        held_out_sets.add(tuple(sorted(set(clusters[held_out]))))
    assert len(held_out_sets) == 8  # the seed chooses which groups


def test_the_held_out_part_is_the_candidate_nearest_the_fraction():
    # six groups of 10 rows: one group (1/6) is nearer 0.2 than two (1/3)
    train, held_out = group_holdout(None, np.repeat(np.arange(6), 10), 0.2, seed=0)
    assert len(held_out) == 10
    train, held_out = group_holdout(None, np.repeat(np.arange(6), 10), 0.7, seed=0)
    assert len(held_out) == 40  # all but one fold of three


def test_the_cross_fitted_temperature_predicts_each_group_by_a_fit_without_it():
    # too few rows to hold out: the temperature comes from five cross-fitted folds; with
    # random labels the copies of a patient in the other folds make its predictions look
    # right unless the folds keep patients whole
    X, _, _ = make_interaction_classification("redundancy", n_samples=25, random_state=5)
    y = np.random.default_rng(5).integers(0, 2, 25)
    Xc, yc, patient = repeated(X, y, 3)
    params = {**SMALL, "max_epochs": 40}
    by_row = I2MoEClassifier(**params).fit(Xc, yc)
    by_patient = I2MoEClassifier(**params).fit(Xc, yc, groups=patient)
    assert by_row.validation_loss_ is None and by_patient.validation_loss_ is None
    assert by_row.output_temperature_ < 1.5 < by_patient.output_temperature_


@pytest.mark.parametrize(
    ("groups", "error", "match"),
    [
        (np.zeros((40, 2)), ValueError, r"one label per training sample .* got ndarray of shape"),
        (np.arange(39), ValueError, "groups has 39 labels but X has 40 samples"),
        ([None] + list(range(39)), ValueError, "missing labels .* give every training sample"),
        ([[i] for i in range(40)], TypeError, "hashable"),
    ],
)
def test_groups_are_checked(groups, error, match):
    rng = np.random.default_rng(0)
    X = {"a": rng.standard_normal((40, 3)), "b": rng.standard_normal((40, 2))}
    y = np.arange(40) % 2
    with pytest.raises(error, match=match):
        I2MoEClassifier(**TINY).fit(X, y, groups=groups)


def test_groups_whose_index_holds_the_rows_in_another_order_are_refused():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((40, 4)), index=[f"r{i}" for i in range(40)])
    groups = pd.Series(np.arange(40) // 2, index=X.index)[::-1]
    clf = I2MoEClassifier(**TINY, modalities={"a": [0, 1], "b": [2, 3]})
    with pytest.raises(ValueError, match="groups's row index holds the labels of X's rows"):
        clf.fit(X, np.arange(40) % 2, groups=groups)


def test_groups_reach_fit_through_cross_validate_and_metadata_routing():
    X, y, _ = make_interaction_classification("redundancy", n_samples=80, random_state=4)
    Xc, yc, patient = repeated(X, y, 3)
    Xc = SliceDict(**Xc)
    cv = GroupKFold(3)
    params = {**SMALL, "max_epochs": 12}
    fold_train = next(cv.split(yc, yc, patient))[0]
    alone = I2MoEClassifier(**params).fit(
        {k: v[fold_train] for k, v in Xc.items()}, yc[fold_train], groups=patient[fold_train]
    )

    def first_fold(estimator, **groups):
        return cross_validate(
            estimator, Xc, yc, cv=cv, params={"groups": patient}, return_estimator=True, **groups
        )["estimator"][0]

    as_parameter = first_fold(I2MoEClassifier(**params), groups=patient)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = first_fold(I2MoEClassifier(**params).set_fit_request(groups=True))
        # a splitter's groups, refused for the fit: the fit without them, as before
        refused = first_fold(I2MoEClassifier(**params).set_fit_request(groups=False))
    plain = I2MoEClassifier(**params).fit(
        SliceDict(**{k: v[fold_train] for k, v in Xc.items()}), yc[fold_train]
    )
    np.testing.assert_array_equal(refused.predict_proba(Xc), plain.predict_proba(Xc))
    expected = alone.predict_proba(Xc)
    np.testing.assert_array_equal(as_parameter.predict_proba(Xc), expected)
    np.testing.assert_array_equal(routed.predict_proba(Xc), expected)
