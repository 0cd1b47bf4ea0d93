"""Training rows that repeat patients: the default fit with and without ``groups``.

Each patient is a draw of a generator (``package``:
:func:`~sk_i2moe.datasets.make_interaction_classification`, three modalities of
ten features; ``warped``: ``benchmarks/_warped.py``, three warped modalities of
6, 15 and 30 features with 10 % of the labels flipped); each of ``--visits``
visits repeats the patient's features plus independent noise of
``--visit-noise`` times each feature's standard deviation, with the patient's
label. ``--train`` patients (all their visits) train ``I2MoEClassifier``
(defaults, one torch thread) three ways:

- ``rows``: ``fit(X, y)``, the internal held-out part drawn by row, so a
  patient's visits sit on both sides;
- ``groups``: ``fit(X, y, groups=patient)``, whole patients held out;
- ``reference``: ``early_stopping=False`` with ``max_epochs`` the number of
  epochs the default chooses on one visit per patient (no patient on both
  sides; no output temperature).

Scored on ``--fresh`` new patients, one visit each: ROC-AUC, log-loss and
Brier score (``--task regression``: ``I2MoERegressor`` on the generators'
regression targets, R², RMSE and MAE), mean +- std over the seeds, and the
differences ``groups - rows`` (paired by seed); also the epochs the final fit
trained and the fitted output temperature (1 for a regressor, which has none).

Run ``python benchmarks/bench_fit_groups.py`` (``--help`` for options), e.g.
``python benchmarks/bench_fit_groups.py --seeds 0 10`` for the table in
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from _warped import make_warped
from bench_groups import visits_of
from sklearn.metrics import (
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe.datasets import make_interaction_classification, make_interaction_regression

WAYS = ("rows", "groups", "reference")
METRICS = {
    "classification": ("ROC-AUC", "log-loss", "Brier"),
    "regression": ("R2", "RMSE", "MAE"),
}


def patients(
    generator: str, mechanism: str, n: int, seed: int, task: str
) -> tuple[dict, np.ndarray]:
    """``n`` patients' features and targets."""
    if generator == "package":
        make = (
            make_interaction_classification
            if task == "classification"
            else make_interaction_regression
        )
        X, y, _ = make(mechanism, n_samples=n, random_state=seed)
    else:
        name = "uniqueness[m0]" if mechanism == "uniqueness" else mechanism
        X, y, _ = make_warped(name, n_samples=n, n_modalities=3, task=task, random_state=seed)
    return X, y


def scores(task: str, clf: object, X: dict, y: np.ndarray) -> dict:
    """The metrics of ``clf`` on ``X``, ``y``, its epochs and its output temperature."""
    if task == "classification":
        proba = clf.predict_proba(X)[:, 1]
        values = (roc_auc_score(y, proba), log_loss(y, proba), brier_score_loss(y, proba))
        temperature = clf.output_temperature_
    else:
        predicted = clf.predict(X)
        values = (
            r2_score(y, predicted),
            np.sqrt(mean_squared_error(y, predicted)),
            mean_absolute_error(y, predicted),
        )
        temperature = 1.0  # a regressor has none
    out = dict(zip(METRICS[task], values))
    return {**out, "epochs": clf.n_iter_, "temperature": temperature}


def one_seed(generator: str, mechanism: str, seed: int, args: argparse.Namespace) -> dict:
    """The three fits of one seed, scored on new patients."""
    rng = np.random.default_rng(seed + 1000)
    X, y = patients(generator, mechanism, args.train + args.fresh, seed, args.task)
    estimator = I2MoEClassifier if args.task == "classification" else I2MoERegressor
    train = {k: v[: args.train] for k, v in X.items()}
    X_train, y_train, patient = visits_of(
        train, y[: args.train], args.visits, args.visit_noise, rng
    )
    X_new, y_new, _ = visits_of(
        {k: v[args.train :] for k, v in X.items()}, y[args.train :], 1, args.visit_noise, rng
    )
    first = patient_first_visits(patient)
    one_visit = estimator(random_state=seed, n_threads=1).fit(
        {k: v[first] for k, v in X_train.items()}, y_train[first]
    )
    fits = {
        "rows": estimator(random_state=seed, n_threads=1).fit(X_train, y_train),
        "groups": estimator(random_state=seed, n_threads=1).fit(X_train, y_train, groups=patient),
        "reference": estimator(
            random_state=seed, n_threads=1, early_stopping=False, max_epochs=one_visit.n_iter_
        ).fit(X_train, y_train),
    }
    return {way: scores(args.task, clf, X_new, y_new) for way, clf in fits.items()}


def patient_first_visits(patient: np.ndarray) -> np.ndarray:
    """The row of each patient's first visit."""
    return np.unique(patient, return_index=True)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(METRICS), default="classification")
    parser.add_argument("--generators", nargs="+", default=["package", "warped"])
    parser.add_argument("--mechanisms", nargs="+", default=["uniqueness", "redundancy"])
    parser.add_argument("--seeds", nargs=2, type=int, default=[0, 3], metavar=("FIRST", "STOP"))
    parser.add_argument("--train", type=int, default=200, help="training patients")
    parser.add_argument("--fresh", type=int, default=3000, help="new patients to score on")
    parser.add_argument("--visits", type=int, default=8, help="visits per training patient")
    parser.add_argument(
        "--visit-noise", type=float, default=0.3, help="a visit's noise, in feature SDs"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the bench's own process
    torch.set_num_threads(1)
    print(f"{vars(args)}, torch {torch.__version__}")
    start = time.perf_counter()
    for generator in args.generators:
        for mechanism in args.mechanisms:
            results = [one_seed(generator, mechanism, s, args) for s in range(*args.seeds)]
            print(f"\n{generator} / {mechanism}, {len(results)} seeds")
            print(
                f"{'':12}"
                + "".join(f"{m:>18}" for m in METRICS[args.task])
                + f"{'epochs':>16}{'temperature':>20}"
            )
            for way in WAYS:
                cells = [
                    _mean_std([r[way][key] for r in results], sign=key in METRICS[args.task])
                    for key in (*METRICS[args.task], "epochs", "temperature")
                ]
                print(
                    f"{way:12}"
                    + "".join(f"{c:>18}" for c in cells[:3])
                    + f"{cells[3]:>16}{cells[4]:>20}"
                )
            gain = [
                _mean_std([r["groups"][m] - r["rows"][m] for r in results], 4)
                for m in METRICS[args.task]
            ]
            print(f"{'groups-rows':12}" + "".join(f"{c:>18}" for c in gain))
    print(f"\n({time.perf_counter() - start:.0f} s)")


def _mean_std(values: list[float], digits: int = 3, sign: bool = True) -> str:
    mean = f"{np.mean(values):+.{digits}f}" if sign else f"{np.mean(values):.{digits - 1}f}"
    return f"{mean} ± {np.std(values):.{digits}f}"


if __name__ == "__main__":
    main()
