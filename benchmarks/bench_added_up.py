"""What the interaction report names when the modalities add up with unequal effects.

A generator of its own (not ``sk_i2moe.datasets``, not ``_latent.py``): every
modality has five raw standard-normal features and one random unit direction
``t_m`` of them; a junk modality of four features carries nothing. The label
adds the modalities up, ``sum_m a_m g_m(t_m)``: as the log-odds of classes drawn
from a logistic model (classification), or plus noise 0.3 (regression).

- ``pure``: ``a = 2, 0, 0`` (only ``v0`` informs the label: uniqueness[v0]);
- ``unequal``: ``a = 1.6, 1.0, 0.7, 0.5`` (the first M), ``g`` the identity;
- ``non-linear``: ``a = 1.2, 1.0, 0.8`` and ``g`` a sine, an absolute value and
  a square;
- ``one dominant``: ``a = 2, 0.5, 0.5``.

Only ``pure`` rests on one modality; in the others every modality adds its own
information and no single interaction explains the label (the report should
say None; "one dominant" is near the line by construction). The default
estimator is fitted on 70 % of the samples and reported on the other 30 %.

Run ``python benchmarks/bench_added_up.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier, I2MoERegressor
from sk_i2moe.inspection import interaction_report

#: (effect sizes, whether the effects are non-linear) per case; M is len(effects)
CASES = {
    "pure, M = 3": ([2.0, 0.0, 0.0], False),
    "unequal, M = 2": ([1.6, 1.0], False),
    "unequal, M = 3": ([1.6, 1.0, 0.7], False),
    "unequal, M = 4": ([1.6, 1.0, 0.7, 0.5], False),
    "non-linear, M = 3": ([1.2, 1.0, 0.8], True),
    "one dominant, M = 3": ([2.0, 0.5, 0.5], False),
}
SHAPES = (np.sin, lambda t: np.abs(t) - 0.8, lambda t: t**2 - 1)  # non-linear g_m, scaled below


def make_added_up(
    effects: list[float], nonlinear: bool, task: str, n_samples: int, seed: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Modalities ``v0 ..`` and ``junk``, and a label adding up ``effects[m] * g(t_m)``."""
    rng = np.random.default_rng(seed)
    X = {f"v{m}": rng.normal(size=(n_samples, 5)) for m in range(len(effects))}
    X["junk"] = rng.normal(size=(n_samples, 4))
    signal = np.zeros(n_samples)
    for m, effect in enumerate(effects):
        direction = rng.normal(size=5)
        t = X[f"v{m}"] @ (direction / np.linalg.norm(direction))
        signal += effect * (SHAPES[m](2 * t if m == 0 else t) / 0.7 if nonlinear else t)
    if task == "regression":
        return X, signal + 0.3 * rng.normal(size=n_samples)
    return X, (rng.random(n_samples) < 1 / (1 + np.exp(-signal))).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--task", choices=["classification", "regression"], default="classification"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    Estimator = I2MoEClassifier if args.task == "classification" else I2MoERegressor
    print(f"task={args.task}, {args.n_samples} samples (30 % held out), seeds 0..{args.seeds - 1}")
    for case, (effects, nonlinear) in CASES.items():
        named = []
        for seed in range(args.seeds):
            X, y = make_added_up(effects, nonlinear, args.task, args.n_samples, seed)
            train, test = train_test_split(np.arange(len(y)), test_size=0.3, random_state=seed)
            model = Estimator(random_state=seed).fit({k: v[train] for k, v in X.items()}, y[train])
            report = interaction_report(model, {k: v[test] for k, v in X.items()}, y[test])
            named.append(str(report.dominant))
        counts = ", ".join(f"{name} {count}/{len(named)}" for name, count in Counter(named).items())
        print(f"  {case:22s} dominant: {counts}   (per seed: {', '.join(named)})", flush=True)


if __name__ == "__main__":
    main()
