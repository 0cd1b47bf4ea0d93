"""interaction_report(groups=...): held-out samples that are not independent."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge, RidgeCV

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe._evidence import (
    CROSS_FIT_FOLDS,
    PROBE_ALPHAS,
    _base_rates,
    _chance_losses,
    _cross_fitted,
    _fold_splits,
    _group_partners,
    _grouped_penalty,
    _probe_losses,
    _squared_errors,
)
from sk_i2moe.datasets import make_interaction_classification, make_interaction_regression
from sk_i2moe.inspection import interaction_report

from .helpers import repeated

SMALL = {"hidden_dim": 16, "n_tokens": 2, "max_epochs": 15, "lr": 5e-3, "random_state": 0}


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = make_interaction_classification("redundancy", n_samples=400, random_state=0)
    train = {k: v[:250] for k, v in X.items()}
    test = {k: v[250:] for k, v in X.items()}
    return I2MoEClassifier(**SMALL, n_threads=1).fit(train, y[:250]), test, y[250:]


def _widths(report):
    table = report.table
    return (table["skill_high"] - table["skill_low"]).to_numpy()


def test_groups_give_repeated_samples_the_intervals_of_the_samples_once(fitted):
    clf, X, y = fitted
    once = interaction_report(clf, X, y, n_bootstrap=400)
    X4, y4, patient = repeated(X, y, 4)
    rows = interaction_report(clf, X4, y4, n_bootstrap=400)
    grouped = interaction_report(clf, X4, y4, n_bootstrap=400, groups=patient)
    # four copies of each sample counted as independent: intervals about half as wide
    assert np.median(_widths(rows) / _widths(once)) < 0.65
    # resampled by group: as wide as the samples given once
    assert 0.8 < np.median(_widths(grouped) / _widths(once)) < 1.25
    assert grouped.n_groups == len(y) and rows.n_groups is None
    first = grouped.summary().splitlines()[0]
    assert f"on {len(y4)} held-out samples in {len(y)} groups" in first
    # the point estimates are the copies' own: the same as the samples once
    np.testing.assert_allclose(grouped.table["skill"], once.table["skill"], atol=1e-9)


def test_groups_of_one_sample_each_are_the_report_without_groups(fitted):
    clf, X, y = fitted
    plain = interaction_report(clf, X, y, n_bootstrap=200)
    own = interaction_report(clf, X, y, n_bootstrap=200, groups=np.arange(len(y)) * 7)
    pd.testing.assert_frame_equal(own.table, plain.table, check_exact=True)
    assert own.summary() == plain.summary() and own.n_groups is None


def test_the_grouped_report_depends_on_which_samples_share_a_group_only(fitted):
    clf, X, y = fitted
    X3, y3, patient = repeated(X, y, 3)
    base = interaction_report(clf, X3, y3, n_bootstrap=200, groups=patient)
    order = np.random.default_rng(5).permutation(len(y3))
    names = np.array([f"patient-{i}" for i in np.random.default_rng(6).permutation(len(y))])
    other = interaction_report(
        clf,
        {k: v[order] for k, v in X3.items()},
        y3[order],
        n_bootstrap=200,
        groups=names[patient][order],
    )
    pd.testing.assert_frame_equal(other.table, base.table, check_exact=True)
    assert other.summary() == base.summary()


def test_a_modality_seen_in_one_group_supports_no_claim(fitted):
    """Its rows resampled together never vary: a claim on them would rest on one group."""
    clf, X, y = fitted
    X = {k: v.copy() for k, v in X.items()}
    X["m2"][15:] = np.nan  # measured at one hospital only
    hospital = np.r_[np.zeros(15, dtype=int), 1 + np.arange(len(y) - 15) % 20]
    rows = interaction_report(clf, X, y, n_bootstrap=200)
    grouped = interaction_report(clf, X, y, n_bootstrap=200, groups=hospital)
    assert "a claim needs" not in rows.table.loc["uniqueness[m2]", "reason"]
    assert grouped.table.loc["uniqueness[m2]", "reason"] == (
        "only 1 held-out groups have its modalities; a claim needs at least 10"
    )
    for expert in grouped.table.index:
        reason = grouped.table.loc[expert, "reason"]
        assert "'m2' and" not in reason and "and 'm2' predict" not in reason
        if expert != "uniqueness[m2]" and "'m2'" in reason:
            assert "fewer than 10 held-out groups" in reason


def test_the_folds_keep_each_group_whole_and_every_class_in_each_fit():
    rng = np.random.default_rng(0)
    clusters = rng.integers(0, 40, size=300)
    classes = (clusters % 3 == 0).astype(int)  # a patient's visits share the label
    for labels in (classes, None):
        splits = _fold_splits(np.arange(300), labels, 0, clusters)
        assert len(splits) == CROSS_FIT_FOLDS
        tested = np.concatenate([test for _, test in splits])
        assert np.array_equal(np.sort(tested), np.arange(300))
        for train, test in splits:
            assert not set(clusters[train]) & set(clusters[test])
            if labels is not None:
                assert set(labels[train]) == {0, 1}
    # fewer groups than folds, or a class in too few groups to be in every fit
    assert _fold_splits(np.arange(300), None, 0, clusters % 4) is None
    rare = (clusters == 7).astype(int)
    assert _fold_splits(np.arange(300), rare, 0, clusters) is None


def test_the_probes_penalty_is_chosen_on_folds_of_groups():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 30))
    Y = X @ rng.normal(size=(30, 2)) / 3 + rng.normal(size=(120, 2)) * 3
    w = rng.uniform(0.5, 2.0, 120)
    splits = _fold_splits(np.arange(120), None, 0, np.repeat(np.arange(30), 4))
    errors = [
        sum(
            w[test]
            @ np.square(Ridge(alpha=a).fit(X[tr], Y[tr], w[tr]).predict(X[test]) - Y[test]).sum(1)
            for tr, test in splits
        )
        for a in PROBE_ALPHAS
    ]
    assert _grouped_penalty(X, Y, w, splits) == PROBE_ALPHAS[int(np.argmin(errors))]
    # eight alike visits of 60 patients, 200 features, five of them weakly informative: leaving
    # one visit out keeps the patient's others in, and picks too small a penalty
    gains = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        patient = np.repeat(np.arange(60), 8)
        z = rng.normal(size=(60, 200))
        label = (z[:, :5].sum(axis=1) * 0.5 + rng.normal(size=60) > 0).astype(int)
        features, y = z[patient] + 0.3 * rng.normal(size=(480, 200)), label[patient]
        everywhere = np.ones(480, dtype=bool)
        chance = _chance_losses(y, "classification", everywhere).mean()
        grouped = _probe_losses(features, everywhere, y, "classification", 0, None, patient)
        design = (features - features.mean(0)) / features.std(0)
        one_out = _cross_fitted(
            RidgeCV(alphas=PROBE_ALPHAS),
            "predict",
            design,
            np.eye(2)[y],
            _fold_splits(np.arange(480), None, 0, patient),
            None,
        )
        loss = _squared_errors(one_out, y, "classification")
        gains.append((loss.mean() - grouped.mean()) / chance)
    assert np.mean(gains) > 0.05


def test_the_swap_pairs_join_samples_of_two_groups_of_the_same_modalities():
    rng = np.random.default_rng(1)
    clusters = rng.integers(0, 30, size=240)
    patterns = rng.integers(0, 2, size=240)
    partner, together = _group_partners(rng, clusters, patterns)
    paired = partner != np.arange(240)
    assert (partner[partner] == np.arange(240)).all() and paired.mean() > 0.5
    assert (clusters[partner] != clusters)[paired].all()
    assert (patterns[partner] == patterns).all()
    # the two groups of a pair are resampled together, and only they
    assert (together[partner] == together).all()
    for pair in np.unique(together):
        assert len(np.unique(clusters[together == pair])) <= 2


def test_the_base_rate_z_of_a_regressor_counts_a_repeated_sample_once_with_groups():
    rng = np.random.default_rng(2)
    outputs = rng.normal(size=(300, 2))
    targets = outputs + 0.3 + rng.normal(size=(300, 2))
    each_alone = _base_rates(outputs, targets, "regression", clusters=np.arange(300))
    index = np.repeat(np.arange(300), 5)
    grouped = _base_rates(outputs[index], targets[index], "regression", clusters=index)
    np.testing.assert_allclose(grouped["z"], each_alone["z"], rtol=1e-9)
    repeated = _base_rates(outputs[index], targets[index], "regression")
    assert (np.abs(repeated["z"]) > 2 * np.abs(grouped["z"])).all()


def test_the_base_rate_check_allows_for_groups_whose_rates_differ():
    """Hospitals whose rates scatter around a right prediction: no shift, with groups."""
    rng = np.random.default_rng(3)
    hospital = np.repeat(np.arange(25), 20)
    fired = {"rows": 0, "groups": 0, "shift": 0}
    for _ in range(200):
        logit = rng.normal(size=500)
        effect = rng.normal(scale=0.7, size=25)[hospital]  # each hospital's own rate
        y = (rng.random(500) < 1 / (1 + np.exp(-(logit + effect)))).astype(int)
        outputs = np.column_stack([np.zeros(500), logit])
        shifted = np.column_stack([np.zeros(500), logit - 1.0])  # a real miss of the rate
        fired["rows"] += abs(_base_rates(outputs, y, "classification")["z"][1]) > 2.58
        z = _base_rates(outputs, y, "classification", clusters=hospital)["z"][1]
        fired["groups"] += abs(z) > 2.58
        z = _base_rates(shifted, y, "classification", clusters=hospital)["z"][1]
        fired["shift"] += abs(z) > 2.58
    # (measured: 28, 5 and 199 of 200) the 25 hospitals' scatter read as a miss of the rates
    # without groups, about the level's 1 % with them, a real miss found either way
    assert fired["rows"] >= 20 and fired["groups"] <= 8 and fired["shift"] >= 190


def test_a_regressors_report_takes_groups():
    X, y, _ = make_interaction_regression("uniqueness", n_samples=300, random_state=1)
    reg = I2MoERegressor(**SMALL, n_threads=1).fit({k: v[:200] for k, v in X.items()}, y[:200])
    X2, y2, patient = repeated({k: v[200:] for k, v in X.items()}, y[200:], 2)
    report = interaction_report(reg, X2, y2, n_bootstrap=200, groups=patient)
    assert report.n_groups == 100 and np.isfinite(report.table["skill_low"]).all()


def test_bad_groups_are_named(fitted):
    clf, X, y = fitted
    n = len(y)
    with pytest.raises(ValueError, match=f"groups has {n - 1} labels but X has {n} samples"):
        interaction_report(clf, X, y, groups=np.arange(n - 1))
    with pytest.raises(ValueError, match="1-D array-like"):
        interaction_report(clf, X, y, groups=np.zeros((n, 2)))
    with pytest.raises(ValueError, match="1-D array-like"):
        interaction_report(clf, X, y, groups="patient")
    missing = np.arange(n).astype(float) % 20
    missing[3] = np.nan
    with pytest.raises(ValueError, match=r"1 missing labels \(None or NaN\) at rows \[3\]"):
        interaction_report(clf, X, y, groups=missing)
    with pytest.raises(ValueError, match="groups holds 9 groups .* needs at least 10"):
        interaction_report(clf, X, y, groups=np.arange(n) % 9)
    with pytest.raises(TypeError, match="hashable"):
        interaction_report(clf, X, y, groups=[{i} for i in range(n)])
    with pytest.raises(TypeError, match="hashable"):
        interaction_report(clf, X, y, groups=[[i % 20] * (1 + i % 2) for i in range(n)])
    # tuples are labels: the same report as the integers they stand for
    as_tuples = interaction_report(
        clf, X, y, n_bootstrap=200, groups=[(i % 20, "a") for i in range(n)]
    )
    as_integers = interaction_report(clf, X, y, n_bootstrap=200, groups=np.arange(n) % 20)
    pd.testing.assert_frame_equal(as_tuples.table, as_integers.table, check_exact=True)
    frame = {k: pd.DataFrame(v, index=np.arange(n) + 100) for k, v in X.items()}
    reordered = pd.Series(np.arange(n) % 20, index=(np.arange(n) + 100)[::-1])
    with pytest.raises(ValueError, match="groups's row index holds the labels of X's rows"):
        interaction_report(clf, frame, y, groups=reordered)
