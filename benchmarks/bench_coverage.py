"""Do the interaction report's intervals hold the truth as often as they say?

For one fitted model (fitted once), the truth of every quantity the report
gives an interval for is taken as the report's own point estimate on a very
large independent sample of the same data (``--population`` rows): the same
definition, chance levels included. The report then runs on ``--repeats``
independent held-out sets of each size in ``--sizes``, and the script counts
how often each interval holds the truth (its coverage; Monte-Carlo standard
error ``sqrt(p (1 - p) / repeats)``, 0.014 at 0.95 with 250 repeats), how
often the truth lies below or above it, and how often ``dominant`` is each
answer.

Data (``--data``):

* ``package``: :func:`sk_i2moe.datasets.make_interaction_classification`
  (or ``make_interaction_regression`` with ``--task regression``) with a
  mixture of mechanisms, {uniqueness 0.3, synergy 0.3, redundancy 0.4},
  ``noise`` 1.0 (0.5 for regression); one draw, cut into the training rows,
  the population and the held-out sets (the generator's seed also sets its
  rotations, so every part must come from one draw).
* ``missing``: three classes (about 40 / 51 / 9 %) from a shared factor, a
  factor private to ``m0`` and the product of two others; ``m2`` is missing
  (a row of NaN) in about 30 % of the rows, 60 % of class 2's, so the report's
  ``absence_pattern`` is measured too.

``--weighted`` draws each held-out row outside class 0 (regression: with a
target at or above 0) with probability 0.4 and weights it 1 / 0.4, so that
the weighted estimates aim at the unweighted truth.

An ensemble's weight intervals are ranges for one member's weight (see the
interpretation guide); with ``--n-members 1`` they are confidence intervals
for the mean weight, which is what the coverage of the weight column tests.

Run with ``python benchmarks/bench_coverage.py`` (``--help`` for options); the
forty-sixth session's figures (``benchmarks/README.md``, "Do the report's
intervals cover?") used 800 training rows, 100,000 population rows and 250
repeats of 100, 300 and 1,000 rows (about ten minutes per configuration at
one thread).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import torch

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe.datasets import make_interaction_classification, make_interaction_regression
from sk_i2moe.inspection import interaction_report

MIXTURE = {"uniqueness": 0.3, "synergy": 0.3, "redundancy": 0.4}


def _rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def missing_data(n: int, seed: int) -> tuple[dict, np.ndarray]:
    """Three classes; ``m2`` missing more often for class 2 (see the module docstring)."""
    fixed = np.random.default_rng(12345)  # the same rotations in every draw
    rotations = [_rotation(6, fixed) for _ in range(3)]
    rng = np.random.default_rng(seed)
    shared, own, left, right = (rng.standard_normal(n) for _ in range(4))
    logits = np.column_stack(
        [np.zeros(n), 0.2 + 1.5 * shared + own, -2.6 + 1.2 * left * right - 0.8 * shared]
    )
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
    factors = [(shared, own), (shared, left), (shared, right)]
    X = {
        f"m{m}": np.column_stack([a, b, rng.standard_normal((n, 4))]) @ rotations[m].T
        + 0.5 * rng.standard_normal((n, 6))
        for m, (a, b) in enumerate(factors)
    }
    X["m2"][rng.random(n) < np.where(y == 2, 0.6, 0.27)] = np.nan
    return X, y


def _rows(X: dict, y: np.ndarray, rows: np.ndarray) -> tuple[dict, np.ndarray]:
    return {k: v[rows] for k, v in X.items()}, y[rows]


class Source:
    """The training rows, the population and the held-out sets of one configuration."""

    def __init__(self, data: str, task: str, n_train: int, n_population: int, sizes, repeats):
        self.data, self.task, self.n_train, self.n_population = data, task, n_train, n_population
        self.starts, start = {}, n_train + n_population
        for n in sizes:  # each held-out set drawn from 2 n rows (room for --weighted)
            self.starts[n] = start
            start += repeats * 2 * n
        if data == "package":
            make = (
                make_interaction_regression
                if task == "regression"
                else make_interaction_classification
            )
            noise = 0.5 if task == "regression" else 1.0
            self.X, self.y, _ = make(MIXTURE, n_samples=start, noise=noise, random_state=0)

    def part(self, name: str) -> tuple[dict, np.ndarray]:
        if self.data == "missing":
            return missing_data(
                self.n_train if name == "train" else self.n_population, 1 + (name != "train")
            )
        start = 0 if name == "train" else self.n_train
        size = self.n_train if name == "train" else self.n_population
        return _rows(self.X, self.y, np.arange(start, start + size))

    def held_out(self, n: int, r: int, weighted: bool):
        if self.data == "missing":
            X, y = missing_data(2 * n, 10_000_000 + 1000 * n + r)
        else:
            X, y = _rows(self.X, self.y, np.arange(2 * n) + self.starts[n] + 2 * n * r)
        if not weighted:
            return *_rows(X, y, np.arange(n)), None
        kept = (y >= 0) if self.task == "regression" else (y != 0)
        chance = np.where(kept, 0.4, 1.0)
        drawn = np.flatnonzero(
            np.random.default_rng(20_000_000 + 1000 * n + r).random(len(y)) < chance
        )
        drawn = drawn[:n]
        return *_rows(X, y, drawn), 1.0 / chance[drawn]


def quantities(report) -> dict[str, tuple[float, float, float]]:
    """Every (estimate, low, high) the report gives, by name."""
    out = {"mixture skill": tuple(report.mixture[k] for k in ("skill", "skill_low", "skill_high"))}
    for expert, row in report.table.iterrows():
        out[f"skill {expert}"] = (row["skill"], row["skill_low"], row["skill_high"])
        out[f"weight {expert}"] = (row["mean_weight"], row["weight_low"], row["weight_high"])
    if report.absence_pattern is not None:
        for key in ("skill", "mixture_minus"):
            ends = (report.absence_pattern[key + s] for s in ("", "_low", "_high"))
            out[f"absence_pattern {key}"] = tuple(ends)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["package", "missing"], default="package")
    parser.add_argument(
        "--task", choices=["classification", "regression"], default="classification"
    )
    parser.add_argument("--n-members", default="auto", help='"auto" or an integer')
    parser.add_argument("--weighted", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--n-train", type=int, default=800)
    parser.add_argument("--population", type=int, default=100_000)
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.data == "missing" and args.task == "regression":
        parser.error("--data missing is a classification data set")
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    source = Source(args.data, args.task, args.n_train, args.population, args.sizes, args.repeats)
    members = args.n_members if args.n_members == "auto" else int(args.n_members)
    Estimator = I2MoERegressor if args.task == "regression" else I2MoEClassifier
    model = Estimator(
        hidden_dim=16, max_epochs=25, n_members=members, random_state=0, n_threads=args.threads
    ).fit(*source.part("train"))
    population = interaction_report(model, *source.part("population"), n_bootstrap=10)
    truth = {name: values[0] for name, values in quantities(population).items()}
    print(
        f"{args.data} {args.task}, {model.n_members_} member(s), weighted={args.weighted}: "
        f"truth on {args.population:,} rows: mixture skill {truth['mixture skill']:.4f}, "
        f"dominant {population.dominant}"
    )
    rows = []
    for n in args.sizes:
        found: dict[str, list] = {}
        answers = Counter()
        for r in range(args.repeats):
            X, y, weights = source.held_out(n, r, args.weighted)
            report = interaction_report(
                model, X, y, n_bootstrap=args.n_bootstrap, random_state=r, sample_weight=weights
            )
            answers[str(report.dominant)] += 1
            for name, values in quantities(report).items():
                found.setdefault(name, []).append(values)
        for name, values in found.items():
            estimate, low, high = np.asarray(values, dtype=float).T
            true = truth.get(name, np.nan)
            spread = estimate.std()
            rows.append(
                {
                    "n": n,
                    "quantity": name,
                    "sets": len(values),
                    "coverage": np.mean((low <= true) & (true <= high)),
                    "truth below": np.mean(true < low),
                    "truth above": np.mean(true > high),
                    "bias / sd": (estimate.mean() - true) / spread if spread > 0 else np.nan,
                    "width / (3.92 sd)": (high - low).mean() / (3.92 * spread)
                    if spread > 0
                    else np.nan,
                }
            )
        print(f"n = {n}: dominant {dict(answers.most_common())}")
    table = pd.DataFrame(rows).set_index(["n", "quantity"])
    with pd.option_context(
        "display.width", 200, "display.max_rows", None, "display.max_columns", None
    ):
        print(table.round(3))
    print(f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
