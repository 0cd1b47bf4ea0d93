"""Where the training step of a default fit spends its time, on the data of ``bench_fit.py``.

``bench_fit.py`` times whole fits; this script takes their step apart. For each
data set (breast-cancer views, mfeat) it fits ``I2MoEClassifier`` for one epoch,
keeps the preprocessed training batches that skorch fed it, and then times
skorch's ``train_step`` (forward, loss, backward and the AdamW update) of the
fitted net on fixed batches, interleaved in blocks, median over the blocks:

* **models** (the fit's batch, ``--threads`` threads): the package
  defaults; the same without the perturbed passes
  (``interaction_loss_weight=0``: one clean pass per expert, ``E`` rows per
  sample instead of ``E x (M + 1)``); vanilla fusion (``experts="single"``,
  no interaction loss, as in ``bench_accuracy.py``). The differences give the
  share of the step spent on the perturbed passes and the I2MoE / vanilla
  ratio of the fit's own configuration.
* **batch sizes and threads** (the defaults): batches of 1, 32, the fit's
  and twice the fit's rows at 1 thread and at ``--threads`` threads. A 1-row
  batch costs what does not grow with the batch (Python, dispatch, autograd
  bookkeeping, the optimizer): the fixed cost of a step. The slope between
  the two largest batches is the cost per sample.

Run ``python benchmarks/bench_anatomy.py`` (``--help`` for options), e.g.
``python benchmarks/bench_anatomy.py --datasets mfeat --params '{"hidden_dim": 32}'``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from _common import MFEAT, cpu_model, load_mfeat
from skorch.callbacks import Callback
from threadpoolctl import threadpool_limits

from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import load_breast_cancer_views

MODELS = {
    "defaults": {},
    "no perturbed passes (interaction_loss_weight=0)": {"interaction_loss_weight": 0.0},
    "vanilla fusion": {"experts": "single", "interaction_loss_weight": 0.0},
}


class KeepBatches(Callback):
    """Keep every training batch skorch feeds the net (inputs already preprocessed)."""

    def initialize(self) -> KeepBatches:
        self.batches: list = []
        return self

    def on_batch_begin(self, net, batch=None, training: bool = False, **kwargs) -> None:
        if training:
            self.batches.append(batch)


def fitted_net(X: dict, y: np.ndarray, params: dict) -> tuple[object, list]:
    """A net fitted for one epoch with ``params``, and the training batches it saw."""
    keep = KeepBatches()
    clf = I2MoEClassifier(random_state=0, max_epochs=1, callbacks=[keep], **params).fit(X, y)
    clf.net_.module_.train()
    return clf.net_, keep.batches


def rows_batch(batches: list, n: int) -> tuple[dict, torch.Tensor]:
    """The first ``n`` rows of the concatenated training batches, as one batch."""
    inputs = [
        torch.cat([b[0]["inputs"][i] for b in batches])[:n]
        for i in range(len(batches[0][0]["inputs"]))
    ]
    weight = torch.cat([b[0]["sample_weight"] for b in batches])[:n]
    target = torch.cat([b[1] for b in batches])[:n]
    return {"inputs": inputs, "sample_weight": weight}, target


def interleaved(
    steps: dict[str, Callable[[], None]], blocks: int, per_block: int
) -> dict[str, float]:
    """Median seconds per call of each step function, timed in interleaved blocks."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for block in range(blocks):
        names = list(steps)
        names = names[block % len(names) :] + names[: block % len(names)]
        for name in names:
            steps[name]()  # one untimed call after switching
            for _ in range(per_block):
                start = time.perf_counter()
                steps[name]()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def load(name: str) -> tuple[dict, np.ndarray] | None:
    if name == "breast_cancer":
        return load_breast_cancer_views()
    if name == "mfeat":
        return load_mfeat() if MFEAT.exists() else None
    raise ValueError(f"unknown dataset {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="breast_cancer,mfeat")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="the fit's batch size (default: the package's)"
    )
    parser.add_argument("--blocks", type=int, default=8, help="interleaved blocks per model")
    parser.add_argument("--per-block", type=int, default=10, help="timed steps per block")
    parser.add_argument("--params", default="{}", help="I2MoE parameters as JSON (all models)")
    args = parser.parse_args()
    params = json.loads(args.params)
    if args.batch_size is not None:
        params["batch_size"] = args.batch_size

    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    print(f"torch {torch.__version__}, python {platform.python_version()}, params {params}")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"medians over {args.blocks} interleaved blocks of {args.per_block} training steps")
    model_rows, size_rows = [], []
    with threadpool_limits(args.threads):
        torch.set_num_threads(args.threads)
        for dataset in args.datasets.split(","):
            data = load(dataset)
            if data is None:
                print(f"[skipped] {dataset}: data file missing")
                continue
            X, y = data
            nets = {name: fitted_net(X, y, {**params, **opts}) for name, opts in MODELS.items()}
            net, batches = nets["defaults"]
            fit_batch = net.batch_size  # the fit's, "auto" resolved
            batch = rows_batch(batches, fit_batch)
            per_model = interleaved(
                {
                    name: (lambda net=net, batch=batch: net.train_step(batch))
                    for name, (net, _) in nets.items()
                },
                args.blocks,
                args.per_block,
            )
            base = per_model["defaults"]
            for name, seconds in per_model.items():
                model_rows.append(
                    {
                        "dataset": dataset,
                        "batch": fit_batch,
                        "model": name,
                        "ms/step": 1e3 * seconds,
                        "x defaults": seconds / base,
                    }
                )

            sizes = [1, 32, fit_batch, 2 * fit_batch]
            sized = {n: rows_batch(batches, n) for n in sizes}
            for threads in sorted({1, args.threads}):
                torch.set_num_threads(threads)
                with threadpool_limits(threads):
                    per_size = interleaved(
                        {n: (lambda b=sized[n], net=net: net.train_step(b)) for n in sizes},
                        args.blocks,
                        args.per_block,
                    )
                for n, seconds in per_size.items():
                    size_rows.append(
                        {
                            "dataset": dataset,
                            "threads": threads,
                            "batch": n,
                            "fit's batch": n == fit_batch,
                            "ms/step": 1e3 * seconds,
                            "us/sample": 1e6 * seconds / n,
                        }
                    )
            torch.set_num_threads(args.threads)
            print(f"[done] {dataset}", flush=True)

    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print()
    print(f"Training step per model (the fit's batch, {args.threads} threads):")
    print(pd.DataFrame(model_rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print()
    sizes_df = pd.DataFrame(size_rows)
    print("Training step of the defaults per batch size and thread count:")
    print(sizes_df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print()
    print("Fixed and per-sample cost (1-row batch; slope between the two largest batches):")
    summary = []
    for (dataset, threads), group in sizes_df.groupby(["dataset", "threads"], sort=False):
        ms = group.set_index("batch")["ms/step"]
        big, bigger = sorted(ms.index)[-2:]
        fit_batch = int(group.loc[group["fit's batch"], "batch"].iloc[0])
        summary.append(
            {
                "dataset": dataset,
                "threads": threads,
                "fit's batch": fit_batch,
                "fixed ms/step": ms.loc[1],
                "us per extra sample": 1e3 * (ms.loc[bigger] - ms.loc[big]) / (bigger - big),
                "fixed share of the fit's step %": 100 * ms.loc[1] / ms.loc[fit_batch],
            }
        )
    table = pd.DataFrame(summary)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.threads > 1:
        print()
        for dataset, group in sizes_df[sizes_df["fit's batch"]].groupby("dataset", sort=False):
            ms = group.set_index("threads")["ms/step"]
            speedup = ms.loc[1] / ms.loc[args.threads]
            print(
                f"{dataset}: {args.threads} threads run the fit's batch of "
                f"{group['batch'].iloc[0]} {speedup:.2f}x as fast as 1 thread"
            )


if __name__ == "__main__":
    main()
