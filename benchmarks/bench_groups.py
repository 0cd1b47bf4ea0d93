"""Repeated samples of one patient: the interaction report with and without ``groups``.

Each patient is a draw of :func:`~sk_i2moe.datasets.make_interaction_classification`
(three modalities of ten features; ``--mechanisms``, ``shuffled`` meaning the
redundancy data with the patients' labels permuted); each visit repeats the
patient's features plus independent noise of ``--visit-noise`` times each
feature's standard deviation, with the patient's label. ``--train`` patients
train ``I2MoEClassifier`` (defaults, one torch thread), ``--test`` other
patients are reported on (all their visits), and ``--fresh`` further patients,
one visit each, give the "true" skills: the same model's on new patients (a
report on them with few resamples, read for its point estimates only).

For every fit the report on the held-out visits is computed twice, without
``groups`` (every visit counted as independent) and with the patient as the
group, and the script prints, per mechanism and over all fits: how often the
mixture's 95 % skill interval holds the mixture's skill on the new patients,
how often each expert's skill interval holds its skill there, the intervals'
mean width, and how often ``dominant`` is the one of the report on the new
patients and the true mechanism (``None`` on shuffled labels).

Run ``python benchmarks/bench_groups.py`` (``--help`` for options), e.g.
``python benchmarks/bench_groups.py --seeds 0 11`` for the table in
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import Counter

import numpy as np
import torch

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification
from sk_i2moe.inspection import interaction_report

TRUTH = {"uniqueness": "uniqueness[m0]", "redundancy": "redundancy", "synergy": "synergy"}


def visits_of(X: dict, y: np.ndarray, visits: int, noise: float, rng: np.random.Generator):
    """Every patient's ``visits``: the features plus noise, the label; and the patient of each."""
    patient = np.repeat(np.arange(len(y)), visits)
    noisy = {
        name: (a[patient] + noise * a.std(axis=0) * rng.standard_normal((len(patient), a.shape[1])))
        for name, a in X.items()
    }
    return {name: a.astype(np.float32) for name, a in noisy.items()}, y[patient], patient


def one_fit(mechanism: str, seed: int, args: argparse.Namespace) -> dict:
    """One model, its report without and with groups, and its skills on new patients."""
    rng = np.random.default_rng(seed + 1000)
    n = args.train + args.test + args.fresh
    X, y, _ = make_interaction_classification(
        "redundancy" if mechanism == "shuffled" else mechanism, n_samples=n, random_state=seed
    )
    if mechanism == "shuffled":
        y = rng.permutation(y)

    def patients(start: int, stop: int, visits: int):
        return visits_of(
            {k: v[start:stop] for k, v in X.items()}, y[start:stop], visits, args.visit_noise, rng
        )

    X_train, y_train, _ = patients(0, args.train, args.visits)
    X_test, y_test, patient = patients(args.train, args.train + args.test, args.visits)
    X_new, y_new, _ = patients(args.train + args.test, n, 1)
    clf = I2MoEClassifier(random_state=seed, n_threads=1).fit(X_train, y_train)
    truth = interaction_report(clf, X_new, y_new, n_bootstrap=40)
    out = {"truth": truth.dominant}
    for name, groups in (("rows", None), ("groups", patient)):
        report = interaction_report(clf, X_test, y_test, groups=groups)
        table, true_skill = report.table, truth.table["skill"]
        measured = np.isfinite(table["skill_low"])
        holds = (table["skill_low"] <= true_skill) & (true_skill <= table["skill_high"])
        mixture = report.mixture
        out[name] = {
            "mixture_holds": mixture["skill_low"]
            <= truth.mixture["skill"]
            <= mixture["skill_high"],
            "experts_hold": int((holds & measured).sum()),
            "experts": int(measured.sum()),
            "width": float((table["skill_high"] - table["skill_low"])[measured].mean()),
            "as_new_patients": report.dominant == truth.dominant,
            "right": report.dominant == TRUTH.get(mechanism),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mechanisms", nargs="+", default=["redundancy", "uniqueness", "synergy", "shuffled"]
    )
    parser.add_argument("--seeds", nargs=2, type=int, default=[0, 3], metavar=("FIRST", "STOP"))
    parser.add_argument("--train", type=int, default=150, help="training patients")
    parser.add_argument("--test", type=int, default=150, help="held-out patients")
    parser.add_argument("--fresh", type=int, default=3000, help="new patients for the true skills")
    parser.add_argument("--visits", type=int, default=8, help="visits per patient")
    parser.add_argument(
        "--visit-noise", type=float, default=0.3, help="a visit's noise, in feature SDs"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the bench's own process: ConvergenceWarning and the like
    torch.set_num_threads(1)
    print(f"{vars(args)}, torch {torch.__version__}")
    header = (
        "mechanism    fits  mixture holds (rows / groups)  experts hold (rows / groups)  "
        "width (rows / groups)  dominant as on new patients  dominant right"
    )
    print(header)
    total: Counter = Counter()
    start = time.perf_counter()
    for mechanism in args.mechanisms:
        counts: Counter = Counter()
        for seed in range(*args.seeds):
            result = one_fit(mechanism, seed, args)
            counts["fits"] += 1
            for way in ("rows", "groups"):
                r = result[way]
                for key in (
                    "mixture_holds",
                    "experts_hold",
                    "experts",
                    "width",
                    "as_new_patients",
                    "right",
                ):
                    counts[f"{way} {key}"] += r[key]
        total.update(counts)
        _print_row(mechanism, counts)
    _print_row("all", total)
    print(f"({time.perf_counter() - start:.0f} s)")


def _print_row(name: str, c: Counter) -> None:
    fits = c["fits"]

    def pair(key: str) -> str:
        return f"{c[f'rows {key}']}/{fits} / {c[f'groups {key}']}/{fits}"

    experts = f"{c['rows experts_hold']}/{c['rows experts']}"
    experts += f" / {c['groups experts_hold']}/{c['groups experts']}"
    print(
        f"{name:12s} {fits:4d}  {pair('mixture_holds'):>29s}  {experts:<28s}  "
        f"{c['rows width'] / fits:.3f} / {c['groups width'] / fits:.3f}          "
        f"{pair('as_new_patients'):>19s}  {pair('right'):>14s}"
    )


if __name__ == "__main__":
    main()
