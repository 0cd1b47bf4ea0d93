"""Wall time of a full fit: I2MoEClassifier next to scikit-learn's MLP and gradient boosting.

On two real multi-view data sets, with one stratified train/test split (75/25,
fixed seed), each model is fitted ``--repeats`` times, interleaved (one fit of
each model in turn, so that all see the same machine load), and the median fit
time (with the fastest and slowest fit), the held-out accuracy and the
model's ``n_iter_`` (epochs or iterations: the same work in every fit, since
every model is seeded) are reported:

* breast cancer, three views of ten features (``load_breast_cancer_views``);
* mfeat, six views of handwritten digits (``/work/shared/data/mfeat.npz`` or
  ``--mfeat PATH``; skipped when missing);
* ``synthetic_N`` (e.g. ``--datasets synthetic_1000 synthetic_10000``): ``N`` samples of
  :func:`~sk_i2moe.datasets.make_interaction_classification` (three modalities of ten
  features, redundancy), for fit time at a given data size.

Models: ``I2MoEClassifier(random_state=0, **params)`` on the views (defaults
unless ``--params`` is given; several ``--params`` give several rows);
``MLPClassifier()`` and ``HistGradientBoostingClassifier()`` with default
settings on the concatenated views (and, for reference, a
``StandardScaler + MLPClassifier`` pipeline: I2MoE standardises its inputs).
Torch and the BLAS/OpenMP pools of scikit-learn all use ``--threads`` threads.

For I2MoE the fit time is split with a skorch callback (:class:`StepTimer`)
that wraps the module's forward, skorch's ``train_step_single`` (forward, loss
and backward of a batch) and the optimizer's ``step`` (minus the closure it
runs: the parameter update). The rest of the fit is "outside": data loading
and skorch's per-batch and per-epoch bookkeeping (callbacks, history), and the
estimator's own work around the skorch fit (input checks, building the
network, the pass over the training data that sets ``interaction_weights_``).

Before the timings one short I2MoE fit (and tiny scikit-learn fits) pay the
one-time costs of a fresh process (lazy imports such as ``torch._dynamo`` on
the first optimizer); that first fit's time is printed.

Run ``python benchmarks/bench_fit.py`` (``--help`` for options), e.g.
``python benchmarks/bench_fit.py --params '{"max_epochs": 20, "batch_size": 128}'``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from _common import MFEAT, cpu_model, load_mfeat
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

import sk_i2moe
from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import load_breast_cancer_views, make_interaction_classification

TARGET_FIT_RATIO = 10.0
TARGET_OUTSIDE_SHARE = 0.15


@dataclass
class StepTotals:
    """Seconds spent in each part of the training steps, and their number."""

    loop_s: float = 0.0
    single_s: float = 0.0
    forward_s: float = 0.0
    update_s: float = 0.0
    n_steps: int = 0


class StepTimer(Callback):
    """Time the compute of every training step and the epochs around it.

    Wraps, on the fitted net: ``fit_loop`` (all epochs), ``train_step_single``
    (forward + loss + backward of one batch), ``module_.forward`` (the forward
    pass alone) and ``optimizer_.step`` (whose time minus the closure it runs
    is the parameter update). Everything in the fit that is none of these is
    data loading and skorch bookkeeping (callbacks, history, batch glue), or
    the estimator's own work around the skorch fit.

    The estimator trains deep copies of its callbacks, one per skorch fit
    (with ``early_stopping="auto"`` a first fit chooses the number of epochs,
    then the final fit runs): every copy adds to the same :class:`StepTotals`,
    so the totals cover every training step of one ``fit``.
    """

    def __init__(self, totals: StepTotals | None = None) -> None:
        self.totals = StepTotals() if totals is None else totals

    def __deepcopy__(self, memo: dict) -> StepTimer:
        return StepTimer(self.totals)

    def initialize(self) -> StepTimer:
        return self

    def on_train_begin(self, net, **kwargs) -> None:
        if "fit_loop" in vars(net):  # already wrapped (warm start)
            return
        fit_loop, single = net.fit_loop, net.train_step_single
        forward, opt_step = net.module_.forward, net.optimizer_.step
        in_loop, totals = [False], self.totals

        def timed_loop(*args, **kw):
            in_loop[0] = True
            start = time.perf_counter()
            try:
                return fit_loop(*args, **kw)
            finally:
                totals.loop_s += time.perf_counter() - start
                in_loop[0] = False

        def timed_single(*args, **kw):
            start = time.perf_counter()
            try:
                return single(*args, **kw)
            finally:
                totals.single_s += time.perf_counter() - start
                totals.n_steps += 1

        def timed_forward(*args, **kw):
            start = time.perf_counter()
            try:
                return forward(*args, **kw)
            finally:
                if in_loop[0]:
                    totals.forward_s += time.perf_counter() - start

        def timed_opt_step(closure=None):
            closure_s = [0.0]

            def timed_closure():
                start = time.perf_counter()
                try:
                    return closure()
                finally:
                    closure_s[0] += time.perf_counter() - start

            start = time.perf_counter()
            try:
                return opt_step(timed_closure if closure is not None else None)
            finally:
                totals.update_s += time.perf_counter() - start - closure_s[0]

        net.fit_loop = timed_loop
        net.train_step_single = timed_single
        net.module_.forward = timed_forward
        net.optimizer_.step = timed_opt_step


def load_datasets(
    mfeat: Path, sizes: tuple[int, ...] = ()
) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    data = {"breast_cancer": load_breast_cancer_views()}
    if mfeat.exists():
        views, y = load_mfeat(mfeat)
        data["mfeat"] = ({k: v.astype(np.float32) for k, v in views.items()}, y)
    else:
        print(f"(mfeat skipped: {mfeat} not found)")
    for n in sizes:  # the package's synthetic data: three modalities of 10 features
        X, y, _ = make_interaction_classification("redundancy", n_samples=n, random_state=0)
        data[f"synthetic_{n}"] = (X, y)
    return data


def split(X: dict, y: np.ndarray, seed: int) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    idx_train, idx_test = train_test_split(
        np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed
    )
    return (
        {k: v[idx_train] for k, v in X.items()},
        {k: v[idx_test] for k, v in X.items()},
        y[idx_train],
        y[idx_test],
    )


def concat(X: dict) -> np.ndarray:
    return np.hstack([np.asarray(v, dtype=np.float64) for v in X.values()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--params",
        action="append",
        default=None,
        help="JSON dict of I2MoEClassifier parameters (repeatable; default: defaults)",
    )
    parser.add_argument("--datasets", nargs="*", default=["breast_cancer", "mfeat"])
    parser.add_argument("--repeats", type=int, default=3, help="fits per model (median time)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="split and model seed")
    parser.add_argument("--mfeat", type=Path, default=MFEAT)
    parser.add_argument("--no-baselines", action="store_true", help="I2MoE rows only")
    args = parser.parse_args()
    settings = [json.loads(p) for p in args.params] if args.params else [{}]

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    print(
        f"torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"sk_i2moe {sk_i2moe.__version__}, python {platform.python_version()}, "
        f"{args.threads} threads (torch, BLAS, OpenMP)"
    )
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"stratified 75/25 split, seed {args.seed}; median of {args.repeats} fits per model")
    print()

    # one-time costs of a fresh process (lazy imports such as torch._dynamo on
    # the first optimizer, first-call initialisation), paid before the timings
    sizes = tuple(int(d.split("_")[1]) for d in args.datasets if d.startswith("synthetic_"))
    datasets = load_datasets(args.mfeat, sizes)
    X0, y0 = datasets["breast_cancer"]
    start = time.perf_counter()
    I2MoEClassifier(max_epochs=1, random_state=0).fit(X0, y0)
    warm = time.perf_counter() - start
    print(f"warm-up: first I2MoE fit in this process (1 epoch) took {warm:.2f} s")
    if not args.no_baselines:
        MLPClassifier(max_iter=5).fit(concat(X0), y0)
        HistGradientBoostingClassifier(max_iter=5).fit(concat(X0), y0)
    print()

    rows, breakdown = [], []
    for name, (X, y) in datasets.items():
        if name not in args.datasets:
            continue
        X_train, X_test, y_train, y_test = split(X, y, args.seed)
        A_train, A_test = concat(X_train), concat(X_test)
        models: dict[str, tuple[Callable[[], object], bool]] = {}
        for params in settings:
            label = "I2MoEClassifier" + (f" {json.dumps(params)}" if params else "")
            models[label] = (
                lambda params=params: I2MoEClassifier(
                    random_state=args.seed, callbacks=[("step_timer", StepTimer())], **params
                ),
                True,
            )
        if not args.no_baselines:
            models["MLPClassifier()"] = (lambda: MLPClassifier(random_state=args.seed), False)
            models["StandardScaler+MLPClassifier()"] = (
                lambda: make_pipeline(StandardScaler(), MLPClassifier(random_state=args.seed)),
                False,
            )
            models["HistGradientBoostingClassifier()"] = (
                lambda: HistGradientBoostingClassifier(random_state=args.seed),
                False,
            )
        times: dict[str, list[float]] = {m: [] for m in models}
        fitted: dict[str, object] = {}
        for r in range(args.repeats):
            order = list(models)
            order = order[r % len(order) :] + order[: r % len(order)]
            for label in order:
                make, views = models[label]
                est = make()
                start = time.perf_counter()
                est.fit(X_train if views else A_train, y_train)
                times[label].append(time.perf_counter() - start)
                fitted[label] = est
                if views:
                    totals = dict(est.callbacks)["step_timer"].totals  # every skorch fit's
                    breakdown.append(
                        {"dataset": name, "model": label, "fit_s": times[label][-1]}
                        | asdict(totals)
                    )
        mlp = statistics.median(times["MLPClassifier()"]) if "MLPClassifier()" in times else None
        for label, (_, views) in models.items():
            est = fitted[label]
            fit_s = statistics.median(times[label])
            final = est.steps[-1][1] if hasattr(est, "steps") else est  # a pipeline's model
            rows.append(
                {
                    "dataset": name,
                    "model": label,
                    "fit s": fit_s,
                    "fit s min-max": f"{min(times[label]):.3f}-{max(times[label]):.3f}",
                    "x MLPClassifier": fit_s / mlp if mlp else float("nan"),
                    "test accuracy": est.score(X_test if views else A_test, y_test),
                    "iterations": getattr(final, "n_iter_", float("nan")),
                }
            )
        print(f"[done] {name}", flush=True)

    print()
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    table = pd.DataFrame(rows)
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()
    bd = pd.DataFrame(breakdown)
    bd = bd.groupby(["dataset", "model"], sort=False).median().reset_index()
    compute = bd["single_s"] + bd["update_s"]
    bd["forward %"] = 100 * bd["forward_s"] / bd["fit_s"]
    bd["loss+backward %"] = 100 * (bd["single_s"] - bd["forward_s"]) / bd["fit_s"]
    bd["optimizer %"] = 100 * bd["update_s"] / bd["fit_s"]
    bd["outside %"] = 100 * (bd["fit_s"] - compute) / bd["fit_s"]
    bd["  in epochs loop %"] = 100 * (bd["loop_s"] - compute) / bd["fit_s"]
    bd["  around skorch fit %"] = 100 * (bd["fit_s"] - bd["loop_s"]) / bd["fit_s"]
    bd["ms/step"] = 1e3 * compute / bd["n_steps"]
    print(
        "I2MoE fit time breakdown (median over fits). outside = fit time not in forward, "
        "loss + backward or the optimizer update: data loading and skorch bookkeeping in the "
        "epochs loop, and the estimator's work around the skorch fit (checks, building the "
        "net, the pass setting interaction_weights_):"
    )
    shown = bd.drop(columns=["loop_s", "forward_s", "single_s", "update_s"])
    with pd.option_context("display.max_colwidth", 60, "display.width", 250):
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print()
    print("Targets:")
    for _, row in table.iterrows():
        if row["model"].startswith("I2MoEClassifier") and np.isfinite(row["x MLPClassifier"]):
            ok = row["x MLPClassifier"] <= TARGET_FIT_RATIO
            print(
                f"  {'PASS' if ok else 'FAIL'}  {row['dataset']}: {row['model']} fit time "
                f"<= {TARGET_FIT_RATIO:g}x MLPClassifier(): {row['x MLPClassifier']:.2f}x"
            )
    for _, row in bd.iterrows():
        share = row["outside %"] / 100
        ok = share < TARGET_OUTSIDE_SHARE
        print(
            f"  {'PASS' if ok else 'FAIL'}  {row['dataset']}: {row['model']} share of fit time "
            f"outside forward/backward/optimizer < {TARGET_OUTSIDE_SHARE:.0%}: {share:.1%}"
        )


if __name__ == "__main__":
    main()
