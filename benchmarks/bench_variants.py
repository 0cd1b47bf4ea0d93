"""The interaction report on variants of the latent generator that no setting was chosen on.

``bench_interpretation.py`` measures the trust targets on the cases the defaults were
chosen on (M = 2, 3, 4, one pure-noise modality, balanced classes). This script asks the
same question of variants it does not cover, with fresh seeds (300 and up by default):
five modalities, two pure-noise modalities, 20 % positives, three classes, 20 % of the
labels flipped, 400 or 600 samples, and in regression a heavy-tailed target noise and a
target in other units. Each fit is a default estimator on 75 % of the rows; the report
on the other 25 % says whether its ``dominant`` is the true expert ("right"), ``None``
or another expert ("wrong"); "noise weight" is the largest mean weight of a pure-noise
modality's uniqueness expert on the held-out rows (the trust issue asks at most 0.02).
``--shuffled`` permutes the labels of redundancy data instead (right: ``None``).

Run ``python benchmarks/bench_variants.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import torch
from _latent import make_latent
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe.inspection import interaction_report

#: variant -> (modalities, samples, pure-noise modalities, task)
VARIANTS = {
    "M5": (5, 2000, 1, "classification"),
    "two_noise": (3, 2000, 2, "classification"),
    "imbalanced": (3, 2000, 1, "classification"),
    "three_class": (3, 2000, 1, "classification"),
    "flipped": (3, 2000, 1, "classification"),
    "small": (3, 400, 1, "classification"),
    "M2_small": (2, 600, 1, "classification"),
    "reg_M5": (5, 2000, 1, "regression"),
    "reg_two_noise": (3, 2000, 2, "regression"),
    "reg_small": (3, 400, 1, "regression"),
    "reg_heavy": (3, 2000, 1, "regression"),
    "reg_scaled": (3, 2000, 1, "regression"),
}
MECHANISMS = ("uniqueness[m1]", "redundancy", "synergy")


def make_variant(
    variant: str, mechanism: str, seed: int, shuffled: bool
) -> tuple[dict[str, np.ndarray], np.ndarray, str]:
    """The variant's modalities (pure-noise ones named ``noise<j>``), target and task."""
    n_modalities, n_samples, n_noise, task = VARIANTS[variant]
    rng = np.random.default_rng(1000 + seed)
    # the class variants threshold the latent label (plus its noise) themselves
    latent_task = "regression" if variant in ("imbalanced", "three_class") else task
    X, y, _ = make_latent(
        mechanism,
        n_samples=n_samples,
        n_modalities=n_modalities,
        task=latent_task,
        random_state=seed,
    )
    if variant == "imbalanced":  # 20 % positives
        y = (y > np.quantile(y, 0.8)).astype(np.int64)
    elif variant == "three_class":  # terciles of the latent label
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    elif variant == "flipped":  # 20 % of the labels flipped
        y = np.where(rng.random(n_samples) < 0.2, 1 - y, y)
    elif variant == "reg_heavy":  # Student-t noise with 2 degrees of freedom
        y = y + 0.3 * rng.standard_t(2, n_samples)
    elif variant == "reg_scaled":  # a target in other units
        y = 1000.0 + 250.0 * y
    if shuffled:
        y = rng.permutation(y)
    for j in range(n_noise):
        X[f"noise{j}"] = rng.standard_normal((n_samples, 10))
    return X, y, task


def one_fit(variant: str, mechanism: str, seed: int, shuffled: bool, threads: int) -> dict:
    """Fit a default estimator and report on held-out rows; one result row."""
    X, y, task = make_variant(variant, mechanism, seed, shuffled)
    classify = task == "classification"
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.25, random_state=seed, stratify=y if classify else None
    )
    estimator = (I2MoEClassifier if classify else I2MoERegressor)(
        random_state=seed, n_threads=threads
    )
    start = time.perf_counter()
    estimator.fit({k: v[train] for k, v in X.items()}, y[train])
    held_out = {k: v[test] for k, v in X.items()}
    report = interaction_report(estimator, held_out, y[test], random_state=seed)
    weights = estimator.explain(held_out).weights.mean(axis=0)
    noise = [w for name, w in zip(estimator.expert_names_, weights) if "[noise" in name]
    truth = None if shuffled else mechanism
    verdict = (
        "right" if report.dominant == truth else "None" if report.dominant is None else "wrong"
    )
    return {
        "variant": variant,
        "truth": "None (shuffled)" if shuffled else mechanism,
        "seed": seed,
        "dominant": report.dominant,
        "verdict": verdict,
        "held-out score": round(float(estimator.score(held_out, y[test])), 3),
        "noise weight": round(float(max(noise)), 3),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, default=2, help="seeds per variant and mechanism")
    parser.add_argument("--seed-offset", type=int, default=300, help="first seed")
    parser.add_argument(
        "--shuffled", action="store_true", help="permuted labels of redundancy data instead"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # a benchmark's own process: the table is its output
    rows = []
    mechanisms = ("redundancy",) if args.shuffled else MECHANISMS
    for variant in args.variants:
        for mechanism in mechanisms:
            for seed in range(args.seed_offset, args.seed_offset + args.seeds):
                rows.append(one_fit(variant, mechanism, seed, args.shuffled, args.threads))
                print(", ".join(f"{k} {v}" for k, v in rows[-1].items()), flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("variant", sort=False).agg(
        fits=("verdict", "size"),
        right=("verdict", lambda v: int((v == "right").sum())),
        none=("verdict", lambda v: int((v == "None").sum())),
        wrong=("verdict", lambda v: int((v == "wrong").sum())),
        noise_weight_max=("noise weight", "max"),
        noise_above_002=("noise weight", lambda w: int((w > 0.02).sum())),
    )
    print()
    print(summary.to_string())
    print(
        f"\nall: {int((table.verdict == 'right').sum())}/{len(table)} right, "
        f"{int((table.verdict == 'None').sum())} None, {int((table.verdict == 'wrong').sum())} "
        f"wrong; noise weight above 0.02 in {int((table['noise weight'] > 0.02).sum())} "
        f"(largest {table['noise weight'].max():.3f})"
    )


if __name__ == "__main__":
    main()
