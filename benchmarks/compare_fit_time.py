"""Fit time of two checkouts of sk_i2moe, one process per fit, interleaved.

``bench_fit.py`` times models inside one process; a change to the package
itself is timed here instead: every fit runs in a fresh process that imports
``sk_i2moe`` from the checkout named for it, and the cases take turns round
after round, so that both checkouts see the same machine load. Each process
pays the one-time costs of a fresh process in a one-epoch fit first, then
times one fit of ``I2MoEClassifier(random_state=0, **params)`` on 75 % of
``make_interaction_classification("redundancy", n_samples=N, random_state=0)``.

Run, with ``OTHER`` a checkout of the reference commit (e.g. made with
``git worktree add /tmp/ref <commit>``)::

    python benchmarks/compare_fit_time.py --other /tmp/ref --rounds 3 --n-samples 1000 \\
        --params '{"n_members": 8}'

Cases: the other checkout's default, this checkout's default, and this
checkout with each ``--params``. It prints the median fit time (fastest and
slowest), the held-out accuracy and the epochs of the timed fit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

ONE_FIT = """
import json, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from sklearn.model_selection import train_test_split
from sk_i2moe import I2MoEClassifier
from sk_i2moe.datasets import make_interaction_classification
torch.set_num_threads(int(sys.argv[4]))
n, params = int(sys.argv[2]), json.loads(sys.argv[3])
X, y, _ = make_interaction_classification("redundancy", n_samples=n, random_state=0)
fit, held = train_test_split(np.arange(n), test_size=0.25, random_state=0, stratify=y)
train = {k: v[fit] for k, v in X.items()}
I2MoEClassifier(max_epochs=1, random_state=0).fit(train, y[fit])
start = time.perf_counter()
model = I2MoEClassifier(random_state=0, **params).fit(train, y[fit])
seconds = time.perf_counter() - start
accuracy = float(model.score({k: v[held] for k, v in X.items()}, y[held]))
print(json.dumps({"fit_s": seconds, "accuracy": accuracy, "epochs": model.n_iter_}))
"""


def one_fit(checkout: Path, n_samples: int, params: str, threads: int) -> dict:
    """Time one fit in a fresh process importing ``sk_i2moe`` from ``checkout``."""
    out = subprocess.run(
        [sys.executable, "-c", ONE_FIT, str(checkout), str(n_samples), params, str(threads)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, required=True, help="the reference checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--params", action="append", default=[], help="JSON, for this checkout")
    args = parser.parse_args()
    cases = [
        (f"{args.other} (defaults)", args.other, "{}"),
        ("this checkout (defaults)", HERE, "{}"),
    ] + [(f"this checkout {p}", HERE, p) for p in args.params]
    results: dict[str, list[dict]] = {name: [] for name, _, _ in cases}
    for _ in range(args.rounds):
        for name, checkout, params in cases:
            results[name].append(one_fit(checkout, args.n_samples, params, args.threads))
    for name, runs in results.items():
        times = [r["fit_s"] for r in runs]
        print(
            f"{name:40s} median {statistics.median(times):6.2f} s "
            f"[{min(times):.2f}-{max(times):.2f}]  accuracy {runs[0]['accuracy']:.3f}  "
            f"epochs {runs[0]['epochs']}"
        )


if __name__ == "__main__":
    main()
