"""What an interaction report costs next to a ``predict_proba`` call.

Fits ``I2MoEClassifier`` (default settings) on synthetic data and times, on
the same held-out rows and interleaved (one call of each in turn, medians),
``predict_proba`` and :func:`sk_i2moe.inspection.interaction_report` (which
does not refit: one forward pass over the rows, the synergy expert's backbone
on each modality's swapped rows, small linear fits and vectorised bootstrap
means). Target: the report under 10x ``predict_proba`` on 1,000 rows.

Run ``python benchmarks/bench_report.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification
from sk_i2moe.inspection import interaction_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="held-out rows")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--modalities", type=int, nargs="+", default=[3, 6], help="numbers of modalities"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for n_modalities in args.modalities:
        X, y, _ = make_interaction_classification(
            "redundancy", n_samples=1000 + args.rows, n_modalities=n_modalities, random_state=0
        )
        train = {k: v[:1000] for k, v in X.items()}
        test = {k: v[1000:] for k, v in X.items()}
        clf = I2MoEClassifier(random_state=0).fit(train, y[:1000])
        times: dict[str, list[float]] = {"predict_proba": [], "interaction_report": []}
        calls = {
            "predict_proba": lambda: clf.predict_proba(test),  # noqa: B023
            "interaction_report": lambda: interaction_report(clf, test, y[1000:]),  # noqa: B023
        }
        for _ in range(args.repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
        proba, report = (float(np.median(times[k])) for k in calls)
        rows.append(
            {
                "modalities": n_modalities,
                "held-out rows": args.rows,
                "predict_proba ms": round(1000 * proba, 1),
                "interaction_report ms": round(1000 * report, 1),
                "ratio": round(report / proba, 1),
            }
        )
    print(f"torch threads {torch.get_num_threads()}, medians of {args.repeats} interleaved calls")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
