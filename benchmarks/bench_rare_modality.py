"""A modality that few training rows have: does using it help or hurt, and can its rows tell?

Four modalities, as in a clinical table: ``labs`` (8 columns), ``vitals`` (5),
``notes`` (a 64-column embedding) and ``codes`` (30 binary columns). The label
is a noisy threshold of two columns of one modality (the *signal*); the rest
is noise. Of the 250 training rows only ``k`` have the *rare* modality (the
others hold NaN: absent); every one of the 200 test rows has it. Two tables:

1. ``I2MoEClassifier()`` (default settings) fitted on the training rows; the
   held-out ROC-AUC of the test rows as they are minus that with the rare
   modality set to NaN (what using the modality is worth), mean ± std over
   ``--seeds``.
2. Whether the ``k`` rows themselves tell a useful rare modality from a
   useless one: the share of ``--draws`` draws in which a cross-fitted linear
   probe of the modality's own features (the interaction report's ridge
   probe, five folds) beats the class rate by a one-sided paired ``z`` above 1
   (the absence shrinkage's bar).

Run ``python benchmarks/bench_rare_modality.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sk_i2moe import I2MoEClassifier
from sk_i2moe._evidence import _chance_losses, _probe_losses
from sk_i2moe._fit_rules import weighted_z

WIDTHS = {"labs": 8, "vitals": 5, "notes": 64, "codes": 30}
N_TRAIN, N_TEST = 250, 200
#: (rare modality, signal modality): noise where they differ
CASES = [("notes", "labs"), ("vitals", "labs"), ("notes", "notes"), ("labs", "labs")]


def make(n: int, signal: str, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Modalities and a balanced binary label read from two columns of ``signal``."""
    rng = np.random.default_rng(seed)
    X = {
        name: (rng.random((n, d)) < 0.2).astype(np.float32)
        if name == "codes"
        else rng.normal(size=(n, d)).astype(np.float32)
        for name, d in WIDTHS.items()
    }
    score = 2.0 * X[signal][:, 0] + 1.5 * X[signal][:, 1]
    noisy = score + 0.3 * rng.normal(size=n)
    return X, (noisy > np.median(noisy)).astype(int)


def worth(rare: str, signal: str, k: int, seed: int, threads: int) -> float:
    """Test ROC-AUC as predicted minus with ``rare`` set to NaN (``k`` training rows have it)."""
    X, y = make(N_TRAIN + N_TEST, signal, seed)
    train = {name: v[:N_TRAIN].copy() for name, v in X.items()}
    train[rare][k:] = np.nan
    test = {name: v[N_TRAIN:] for name, v in X.items()}
    blanked = {**test, rare: np.full_like(test[rare], np.nan)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fit warns of the rare modality: that is the case
        model = I2MoEClassifier(random_state=seed, n_threads=threads).fit(train, y[:N_TRAIN])
    y_test = y[N_TRAIN:]
    return roc_auc_score(y_test, model.predict_proba(test)[:, 1]) - roc_auc_score(
        y_test, model.predict_proba(blanked)[:, 1]
    )


def probe_beats_rate(rare: str, signal: str, k: int, draw: int) -> bool | None:
    """Whether the ridge probe of ``rare`` on ``k`` rows beats the class rate (z above 1)."""
    X, y = make(k, signal, 10_000 + draw)
    if np.bincount(y, minlength=2).min() < 2:
        return None
    losses = _probe_losses(X[rare].astype(np.float64), np.ones(k, bool), y, "classification", draw)
    if losses is None:
        return None
    gain = torch.from_numpy(_chance_losses(y, "classification") - losses)
    return weighted_z(gain, torch.ones(k, dtype=torch.float64)) > 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 25, 50, 100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--draws", type=int, default=20, help="draws of the probe's table")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fit")
    args = parser.parse_args()
    header = "rare modality (signal)".ljust(26) + "".join(f"k={k:<16d}" for k in args.ks)
    print("1. Test ROC-AUC as predicted minus with the rare modality set to NaN, mean ± std")
    print(header)
    for rare, signal in CASES:
        cells = []
        for k in args.ks:
            values = [worth(rare, signal, k, seed, args.threads) for seed in args.seeds]
            cells.append(f"{np.mean(values):+.3f} ± {np.std(values):.3f}".ljust(18))
        print(f"{rare} ({signal})".ljust(26) + "".join(cells), flush=True)
    print(f"\n2. Share of {args.draws} draws whose k rows show the probe beating the class rate")
    print(header)
    for rare, signal in CASES:
        cells = []
        for k in args.ks:
            shown = [probe_beats_rate(rare, signal, k, d) for d in range(args.draws)]
            kept = [s for s in shown if s is not None]
            cells.append(f"{np.mean(kept):.2f} (of {len(kept)})".ljust(18))
        print(f"{rare} ({signal})".ljust(26) + "".join(cells), flush=True)


if __name__ == "__main__":
    main()
