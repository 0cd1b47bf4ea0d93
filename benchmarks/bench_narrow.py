"""A narrow informative modality beside wide modalities that carry nothing.

Clinical data often pair a few informative lab values with wide blocks (a notes
embedding, hundreds of code indicators) that say little about the label. At a
few hundred rows the wide blocks' experts fit noise within a few epochs; the
refit's floor of ten epochs (``REFIT_MIN_EPOCHS``) then trained the whole
mixture into that noise. The floor is now waived where the held-out rows show it
costs most of the best epoch's skill (``FLOOR_LOSS_Z``); this script measures
that change: every data set is fitted with the defaults and with the floor as
before (``FLOOR_LOSS_Z`` set to infinity for that fit), on the same rows.

Data (``--layouts``, each ``n_train:widths:signal``): a ``labs`` modality of 4
standard normal columns; one wide modality per entry of ``widths`` (``+`` between
them), alternately Gaussian noise, sparse binary codes (5 % ones) and a low-rank
embedding of an irrelevant factor; the label a Bernoulli draw (classification)
or a noisy value (``--task regression``) of ``signal`` in the labs: ``linear``
(``2 x0 - x1``), ``product`` (``2 x0 |x1|``) or ``threshold`` (``x0 > 0.5`` and
``x2 > -0.5``, shifted). ``--n-test`` test rows. Peers: ``LogisticRegression`` or
``Ridge`` on the labs alone (what the narrow modality gives) and on every column.
Printed: test ROC-AUC (R²) mean ± std over ``--seeds``, the refit's epochs, how
often the floor was waived, and how often ``interaction_report`` on the test
rows names ``uniqueness[labs]``.

Run ``python benchmarks/bench_narrow.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd
import torch
from _common import cpu_model
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import sk_i2moe._fit_rules as rules
from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe.inspection import interaction_report

LAYOUTS = [
    "300:500+400:linear",
    "600:500+400:product",
    "600:800:threshold",
    "1200:300+300+300:linear",
]


def signal(labs: np.ndarray, kind: str) -> np.ndarray:
    """The label's score from the labs (mean about 0, spread about 1-2)."""
    if kind == "linear":
        return 2.0 * labs[:, 0] - labs[:, 1]
    if kind == "product":
        return 2.0 * labs[:, 0] * np.abs(labs[:, 1])
    if kind == "threshold":
        return 3.0 * ((labs[:, 0] > 0.5) & (labs[:, 2] > -0.5)) - 1.0
    raise ValueError(f"unknown signal {kind!r}; use linear, product or threshold")


def make_narrow(
    n: int, widths: list[int], kind: str, task: str, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The modalities and the target of one data set of ``n`` rows."""
    labs = rng.normal(size=(n, 4))
    X = {"labs": labs}
    for i, width in enumerate(widths):
        if i % 3 == 0:
            X[f"wide{i}"] = rng.normal(size=(n, width))
        elif i % 3 == 1:
            X[f"wide{i}"] = (rng.random((n, width)) < 0.05).astype(float)
        else:  # an embedding of a factor the label does not depend on
            factor = rng.normal(size=(n, 8))
            X[f"wide{i}"] = factor @ rng.normal(size=(8, width)) + rng.normal(size=(n, width))
    score = signal(labs, kind)
    if task == "regression":
        return X, score + 0.5 * rng.normal(size=n)
    return X, (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * score))).astype(int)


def fit_i2moe(task: str, seed: int, floor_always: bool, X: dict, y: np.ndarray):
    """A default estimator fitted on ``X, y``; with ``floor_always`` the floor is never waived."""
    estimator = (I2MoERegressor if task == "regression" else I2MoEClassifier)(
        random_state=seed, n_threads=1
    )
    kept = rules.FLOOR_LOSS_Z
    rules.FLOOR_LOSS_Z = math.inf if floor_always else kept
    try:
        return estimator.fit(X, y)
    finally:
        rules.FLOOR_LOSS_Z = kept


def score(task: str, y: np.ndarray, model: object, X: object) -> float:
    if task == "regression":
        return float(r2_score(y, model.predict(X)))
    return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layouts", nargs="+", default=LAYOUTS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument(
        "--task", choices=["classification", "regression"], default="classification"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(1)
    print(f"CPU: {cpu_model()}, torch {torch.__version__}, one thread for every model")
    linear = (
        (lambda: make_pipeline(StandardScaler(), RidgeCV()))
        if args.task == "regression"
        else (lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)))
    )
    rows = []
    for layout in args.layouts:
        n_train, widths, kind = layout.split(":")
        widths = [int(w) for w in widths.split("+")]
        for seed in range(args.seeds):
            rng = np.random.default_rng([seed, int(n_train), *widths])
            X, y = make_narrow(int(n_train) + args.n_test, widths, kind, args.task, rng)
            train = {k: v[: int(n_train)] for k, v in X.items()}
            test = {k: v[int(n_train) :] for k, v in X.items()}
            y_train, y_test = y[: int(n_train)], y[int(n_train) :]
            for name, columns in (
                ("linear, labs alone", ["labs"]),
                ("linear, every column", list(X)),
            ):
                model = linear().fit(np.hstack([train[c] for c in columns]), y_train)
                value = score(args.task, y_test, model, np.hstack([test[c] for c in columns]))
                rows.append((layout, seed, name, value, np.nan, np.nan, np.nan, np.nan))
            for name, floor_always in (("I2MoE defaults", False), ("I2MoE, floor always", True)):
                start = time.perf_counter()
                model = fit_i2moe(args.task, seed, floor_always, train, y_train)
                fit_s = time.perf_counter() - start
                value = score(args.task, y_test, model, test)
                dominant = interaction_report(model, test, y_test).dominant
                waived = model.validation_loss_ is not None and model.n_iter_ < min(
                    rules.REFIT_MIN_EPOCHS, model.max_epochs
                )
                named = dominant == "uniqueness[labs]"
                rows.append(
                    (layout, seed, name, value, model.n_iter_, float(waived), float(named), fit_s)
                )
            print(f"{layout} seed {seed} done", flush=True)
    frame = pd.DataFrame(
        rows, columns=["layout", "seed", "model", "score", "epochs", "waived", "named", "fit_s"]
    )
    table = frame.groupby(["layout", "model"], sort=False).agg(
        score_mean=("score", "mean"),
        score_std=("score", "std"),
        epochs=("epochs", "mean"),
        waived=("waived", lambda s: s.sum(min_count=1)),
        report_names_labs=("named", lambda s: s.sum(min_count=1)),
        fit_s=("fit_s", "median"),
    )
    metric = "R²" if args.task == "regression" else "ROC-AUC"
    print(
        f"\nTest {metric}, mean ± std over {args.seeds} data sets ({args.task}; layout "
        f"n_train:widths:signal; {args.n_test} test rows); epochs: the refit's (mean); waived and "
        f"report_names_labs: fits of {args.seeds}; fit_s: median seconds"
    )
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
