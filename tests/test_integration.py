"""I2MoEClassifier inside scikit-learn's tools: pipelines, search, CV, calibration, dask."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_predict,
    cross_val_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch.helper import SliceDict

from sk_i2moe import I2MoEClassifier

SMALL = {"max_epochs": 3, "hidden_dim": 8, "n_tokens": 2, "batch_size": 16, "random_state": 0}


@pytest.fixture(scope="module")
def clinical():
    """A small clinical-style table: numeric labs, note embeddings, one categorical code."""
    rng = np.random.default_rng(0)
    n = 90
    frame = pd.DataFrame(
        {
            "hb": rng.normal(13, 2, n),
            "crp": rng.lognormal(1, 1, n),
            "svd0": rng.normal(size=n),
            "svd1": rng.normal(size=n),
            "ward": rng.choice(["icu", "med", "surg"], n),
        }
    )
    frame.loc[::10, "hb"] = np.nan
    y = ((frame["crp"] > 3) ^ (frame["svd0"] > 0)).astype(int).to_numpy()
    return frame, y


def _preprocess():
    return ColumnTransformer(
        [
            ("labs", make_pipeline(SimpleImputer(), StandardScaler()), ["hb", "crp"]),
            ("notes", "passthrough", ["svd0", "svd1"]),
            ("codes", OneHotEncoder(sparse_output=False), ["ward"]),
        ]
    ).set_output(transform="pandas")


def test_pipeline_with_column_transformer_prefixes(clinical):
    frame, y = clinical
    pipe = Pipeline([("prep", _preprocess()), ("clf", I2MoEClassifier(**SMALL))]).fit(frame, y)
    clf = pipe[-1]
    assert clf.modalities_ == {"labs": 2, "notes": 2, "codes": 3}
    assert clf.feature_names_in_[0] == "labs__hb"
    assert pipe.predict_proba(frame).shape == (90, 2)
    assert 0.0 <= pipe.score(frame, y) <= 1.0


def test_clone_and_params():
    clf = I2MoEClassifier(hidden_dim=16, lr=0.01, callbacks=[])
    params = clf.get_params()
    assert params["hidden_dim"] == 16 and params["lr"] == 0.01
    twin = clone(clf)
    assert twin.get_params() == params and twin is not clf
    clf.set_params(hidden_dim=32, fusion="transformer")
    assert clf.hidden_dim == 32 and clf.fusion == "transformer"
    assert not hasattr(clone(clf), "net_")


def test_grid_search_with_slicedict(clinical):
    frame, y = clinical
    X = SliceDict(
        labs=frame[["hb", "crp"]].fillna(13).to_numpy(), notes=frame[["svd0", "svd1"]].to_numpy()
    )
    search = GridSearchCV(
        I2MoEClassifier(**SMALL),
        {"interaction_loss_weight": [0.1, 0.5], "temperature": [0.5, 1.0]},
        cv=2,
        scoring="roc_auc",
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.modalities_ == {"labs": 2, "notes": 2}
    assert search.predict(X[:5]).shape == (5,)


def test_randomized_search_with_dataframe(clinical):
    frame, y = clinical
    # early_stopping=False: on these 45-90 rows the default would add five calibration fits to
    # each of the search's seven (the fallback has its own tests, test_calibration.py)
    clf = I2MoEClassifier(**SMALL, early_stopping=False)
    pipe = Pipeline([("prep", _preprocess()), ("clf", clf)])
    search = RandomizedSearchCV(
        pipe,
        {"clf__lr": loguniform(1e-4, 1e-2), "clf__fusion": ["mlp", "transformer"]},
        n_iter=3,
        cv=2,
        random_state=0,
    ).fit(frame, y)
    assert len(search.cv_results_["params"]) == 3
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_cross_validation_helpers(clinical):
    frame, y = clinical
    pipe = Pipeline([("prep", _preprocess()), ("clf", I2MoEClassifier(**SMALL))])
    scores = cross_val_score(pipe, frame, y, cv=3)
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()
    proba = cross_val_predict(pipe, frame, y, cv=3, method="predict_proba")
    assert proba.shape == (90, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)


def test_calibrated_classifier(clinical):
    frame, y = clinical
    X = _preprocess().fit_transform(frame)
    calibrated = CalibratedClassifierCV(I2MoEClassifier(**SMALL), cv=2).fit(X, y)
    proba = calibrated.predict_proba(X)
    assert proba.shape == (90, 2)
    assert len(calibrated.calibrated_classifiers_) == 2
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert roc_auc_score(y, proba[:, 1]) > 0.7  # probabilities that rank, not constants


def test_grid_search_on_dask_cluster(clinical):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_config

    frame, y = clinical
    X = _preprocess().fit_transform(frame)
    search = GridSearchCV(
        I2MoEClassifier(**SMALL, n_threads=1, early_stopping=False),  # as above
        {"temperature": [0.5, 1.0]},
        cv=2,
        n_jobs=-1,
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with parallel_config(backend="dask"):
            search.fit(X, y)
        # the fits really ran on the cluster's workers
        assert client.run(lambda: True)
        assert len(client.scheduler_info()["workers"]) == 2
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
