"""ROC-AUC and macro-F1 of a fitted default model with its per-sample weights shrunk to their mean.

The measurement behind the ``weight_shrinkage`` parameter, for several values from one fit:
the model is fitted without shrinkage and shrunk afterwards (as ``weight_shrinkage`` does at
prediction). For every fold of ``bench_accuracy.py``'s cross-validation (same splits and
preprocessing; ``I2MoEClassifier(random_state=fold, weight_shrinkage=0)``, otherwise the
defaults), each member's per-sample weights ``w(x)`` on the test rows are replaced by
``(1 - lam) w(x) + lam w_bar``, where ``w_bar`` is that member's mean weight on the training
rows, and the mixture is rebuilt from the members' expert outputs (``explain``'s
``member_weights`` and ``member_outputs``; the members' mixtures are averaged, as the
ensemble does). The structured mixture trains its experts on their own losses, so the
experts' outputs do not depend on the weights and no refit is needed.

Data sets with absent modalities are refused: there, ``w_bar`` would have to be
renormalised over each row's usable experts.

``--mixed SEEDS`` instead measures what shrinkage does to per-sample routing, on the mixed
latent data of ``bench_interpretation.py --generator latent --noise-modality --mixed`` (same
generator, pure-noise modality and split; one fit per seed): for each mechanism the AUC of
its expert's shrunk weight for telling its samples from the others, the share of its samples
whose largest shrunk weight is on its expert (mean ± std over seeds, the lowest seed in
brackets), and the mixture's held-out accuracy and log-loss.

Run ``python benchmarks/bench_shrinkage.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
from _latent import MIXED, make_latent
from _real_data import REAL_DATASETS
from bench_accuracy import available, cv_folds
from bench_interpretation import NOISE
from sklearn.metrics import f1_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from sk_i2moe import I2MoEClassifier
from sk_i2moe.nn import shrink_weights

#: the fits' weights as trained; every shrinkage is then applied to the same fit
UNSHRUNK = {"weight_shrinkage": 0.0}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits ``(n, C)``."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def auc(y: np.ndarray, logits: np.ndarray) -> float:
    """ROC-AUC of class probabilities from logits (one-vs-rest macro for several classes)."""
    proba = softmax(logits)
    if proba.shape[1] == 2:
        return roc_auc_score(y, proba[:, 1])
    return roc_auc_score(y, proba, multi_class="ovr", average="macro")


def shrunk_mixtures(
    clf: I2MoEClassifier, X_train: dict, X_test: dict, lams: list[float]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For every shrinkage ``lam``: the test rows' weights ``(n, E)`` and logits ``(n, C)``.

    The weights are the members' mean, as ``explain`` reports them; the logits are the
    mean of the members' mixtures, as the ensemble predicts.
    """
    train, test = clf.explain(X_train), clf.explain(X_test)
    if test.usable is not None and not np.all(test.usable):
        raise ValueError("absent modalities: the mean weights would need renormalising")
    weights = np.asarray(test.member_weights, dtype=np.float64)  # [n, K, E]
    outputs = np.asarray(test.member_outputs, dtype=np.float64)  # [n, K, E, C]
    mean = np.asarray(train.member_weights, dtype=np.float64).mean(axis=0)  # [K, E]
    mixtures = []
    for lam in lams:
        shrunk = shrink_weights(torch.from_numpy(weights), torch.from_numpy(mean), lam).numpy()
        logits = np.einsum("nke,nkec->nc", shrunk, outputs) / mean.shape[0]
        mixtures.append((shrunk.mean(axis=1), logits))
    return mixtures


