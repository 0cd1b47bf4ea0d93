"""How many epochs a refit should train: rules compared offline on per-epoch curves.

``early_stopping="refit"`` chooses a number of epochs on a held-out split, then fits a fresh
network on all the training data for that many epochs. With the same ``random_state`` and no
learning-rate schedule, that refit is the first E epochs of one fit on all the data (the
script checks this once, to the bit). So one held-out fit (``early_stopping=True`` with
unlimited patience) and one all-data fit per fold, with a snapshot of the network after every
epoch, give every rule's result without refitting:

- the held-out fit gives the validation loss after every epoch (what a rule sees);
- the all-data fit, restored to epoch E, gives the held-out test scores of a refit for E
  epochs, and on mixed latent data the per-sample routing (the share of each mechanism's
  samples whose largest weight is on their own expert).

Rules: ``fixed 30`` (no early stopping), ``loss`` (the epoch of lowest validation loss, with
skorch's patience rule of ``n_iter_no_change=10`` and ``tol=1e-4`` within 30 epochs: the
refit without a floor), and ``loss, at least F`` for each ``--floors`` value.

Data: ``bench_accuracy.py``'s data sets (one repeat of its 5-fold CV, the same folds and
seeds) and latent mixed data (``latent:n=2000:m=3:noise=0.1``, five seeds, a pure-noise
modality added, 25 % held out as in ``bench_interpretation.py``).

Run ``python benchmarks/bench_epochs.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import pandas as pd
from _latent import MIXED, make_latent
from bench_accuracy import load, preprocess
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split
from skorch.callbacks import Callback

from sk_i2moe import I2MoEClassifier
from sk_i2moe._fit_rules import REFIT_MIN_EPOCHS
from sk_i2moe.inspection import explain
from sk_i2moe.nn import DEFAULTS

LATENT_DEFAULTS = {"n": 2000, "m": 3, "noise": 0.1}


class Snapshots(Callback):
    """Keep a copy of the module's weights after every epoch (in ``store``)."""

    def __init__(self, store: list) -> None:
        self.store = store

    def on_epoch_end(self, net: object, **kwargs: object) -> None:
        self.store.append(copy.deepcopy(net.module_.state_dict()))

    def __deepcopy__(self, memo: dict) -> Snapshots:  # the estimator copies callbacks
        return Snapshots(self.store)


def _auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr"))


def curves(name, X_train, y_train, X_test, y_test, seed, args, mechanisms=None) -> list[dict]:
    """One row per epoch: validation loss of the held-out fit, test scores of the all-data fit."""
    params = {"random_state": seed, "n_threads": args.threads, "max_epochs": args.max_epochs}
    held_out = I2MoEClassifier(
        **params, early_stopping=True, validation_fraction=0.2, n_iter_no_change=10**6
    ).fit(X_train, y_train)
    valid_loss = np.asarray(held_out.history_[:, "valid_loss"], float)
    store: list = []
    full = I2MoEClassifier(**params, early_stopping=False, callbacks=[Snapshots(store)])
    full.fit(X_train, y_train)
    names = list(full.expert_names_)
    rows = []
    for epoch, state in enumerate(store, 1):
        full.net_.module_.load_state_dict(state)
        proba = full.predict_proba(X_test)
        pred = full.classes_[proba.argmax(1)]
        row = {
            "data set": name,
            "seed": seed,
            "epoch": epoch,
            "valid_loss": valid_loss[epoch - 1],
            "ROC-AUC": _auc(y_test, proba),
            "macro-F1": float(f1_score(y_test, pred, average="macro")),
        }
        if mechanisms is not None:
            weights = explain(full, X_test).weights
            for mechanism in MIXED:
                rows_m = mechanisms == mechanism
                top = np.argmax(weights[rows_m], axis=1) == names.index(mechanism)
                row[f"argmax {mechanism}"] = float(np.mean(top))
        rows.append(row)
    return rows


def check_truncation(X: dict, y: np.ndarray, args: argparse.Namespace) -> None:
    """A refit for E epochs equals the all-data fit's snapshot after epoch E."""
    store: list = []
    kwargs = {"random_state": 3, "n_threads": args.threads, "early_stopping": False}
    longer = I2MoEClassifier(**kwargs, max_epochs=6, callbacks=[Snapshots(store)]).fit(X, y)
    longer.net_.module_.load_state_dict(store[3])
    shorter = I2MoEClassifier(**kwargs, max_epochs=4).fit(X, y)
    gap = np.abs(longer.predict_proba(X) - shorter.predict_proba(X)).max()
    print(f"refit for 4 epochs vs the 6-epoch fit's 4th snapshot: max |dp| = {gap:.1e}")
    if gap > 1e-6:
        raise SystemExit("the truncation shortcut does not hold here; refit instead")


