"""Wide modalities (features >> samples): the defaults against linear and boosted peers.

Omics-like data: ``--n-modalities`` modalities of ``p`` Gaussian features each,
``--n-train`` training and ``--n-test`` test rows. The label is the sign of a
latent factor ``z``; ``--informative`` features of *every* modality carry
``signal * z`` (a sparse signal that the modalities share, as expression
programmes do). Test ROC-AUC, mean ± std over ``--seeds`` data sets, for
``LogisticRegression`` and ``HistGradientBoostingClassifier`` on the
concatenated features and ``I2MoEClassifier`` with the defaults and with the
settings a user would try (``--configs``, JSON of name -> parameters). Every
model of a data set is fitted on the same rows, one after the other, on one
thread.

Run ``python benchmarks/bench_wide.py`` (``--help`` for options), e.g.
``python benchmarks/bench_wide.py --p 200 1000 5000 --seeds 5``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch
from _common import cpu_model
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sk_i2moe import I2MoEClassifier

CONFIGS = {
    "I2MoE (defaults)": {},
    "I2MoE batch_size=16": {"batch_size": 16},
    "I2MoE batch_size=32": {"batch_size": 32},
    "I2MoE encoder='mlp'": {"encoder": "mlp"},
}


def make_wide(
    p: int, n_train: int, n_test: int, n_modalities: int, informative: int, signal: float, seed: int
) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Training and test modalities and labels of one wide data set."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    z = rng.normal(size=n)
    y = (z > 0).astype(int)
    X = {}
    for m in range(n_modalities):
        values = rng.normal(size=(n, p))
        values[:, :informative] += signal * z[:, None]
        X[f"omics{m}"] = values
    train = {k: v[:n_train] for k, v in X.items()}
    test = {k: v[n_train:] for k, v in X.items()}
    return train, test, y[:n_train], y[n_train:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--p", type=int, nargs="+", default=[200, 1000, 5000])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=120)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--n-modalities", type=int, default=3)
    parser.add_argument("--informative", type=int, default=20)
    parser.add_argument("--signal", type=float, default=0.5)
    parser.add_argument("--configs", type=json.loads, default=CONFIGS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(1)  # the peers' BLAS and OpenMP pools too
    print(f"CPU: {cpu_model()}, torch {torch.__version__}, one thread for every model")
    rows = []
    for p in args.p:
        for seed in range(args.seeds):
            train, test, y_train, y_test = make_wide(
                p, args.n_train, args.n_test, args.n_modalities, args.informative, args.signal, seed
            )
            flat_train = np.hstack(list(train.values()))
            flat_test = np.hstack(list(test.values()))
            peers = {
                "LogisticRegression": make_pipeline(
                    StandardScaler(), LogisticRegression(max_iter=5000)
                ),
                "HistGradientBoosting": HistGradientBoostingClassifier(random_state=seed),
            }
            for name, model in peers.items():
                start = time.perf_counter()
                model.fit(flat_train, y_train)
                score = roc_auc_score(y_test, model.predict_proba(flat_test)[:, 1])
                rows.append((p, seed, name, score, time.perf_counter() - start))
            for name, params in args.configs.items():
                start = time.perf_counter()
                model = I2MoEClassifier(random_state=seed, n_threads=1, **params)
                model.fit(train, y_train)
                score = roc_auc_score(y_test, model.predict_proba(test)[:, 1])
                rows.append((p, seed, name, score, time.perf_counter() - start))
            print(f"p={p} seed={seed} done", flush=True)
    frame = pd.DataFrame(rows, columns=["p", "seed", "model", "roc_auc", "fit_s"])
    table = frame.groupby(["p", "model"], sort=False).agg(
        roc_auc_mean=("roc_auc", "mean"), roc_auc_std=("roc_auc", "std"), fit_s=("fit_s", "median")
    )
    print(
        f"\nTest ROC-AUC, mean ± std over {args.seeds} data sets ({args.n_modalities} modalities "
        f"of p features, {args.n_train} training rows, {args.informative} informative features "
        f"per modality, signal {args.signal}); fit_s: median seconds"
    )
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
