"""Per-sample routing on the package's own mixed-mechanism data, for several estimator settings.

``bench_interpretation.py --mixed`` measures routing on ``benchmarks/_latent.py``'s generator
only. This script uses the other one, :func:`sk_i2moe.datasets.make_interaction_classification`
with a third of the samples of each mechanism (uniqueness of ``m0``, synergy, redundancy), as
``examples/plot_interpretation.py`` does. For each seed it draws the data with that seed,
splits it 70/30 (stratified), fits one default estimator per setting with
``random_state=seed`` (the settings differ only where ``--configs`` says) and prints the
held-out accuracy and, per mechanism, the share of its held-out samples whose largest weight
is on its own expert ("argmax") and the AUC of its expert's weight for telling its samples
from the others. ``--ceiling`` adds a row per seed for a supervised reference: an
``MLPClassifier`` trained on the concatenated training features to predict each sample's
mechanism (which the mixture never sees), whose held-out AUCs say how well the features
identify the mechanism at all. ``--by-mechanism`` also prints, for every fit, each expert's
held-out accuracy and mean weight on each mechanism's samples: where several experts predict a
mechanism's samples equally well, the task loss cannot tell the weights which of them to use.

Run ``python benchmarks/bench_routing.py --configs '{"weight 1": {}, "weight 2":
{"missing_modality_loss_weight": 2.0}}'`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification

MECHANISMS = {"uniqueness": 1 / 3, "synergy": 1 / 3, "redundancy": 1 / 3}
#: the mechanisms' labels, which are also the names of their experts
EXPERTS = ("uniqueness[m0]", "redundancy", "synergy")


def by_mechanism(
    estimator: I2MoEClassifier, explanation: object, y: np.ndarray, interaction: np.ndarray
) -> pd.DataFrame:
    """Each expert's accuracy and mean weight on each mechanism's samples (rows: mechanisms)."""
    target = np.searchsorted(estimator.classes_, y)
    correct = explanation.expert_outputs.argmax(-1) == target[:, None]
    names = estimator.expert_names_
    accuracy = pd.DataFrame(correct, columns=names).groupby(interaction).mean()
    weight = pd.DataFrame(explanation.weights, columns=names).groupby(interaction).mean()
    return pd.concat([accuracy, weight], axis=1, keys=["accuracy", "mean weight"]).round(2)


def routing(estimator: I2MoEClassifier, explanation: object, interaction: np.ndarray) -> dict:
    """Per mechanism: argmax share on its expert and the AUC of that expert's weight."""
    weights = pd.DataFrame(explanation.weights, columns=estimator.expert_names_)
    largest = weights.idxmax(axis=1).to_numpy()
    out = {}
    for expert in EXPERTS:
        mine = interaction == expert
        out[f"argmax {expert}"] = float(np.mean(largest[mine] == expert))
        out[f"AUC {expert}"] = roc_auc_score(mine, weights[expert])
    return out


def ceiling(
    X_train: dict, X_test: dict, mechanism_train: np.ndarray, mechanism_test: np.ndarray
) -> dict:
    """Held-out AUC per mechanism of an MLP trained to predict the mechanism from the features."""
    model = MLPClassifier(max_iter=500, random_state=0)
    model.fit(np.hstack(list(X_train.values())), mechanism_train)
    proba = model.predict_proba(np.hstack(list(X_test.values())))
    return {
        f"AUC {mechanism}": roc_auc_score(mechanism_test == mechanism, proba[:, i])
        for i, mechanism in enumerate(model.classes_)
    }


def main() -> None:
    """Fit every setting on every seed and print one row per fit, then the means."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-samples", type=int, nargs="+", default=[900, 2000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", default='{"defaults": {}}', help="JSON {name: {params}}")
    parser.add_argument("--params", default="{}", help="parameters of every setting, JSON")
    parser.add_argument(
        "--ceiling", action="store_true", help="add a supervised mechanism classifier's AUCs"
    )
    parser.add_argument(
        "--by-mechanism", action="store_true", help="print each expert's accuracy and weight"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    configs, shared = json.loads(args.configs), json.loads(args.params)
    print(f"torch threads {args.threads}; shared parameters {shared}; settings {configs}")
    rows = []
    for n_samples in args.n_samples:
        for seed in range(args.seeds):
            X, y, interaction = make_interaction_classification(
                MECHANISMS, n_samples=n_samples, random_state=seed
            )
            train, test = train_test_split(
                np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed
            )
            X_train = {name: block[train] for name, block in X.items()}
            X_test = {name: block[test] for name, block in X.items()}
            if args.ceiling:
                row = {"n_samples": n_samples, "seed": seed, "setting": "supervised ceiling"}
                row.update(ceiling(X_train, X_test, interaction[train], interaction[test]))
                rows.append(row)
                aucs = ", ".join(f"{k} {v:.2f}" for k, v in row.items() if k.startswith("AUC"))
                print(f"n={n_samples} seed {seed} supervised ceiling: {aucs}", flush=True)
            for name, params in configs.items():
                estimator = I2MoEClassifier(random_state=seed, **{**shared, **params})
                estimator.fit(X_train, y[train])
                row = {"n_samples": n_samples, "seed": seed, "setting": name}
                row["accuracy"] = estimator.score(X_test, y[test])
                explanation = estimator.explain(X_test)
                row.update(routing(estimator, explanation, interaction[test]))
                rows.append(row)
                if args.by_mechanism:
                    per_mechanism = by_mechanism(estimator, explanation, y[test], interaction[test])
                    print(per_mechanism.to_string())
                scores = [f"{k} {v:.2f}" for k, v in row.items() if k.startswith(("arg", "AUC"))]
                print(
                    f"n={n_samples} seed {seed} {name:>12}: accuracy {row['accuracy']:.3f}, "
                    + ", ".join(scores),
                    flush=True,
                )
    table = pd.DataFrame(rows).drop(columns="seed").groupby(["n_samples", "setting"])
    summary = table.mean().round(3).astype(str) + " ± " + table.std().round(3).astype(str)
    print(summary.to_string())


if __name__ == "__main__":
    main()