def latent_options(spec: str) -> dict:
    """``latent:n=800:m=4`` -> the generator's options (defaults for the others)."""
    options = dict(LATENT_DEFAULTS)
    for item in spec.split(":")[1:]:
        key, value = item.split("=")
        options[key] = type(LATENT_DEFAULTS[key])(value)
    return options


def run(name: str, args: argparse.Namespace) -> list[dict]:
    rows = []
    if name.startswith("latent"):
        opts = latent_options(name)
        for seed in range(args.seeds):
            X, y, labels = make_latent(
                "mixed",
                n_samples=opts["n"],
                n_modalities=opts["m"],
                noise=opts["noise"],
                random_state=seed,
            )
            X["noise"] = np.random.default_rng(1000 + seed).normal(size=(len(y), 10))
            train, test = train_test_split(
                np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed
            )
            X_train = {k: v[train] for k, v in X.items()}
            X_test = {k: v[test] for k, v in X.items()}
            rows += curves(name, X_train, y[train], X_test, y[test], seed, args, labels[test])
        return rows
    X, y = load(name)
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=1, random_state=0)
    for fold, (train, test) in enumerate(cv.split(y, y)):
        X_train, X_test = preprocess(
            {k: v[train] for k, v in X.items()}, {k: v[test] for k, v in X.items()}
        )
        rows += curves(name, X_train, y[train], X_test, y[test], fold, args)
    return rows


def lowest_loss_epoch(valid_loss: np.ndarray) -> int:
    """skorch's ``EarlyStopping`` with the default patience, tol and max_epochs: the best epoch."""
    patience, tol = DEFAULTS["n_iter_no_change"], DEFAULTS["tol"]
    best, best_epoch, wait = np.inf, 0, 0
    for i, value in enumerate(valid_loss[: DEFAULTS["max_epochs"]]):
        if value < best - tol:
            best, best_epoch, wait = value, i, 0
        else:
            wait += 1
            if wait >= patience:
                break
    return best_epoch + 1


def choose(curves_: pd.DataFrame, floors: list[int]) -> pd.DataFrame:
    """Every rule's epoch and the scores there, one row per (data set, seed, rule)."""
    rows = []
    for (name, seed), group in curves_.groupby(["data set", "seed"]):
        group = group.sort_values("epoch").reset_index(drop=True)
        best = lowest_loss_epoch(group["valid_loss"].to_numpy())
        fixed = DEFAULTS["max_epochs"]
        rules = {f"fixed {fixed}": fixed, "loss": best}
        rules.update({f"loss, at least {f}": max(best, f) for f in floors})
        for rule, epoch in rules.items():
            chosen = group.iloc[min(epoch, len(group)) - 1]
            scores = chosen.drop(["data set", "seed", "epoch", "valid_loss"]).to_dict()
            rows.append({"data set": name, "seed": seed, "rule": rule, "epoch": epoch, **scores})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        default="latent,actg175,ncctg_lung,breast_gse7390,whas500,gbsg2,tcga_lgg,tcga_kipan",
        help="bench_accuracy.py data sets, and latent[:n=..][:m=..][:noise=..]",
    )
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--floors", default=f"8,{REFIT_MIN_EPOCHS},12")
    parser.add_argument("--seeds", type=int, default=5, help="latent data only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--csv", default=None, help="also write the per-epoch curves here")
    args = parser.parse_args()
    floors = [int(f) for f in args.floors.split(",")]
    X, y = load("breast_cancer")
    check_truncation(X, y, args)
    rows = []
    for name in args.datasets.split(","):
        start = time.perf_counter()
        rows += run(name, args)
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
        if args.csv:
            pd.DataFrame(rows).to_csv(args.csv, index=False)
    chosen = choose(pd.DataFrame(rows), floors)
    order = list(dict.fromkeys(chosen["rule"]))
    for metric in ("ROC-AUC", "macro-F1", "epoch"):
        table = chosen.pivot_table(index="data set", columns="rule", values=metric)[order]
        print(f"\n{metric} (mean over folds or seeds)\n{table.round(3).to_string()}")
    routing = [c for c in chosen.columns if c.startswith("argmax")]
    if routing:
        mixed = chosen.dropna(subset=routing)
        summary = mixed.groupby(["data set", "rule"], sort=False)[routing].mean()
        summary["seeds with one < 0.8"] = (
            (mixed[routing] < 0.8).any(axis=1).groupby([mixed["data set"], mixed["rule"]]).sum()
        )
        print("\nmixed latent data: share of each mechanism's samples routed to its own expert")
        print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