def real_data(args: argparse.Namespace, lams: list[float]) -> pd.DataFrame:
    """Per data set (rows) and shrinkage (columns): mean ROC-AUC and macro-F1, and the share
    of folds that predict one class for every test row."""
    rows = []
    for name, X, y in available(args.datasets):
        for fold, train, test, X_train, X_test in cv_folds(X, y, args.folds, args.repeats):
            clf = I2MoEClassifier(random_state=fold, **UNSHRUNK).fit(X_train, y[train])
            baseline = auc(y[test], np.log(np.clip(clf.predict_proba(X_test), 1e-12, None)))
            mixtures = shrunk_mixtures(clf, X_train, X_test, lams)
            aucs, f1s, collapsed = {}, {}, {}
            for lam, (_, logits) in zip(lams, mixtures):
                predicted = logits.argmax(axis=1)
                aucs[f"lam={lam:g}"] = auc(y[test], logits)
                f1s[f"F1 lam={lam:g}"] = f1_score(y[test], clf.classes_[predicted], average="macro")
                # one predicted class for every test row (bench_accuracy's "collapsed")
                collapsed[f"collapsed lam={lam:g}"] = float(np.unique(predicted).size <= 1)
            rows.append(
                {"dataset": name, "fold": fold, "predict_proba": baseline} | aucs | f1s | collapsed
            )
        print(f"[done] {name}", flush=True)
    frame = pd.DataFrame(rows).groupby("dataset", sort=False).mean().drop(columns="fold")
    first, half = f"lam={lams[0]:g}", "lam=0.5"
    if half in frame and first in frame:
        frame[f"{half} - {first}"] = frame[half] - frame[first]
    return frame


def mixed_data(
    seeds: int, lams: list[float], n_modalities: int = 3, n_samples: int = 2000, noise: float = 0.1
) -> pd.DataFrame:
    """Routing and accuracy on mixed latent data, mean ± std over seeds per shrinkage."""
    rows = []
    for seed in range(seeds):
        X, y, labels = make_latent(
            "mixed",
            n_samples=n_samples,
            n_modalities=n_modalities,
            noise=noise,
            random_state=seed,
        )
        X[NOISE] = np.random.default_rng(1000 + seed).normal(size=(len(y), 10))
        train, test = train_test_split(
            np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed
        )
        X_train = {k: v[train] for k, v in X.items()}
        X_test = {k: v[test] for k, v in X.items()}
        clf = I2MoEClassifier(random_state=seed, **UNSHRUNK).fit(X_train, y[train])
        names = list(clf.expert_names_)
        for lam, (weights, logits) in zip(lams, shrunk_mixtures(clf, X_train, X_test, lams)):
            row = {"lam": lam, "seed": seed}
            row["accuracy"] = float(np.mean(clf.classes_[logits.argmax(axis=1)] == y[test]))
            row["log-loss"] = log_loss(y[test], softmax(logits), labels=clf.classes_)
            for mechanism in MIXED:
                own = labels[test] == mechanism
                column = names.index(mechanism)
                row[f"AUC {mechanism}"] = roc_auc_score(own, weights[:, column])
                row[f"argmax {mechanism}"] = np.mean(weights[own].argmax(axis=1) == column)
            rows.append(row)
        print(f"[done] seed {seed}", flush=True)
    grouped = pd.DataFrame(rows).drop(columns="seed").groupby("lam")
    mean, std, lowest = grouped.mean(), grouped.std(), grouped.min()
    cells = mean.map(lambda v: f"{v:.3f}") + " ± " + std.map(lambda v: f"{v:.3f}")
    argmax = [c for c in cells if c.startswith("argmax")]
    cells[argmax] += " (" + lowest[argmax].map(lambda v: f"{v:.2f}") + ")"
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join([*REAL_DATASETS, "tcga_brca_200"]))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lams", default="0,0.25,0.5,0.75,1")
    parser.add_argument(
        "--mixed", type=int, default=0, help="seeds of mixed latent data instead of real data"
    )
    parser.add_argument("--n-modalities", type=int, default=3, help="mixed data: modalities")
    parser.add_argument("--n-samples", type=int, default=2000, help="mixed data: samples")
    parser.add_argument("--noise", type=float, default=0.1, help="mixed data: feature noise")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lams = [float(v) for v in args.lams.split(",")]
    if args.mixed:
        frame = mixed_data(args.mixed, lams, args.n_modalities, args.n_samples, args.noise)
    else:
        frame = real_data(args, lams)
    with pd.option_context("display.width", 200):
        print(frame.to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
