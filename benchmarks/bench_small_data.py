"""Small training sets: the calibrated fallback of ``early_stopping="auto"`` against none.

Below 96 training rows ``early_stopping="auto"`` cannot hold out enough samples to choose the
number of epochs, so it trains ``max_epochs`` on all the data; a classifier then divides its
outputs by a temperature fitted on cross-fitted predictions (``output_temperature_``). Its
network is the one ``early_stopping=False`` trains (same seed, same data), so the two rows of
this benchmark differ by the temperature alone: the same predicted classes and, for two
classes, the same ROC-AUC; the log-loss says whether the probabilities became more honest.

Data (5-fold stratified CV, every view imputed and standardised on the training part):

- the whole of every real data set below 125 samples (MONET, nutrimouse), three repeats;
- ``--rows``-row stratified subsamples (``--draws`` draws) of the other real data sets,
  one repeat each (training sets of 80 rows for 100);
- the package's synthetic generators (uniqueness, synergy, redundancy; ``--rows`` samples,
  2, 3 and 4 modalities, two seeds, one of them with an added pure-noise modality).

Run ``python benchmarks/bench_small_data.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch
from _common import cpu_model
from bench_accuracy import available, cv_folds
from sklearn.metrics import f1_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification

#: the two rows compared: what "auto" does on small data, and the same network uncalibrated
CONFIGS = {"default (calibrated)": {}, "early_stopping=False": {"early_stopping": False}}

#: real data sets used whole (they are small); the others are subsampled
WHOLE = ("monet", "nutrimouse")
SUBSAMPLED = (
    "breast_cancer",
    "mfeat",
    "tcga_brca",
    "tcga_kipan",
    "tcga_lgg",
    "breast_gse7390",
    "whas500",
    "actg175",
    "gbsg2",
    "ncctg_lung",
)


def cases(args: argparse.Namespace) -> Iterator[tuple[str, dict, np.ndarray, int]]:
    """``(name, X, y, repeats)`` of every data set of the benchmark."""
    for name, X, y in available(",".join(WHOLE)):
        yield name, X, y, 3
    for name, X, y in available(",".join(SUBSAMPLED)):
        for draw in range(args.draws):
            keep, _ = train_test_split(
                np.arange(len(y)), train_size=args.rows, stratify=y, random_state=draw
            )
            yield f"{name}-{args.rows}[{draw}]", {k: v[keep] for k, v in X.items()}, y[keep], 1
    for truth in ("uniqueness", "synergy", "redundancy"):
        for n_modalities in (2, 3, 4):
            for seed in (0, 1):
                X, y, *_ = make_interaction_classification(
                    truth, n_samples=args.rows, n_modalities=n_modalities, random_state=seed
                )
                if seed == 1:  # a modality that says nothing about the label
                    X["noise"] = np.random.default_rng(seed).normal(size=(args.rows, 8))
                label = f"{truth} M={n_modalities}{' +noise' if seed else ''}"
                yield label, X, y, 1


def scores(model: I2MoEClassifier, X_test: dict, y_test: np.ndarray) -> dict:
    """Held-out log-loss, ROC-AUC (one-vs-rest macro), macro-F1 and one-class collapse."""
    proba = model.predict_proba(X_test)
    labels = model.classes_
    if len(labels) == 2:
        auc = roc_auc_score(y_test, proba[:, 1])
    else:
        auc = roc_auc_score(y_test, proba, multi_class="ovr", labels=labels)
    predicted = labels[proba.argmax(axis=1)]
    return {
        "log-loss": log_loss(y_test, proba, labels=labels),
        "ROC-AUC": auc,
        "macro-F1": f1_score(y_test, predicted, average="macro"),
        "one class": len(np.unique(predicted)) == 1,
        "temperature": model.output_temperature_,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100, help="rows of each subsample")
    parser.add_argument("--draws", type=int, default=2, help="subsamples per real data set")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--csv", default=None, help="also write every fold's result here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    print(f"torch {torch.__version__}, {cpu_model()}, {args.threads} threads")
    rows = []
    for name, X, y, repeats in cases(args):
        for fold, train, test, X_train, X_test in cv_folds(X, y, 5, repeats):
            for config, params in CONFIGS.items():
                start = time.perf_counter()
                model = I2MoEClassifier(random_state=fold, **params).fit(X_train, y[train])
                seconds = time.perf_counter() - start
                rows.append(
                    {"data": name, "fold": fold, "model": config, "fit s": seconds}
                    | scores(model, X_test, y[test])
                )
        print(f"{name}: {len(y)} samples", flush=True)
        if args.csv:
            pd.DataFrame(rows).to_csv(args.csv, index=False)
    results = pd.DataFrame(rows)
    summary = results.groupby(["data", "model"], sort=False).agg(
        **{
            f"{metric} {stat}": (metric, stat)
            for metric in ("log-loss", "ROC-AUC", "macro-F1")
            for stat in ("mean", "std")
        },
        **{"T mean": ("temperature", "mean"), "one-class folds": ("one class", "sum")},
        **{"fit s": ("fit s", "mean")},
    )
    pd.set_option("display.width", 250)
    print(summary.round(3).to_string())
    wide = results.pivot_table(index="data", columns="model", values="log-loss", sort=False)
    change = wide["default (calibrated)"] - wide["early_stopping=False"]
    print(
        f"\nlog-loss lower with the calibrated fallback on {(change < 0).sum()} of {len(wide)} "
        f"data sets; median change {change.median():+.3f}, largest rise {change.max():+.3f}"
    )


if __name__ == "__main__":
    main()
