"""Choose I2MoE defaults by leaving one data set out, from ``bench_accuracy.py`` results.

Candidate settings are the I2MoE rows of one or more ``bench_accuracy.py --csv`` files (run
it with ``--configs``). For every data set ``d`` the protocol picks the candidate with the
largest mean ROC-AUC margin over the best scikit-learn peer (LogisticRegression,
HistGradientBoosting, RandomForest, MLPClassifier) on **the other data sets**, and reports
how that pick does on ``d``, which played no part in choosing it. A setting chosen this way
cannot have been fitted to the data set it is scored on; the spread of the picks over the
left-out data sets says how much the choice depends on which data sets are in the benchmark.
A data set drawn from another (``tcga_brca_200`` from ``tcga_brca``) leaves with it, so that
no left-out row is among the rows the choice was made on.

Settings the other data sets cannot tell apart are decided by cost (the one-standard-error
rule): among the candidates whose mean margin is within one standard error of the best
candidate's, the one with the smallest mean fit time is picked.

Run ``python benchmarks/bench_defaults.py results.csv [more.csv ...] --candidates A,B,...``.
"""

from __future__ import annotations

import argparse

import pandas as pd
from bench_accuracy import PEERS, mean_scores, related

TIE = 1e-4


def margins(results: pd.DataFrame, candidates: list[str]) -> pd.DataFrame:
    """ROC-AUC of every candidate minus the best peer's, one row per data set."""
    auc = mean_scores(results)
    peers = [p for p in PEERS if p in auc]
    missing = [c for c in candidates if c not in auc]
    if missing or not peers:
        raise SystemExit(f"missing from the results: {missing or 'every peer'}")
    complete = auc[candidates + peers].dropna()
    return complete[candidates].sub(complete[peers].max(axis=1), axis=0)


def leave_one_out(margin: pd.DataFrame, cost: pd.DataFrame) -> pd.DataFrame:
    """The candidate picked without each data set, and its margin on that data set.

    On the other data sets: the best candidate by mean margin, then the cheapest
    candidate (mean fit time there) whose mean margin is within one standard error of the
    best's (the standard error of the mean per-data-set difference to the best): settings
    the data cannot tell apart are decided by cost.
    """
    rows = []
    for held_out in margin.index:
        others = margin.drop(index=[d for d in related(held_out) if d in margin.index])
        means = others.mean()
        best = means.idxmax()
        diff = others.sub(others[best], axis=0)  # <= 0 on average
        se = diff.std(ddof=1) / len(others) ** 0.5
        tied = [c for c in margin.columns if means[c] >= means[best] - se[c] - TIE]
        fit = cost.loc[others.index, tied].mean()
        pick = fit.idxmin()
        rows.append(
            {
                "left out": held_out,
                "best on the others": best,
                "picked (cheapest within 1 SE)": pick,
                "its mean margin there": means[pick],
                "margin on the left-out set": margin.loc[held_out, pick],
                "within 0.01": margin.loc[held_out, pick] >= -0.01,
                "ahead of every peer": margin.loc[held_out, pick] > 0,
            }
        )
    return pd.DataFrame(rows).set_index("left out")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="+", help="per-fold results of bench_accuracy.py --csv")
    parser.add_argument(
        "--candidates", default="", help="comma-separated I2MoE rows (default: every I2MoE row)"
    )
    args = parser.parse_args()
    results = pd.concat([pd.read_csv(path) for path in args.csv], ignore_index=True)
    names = list(dict.fromkeys(results["model"]))
    candidates = [c for c in args.candidates.split(",") if c] or [
        m for m in names if m.startswith("I2MoE")
    ]
    margin = margins(results, candidates)
    cost = mean_scores(results, "fit s").loc[margin.index, candidates]
    print("ROC-AUC margin over the best peer (mean over folds), per data set and candidate:")
    print(margin.round(3).to_string())
    print("\nmean margin:", ", ".join(f"{c} {v:+.4f}" for c, v in margin.mean().items()))
    print("\nmean fit s:", ", ".join(f"{c} {v:.2f}" for c, v in cost.mean().items()))
    picks = leave_one_out(margin, cost)
    print("\nleave one data set out:")
    print(picks.round(4).to_string())
    n = len(picks)
    print(
        f"\nleft-out sets within 0.01 of the best peer: {picks['within 0.01'].sum()}/{n}; "
        f"ahead of every peer: {picks['ahead of every peer'].sum()}/{n}; picks: "
        + ", ".join(
            f"{k} ({v})" for k, v in picks["picked (cheapest within 1 SE)"].value_counts().items()
        )
    )


if __name__ == "__main__":
    main()
