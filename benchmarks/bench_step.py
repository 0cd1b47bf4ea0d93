"""Training and inference throughput of one I2MoE step: batched vs looped vs vanilla fusion.

For each configuration three models with the same backbone are compared:

* ``batched``: :class:`sk_i2moe.nn.InteractionMoE`, all ``E = M + 2`` experts
  over the ``M + 1`` input variants in one batched computation;
* ``looped``: :class:`_looped.LoopedI2MoE`, the same parameters and losses,
  one expert and one input variant per forward pass (``E x (M + 1)`` passes per
  training step, ``E`` per inference), as in the paper's public code;
* ``vanilla``: ``InteractionMoE(..., experts="single")``, one fusion network of
  the same backbone trained on the task loss alone (no perturbed passes).

A training step is forward, cross-entropy (+ 0.1 x interaction loss, + 0.01 x
gate loss for sparse backbones), backward and an Adam step on one batch;
inference is one forward pass in evaluation mode under
:func:`torch.inference_mode` on the same batch. The models are timed
interleaved (one step of each in turn, rotating the order), after warm-up, and
the median over the repeats is reported; a large ``torch.mm`` is timed in the
same loop, so the matmul rate is measured under the same machine load. The
glibc heap settings that every CPU ``fit`` applies (see the performance guide)
are applied first, for all models alike.

Peak memory is the largest amount of tensor memory allocated *during* one
training step and live at the same time (activations kept for backward,
gradients, temporaries), from the memory events of
:func:`torch.profiler.profile` (``profile_memory=True``): it counts every
allocation of torch's CPU allocator and excludes the parameters, the optimizer
state and the inputs that exist before the step, and scratch memory of
MKL/oneDNN that does not go through torch's allocator.

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` over
one forward + backward of the batched training step (matmuls and attention);
the achieved rate divides them by the median training step time (which also
includes the optimizer step and every elementwise kernel).

For the paper and small configurations (M=3) a profile of a few training
steps of the batched and vanilla models shows where the time goes (self time
of the kernels grouped by kind: matmuls, softmax, layer norm, GELU, dropout
masks, copies, other elementwise work, and the rest: Python, autograd and
dispatch), with the rate the matmul kernels reach.

Run ``python benchmarks/bench_step.py`` (``--help`` for options; ``--quick`` for
a short smoke run; ``--only-ablations`` for the training cost of each ablation;
``--device cuda`` to time the same steps on a GPU, with a synchronisation
before and after every timed step).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_model  # noqa: E402
from _looped import LoopedI2MoE  # noqa: E402

from sk_i2moe._malloc import retain_heap_if_asked  # noqa: E402
from sk_i2moe.nn import InteractionMoE, InteractionObjective  # noqa: E402

PAPER = {"hidden_dim": 128, "n_tokens": 16, "n_layers": 2, "n_heads": 4}
SMALL = {"hidden_dim": 64, "n_tokens": 4, "n_layers": 2, "n_heads": 4}
FEATURES = [100, 60, 40, 30]
CONFIGS = {
    "paper M=2": (PAPER, 2),
    "paper M=3": (PAPER, 3),
    "paper M=4": (PAPER, 4),
    "small M=3": (SMALL, 3),
}
# ablation name -> InteractionMoE options (transformer, paper configuration, M = 3)
ABLATIONS = {
    "experts='single'": {"experts": "single"},
    "experts='synergy_redundancy'": {"experts": "synergy_redundancy"},
    "reweighting='static'": {"reweighting": "static"},
    "interaction_loss_weight=0": {"perturbed_passes": False},
    "n_perturbed=1": {"n_perturbed": 1},
    "n_perturbed=2": {"n_perturbed": 2},
    "loss_on='latent'": {"loss_on": "latent"},
    "perturbation='mean'": {"perturbation": "mean"},
    "perturbation='zero'": {"perturbation": "zero"},
    "noise_scale='matched'": {"noise_scale": "matched"},
}
BACKBONES = ["transformer", "mlp", "early", "late", "lrtf", "interpretcc", "switch", "moepp"]
N_CLASSES = 3
DROPOUT = 0.1
#: where the models, batches and the reference matmul live (``--device``)
DEVICE = torch.device("cpu")

# targets of issue 4 (CPU, ratios measured in one run)
TARGET_LOOPED_PAPER = 3.0
TARGET_LOOPED_SMALL = 5.0
TARGET_MATMUL_SHARE = 0.60
TARGET_VANILLA_RATIO = 15.0


def make_model(
    arch: dict, n_modalities: int, fusion: str, experts: str = "all", seed: int = 0, **options
) -> InteractionMoE:
    torch.manual_seed(seed)
    fusion_kwargs: dict = {"n_layers": arch["n_layers"], "dropout": DROPOUT}
    if fusion in ("transformer", "switch", "moepp"):
        fusion_kwargs["n_heads"] = arch["n_heads"]
    return InteractionMoE(
        FEATURES[:n_modalities],
        N_CLASSES,
        hidden_dim=arch["hidden_dim"],
        n_tokens=arch["n_tokens"],
        fusion=fusion,
        fusion_kwargs=fusion_kwargs,
        experts=experts,
        **options,
    ).train()


class Runner:
    """A model, its Adam optimizer and one fixed batch, all on ``DEVICE``."""

    def __init__(self, model: torch.nn.Module, batch: int, n_modalities: int) -> None:
        self.model = model.to(DEVICE)
        self.opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        g = torch.Generator().manual_seed(1)
        self.xs = [torch.randn(batch, d, generator=g).to(DEVICE) for d in FEATURES[:n_modalities]]
        self.y = torch.randint(0, N_CLASSES, (batch,), generator=g).to(DEVICE)
        # task + 0.1 interaction + 0.01 gate, as the package's objective computes them
        self.objective = InteractionObjective(
            torch.nn.CrossEntropyLoss(reduction="none"),
            interaction_loss_weight=0.1,
            expert_loss_weight=0.0,
            gate_loss_weight=0.01,
        )

    def loss(self) -> torch.Tensor:
        return self.objective(self.model(self.xs), self.y)[0]

    def train_step(self) -> None:
        self.model.train()
        loss = self.loss()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def infer_step(self) -> None:
        self.model.eval()
        with torch.inference_mode():
            self.model(self.xs)
        self.model.train()

    def flops(self) -> int:
        """FLOPs of one forward + backward of the training step."""
        self.model.train()
        with FlopCounterMode(display=False) as counter:
            self.loss().backward()
        self.opt.zero_grad(set_to_none=True)
        return counter.get_total_flops()

    def peak_step_bytes(self) -> int:
        """Peak tensor bytes allocated during one training step (torch profiler; CUDA's
        allocator statistics on a GPU: the peak above what was allocated before the step)."""
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
            before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            self.train_step()
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() - before
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            self.train_step()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "trace.json")
            prof.export_chrome_trace(path)
            with open(path) as f:
                events = json.load(f)["traceEvents"]
        totals = [
            e["args"]["Total Allocated"]
            for e in events
            if e.get("name") == "[memory]" and "Total Allocated" in e.get("args", {})
        ]
        return max(totals, default=0)


def synchronize() -> None:
    """Wait for the GPU's queued kernels (nothing to wait for on the CPU)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], None]) -> float:
    synchronize()
    start = time.perf_counter()
    fn()
    synchronize()
    return time.perf_counter() - start


CATEGORIES = {
    "matmul (mm, bmm, baddbmm, addmm)": {
        "aten::mm",
        "aten::bmm",
        "aten::baddbmm",
        "aten::addmm",
        "aten::_addmm_activation",
    },
    "fused attention (SDPA)": {
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
    },
    "softmax": {
        "aten::_softmax",
        "aten::_softmax_backward_data",
        "aten::amax",
        "aten::exp_",
        "aten::_log_softmax",
        "aten::_log_softmax_backward_data",
    },
    "layer norm": {"aten::native_layer_norm", "aten::native_layer_norm_backward"},
    "GELU": {"aten::gelu", "aten::gelu_backward", "aten::gelu_"},
    "dropout masks (RNG)": {"aten::random_", "aten::bernoulli_", "aten::lt", "aten::where"},
    "copies, concatenation": {"aten::copy_", "aten::cat", "aten::clone", "aten::fill_"},
}


def breakdown(runner: Runner, flops: int, steps: int = 3) -> tuple[pd.DataFrame, float]:
    """Share of one training step's time per kind of kernel (torch profiler, self time)."""
    for _ in range(2):
        runner.train_step()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            runner.train_step()
    wall = (time.perf_counter() - start) / steps
    totals: dict[str, float] = dict.fromkeys([*CATEGORIES, "other elementwise and reductions"], 0.0)
    for event in prof.key_averages():
        if event.key.startswith("aten::") and event.self_cpu_time_total > 0:
            kind = next((k for k, names in CATEGORIES.items() if event.key in names), None)
            totals[kind or "other elementwise and reductions"] += event.self_cpu_time_total
    kernel_s = {k: v / 1e6 / steps for k, v in totals.items()}
    rows = [
        {"kind": k, "ms/step": 1e3 * v, "% of step": 100 * v / wall} for k, v in kernel_s.items()
    ]
    rest = wall - sum(kernel_s.values())
    rows.append(
        {
            "kind": "Python, autograd and dispatch",
            "ms/step": 1e3 * rest,
            "% of step": 100 * rest / wall,
        }
    )
    gemm_s = kernel_s["matmul (mm, bmm, baddbmm, addmm)"]
    return pd.DataFrame(rows), flops / gemm_s / 1e9 if gemm_s else float("nan")


def matmul_gflops(a: torch.Tensor, b: torch.Tensor) -> float:
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / timed(lambda: torch.mm(a, b)) / 1e9


def measure(
    runners: dict[str, Runner],
    repeats: int,
    warmup: int,
    mm: tuple[torch.Tensor, torch.Tensor],
    infer: bool = True,
) -> tuple[dict[str, dict[str, float]], list[float]]:
    """Median train / inference seconds per step of each runner, timed interleaved."""
    for runner in runners.values():
        for _ in range(warmup):
            runner.train_step()
            if infer:
                runner.infer_step()
    names = list(runners)
    train: dict[str, list[float]] = {n: [] for n in names}
    inference: dict[str, list[float]] = {n: [] for n in names}
    rates = []
    for r in range(repeats):
        rates.append(matmul_gflops(*mm))
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            train[name].append(timed(runners[name].train_step))
            if infer:
                inference[name].append(timed(runners[name].infer_step))
    out = {
        n: {
            "train_s": statistics.median(train[n]),
            "infer_s": statistics.median(inference[n]) if infer else float("nan"),
        }
        for n in names
    }
    return out, rates


def ablation_table(args: argparse.Namespace, mm: tuple[torch.Tensor, torch.Tensor]) -> None:
    """Training step of each ablation against the full method, transformer, paper config."""
    rows = []
    for name, options in ABLATIONS.items():
        runners = {
            "full": Runner(make_model(PAPER, 3, "transformer"), args.batch_size, 3),
            "ablation": Runner(make_model(PAPER, 3, "transformer", **options), args.batch_size, 3),
        }
        res, _ = measure(runners, args.repeats, args.warmup, mm, infer=False)
        rows.append(
            {
                "ablation": name,
                "train ms/step": 1e3 * res["ablation"]["train_s"],
                "full method ms/step": 1e3 * res["full"]["train_s"],
                "train vs transformer": res["ablation"]["train_s"] / res["full"]["train_s"],
            }
        )
        print(f"[done] {name}", flush=True)
    print()
    print("Ablations, I2MoE transformer at the paper configuration, M=3 (interleaved):")
    print(fmt_table(pd.DataFrame(rows)))


def fmt_table(df: pd.DataFrame) -> str:
    return df.to_string(index=False, float_format=lambda v: f"{v:,.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=9, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--configs", nargs="*", default=list(CONFIGS), help=f"subset of {list(CONFIGS)}"
    )
    parser.add_argument("--no-backbones", action="store_true", help="skip the backbone table")
    parser.add_argument(
        "--only-ablations",
        action="store_true",
        help="print only the ablation table (training cost vs the full method)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument(
        "--no-breakdown",
        dest="breakdown",
        action="store_false",
        help="skip the profile of where a training step's time goes",
    )
    parser.add_argument("--matmul-size", type=int, default=4096)
    parser.add_argument("--quick", action="store_true", help="2 repeats, 1 warm-up (smoke run)")
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device of the models and the matmul (e.g. 'cuda'); on a GPU the profile "
        "of where the time goes is skipped and peak memory is CUDA's allocator peak",
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.warmup = 2, 1
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type != "cpu":
        args.breakdown = False

    torch.set_num_threads(args.threads)
    # the opt-in heap settings (SK_I2MOE_TUNE_MALLOC=1, see the performance guide), for all
    # models alike
    heap = retain_heap_if_asked()
    n = args.matmul_size
    g = torch.Generator().manual_seed(0)
    mm = (torch.randn(n, n, generator=g).to(DEVICE), torch.randn(n, n, generator=g).to(DEVICE))
    for _ in range(2):
        torch.mm(*mm)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs)")
    if DEVICE.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(DEVICE)} (models, batches and matmul there)")
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"python {platform.python_version()}, glibc heap settings of sk_i2moe: "
        f"{'applied' if heap else 'not applied'}"
    )
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"batch {args.batch_size}, {args.repeats} timed steps per model after {args.warmup} "
        "warm-up steps, medians; features per modality "
        f"{FEATURES}, {N_CLASSES} classes, dropout {DROPOUT}"
    )
    print(f"paper config {PAPER}; small config {SMALL}")
    print()

    if args.only_ablations:
        ablation_table(args, mm)
        return

    rows, ratio_rows, all_rates, breakdowns = [], [], [], []
    for name in args.configs:
        arch, n_mod = CONFIGS[name]
        batched = make_model(arch, n_mod, "transformer")
        runners = {
            "batched": Runner(batched, args.batch_size, n_mod),
            "looped": Runner(LoopedI2MoE(batched), args.batch_size, n_mod),
            "vanilla": Runner(
                make_model(arch, n_mod, "transformer", experts="single"), args.batch_size, n_mod
            ),
        }
        flops = runners["batched"].flops()
        res, rates = measure(runners, args.repeats, args.warmup, mm)
        all_rates += rates
        rate = statistics.median(rates)
        for model, r in res.items():
            peak = float("nan") if args.no_memory else runners[model].peak_step_bytes() / 2**20
            rows.append(
                {
                    "config": name,
                    "model": model,
                    "train ms/step": 1e3 * r["train_s"],
                    "train samples/s": args.batch_size / r["train_s"],
                    "infer ms/batch": 1e3 * r["infer_s"],
                    "infer samples/s": args.batch_size / r["infer_s"],
                    "peak step MiB": peak,
                }
            )
        if args.breakdown and name in ("paper M=3", "small M=3"):
            for model in ("batched", "vanilla"):
                table, gemm_rate = breakdown(
                    runners[model], flops if model == "batched" else runners[model].flops()
                )
                breakdowns.append((f"{name}, {model}", table, gemm_rate))
        gflops = flops / res["batched"]["train_s"] / 1e9
        ratio_rows.append(
            {
                "config": name,
                "E x (M+1)": batched.n_experts * (n_mod + 1),
                "train batched/looped": res["looped"]["train_s"] / res["batched"]["train_s"],
                "infer batched/looped": res["looped"]["infer_s"] / res["batched"]["infer_s"],
                "train I2MoE/vanilla": res["batched"]["train_s"] / res["vanilla"]["train_s"],
                "GFLOP/step": flops / 1e9,
                "GFLOP/s": gflops,
                "matmul GFLOP/s": rate,
                "% of matmul": 100 * gflops / rate,
            }
        )
        print(f"[done] {name}", flush=True)

    backbone_rows = []
    if not args.no_backbones:
        arch, n_mod = PAPER, 3
        for fusion in BACKBONES:
            runners = {
                "batched": Runner(make_model(arch, n_mod, fusion), args.batch_size, n_mod),
                "vanilla": Runner(
                    make_model(arch, n_mod, fusion, experts="single"), args.batch_size, n_mod
                ),
            }
            flops = runners["batched"].flops()
            res, rates = measure(runners, args.repeats, args.warmup, mm)
            all_rates += rates
            backbone_rows.append(
                {
                    "backbone": fusion,
                    "train ms/step": 1e3 * res["batched"]["train_s"],
                    "infer ms/batch": 1e3 * res["batched"]["infer_s"],
                    "train I2MoE/vanilla": res["batched"]["train_s"] / res["vanilla"]["train_s"],
                    "GFLOP/step": flops / 1e9,
                    "GFLOP/s": flops / res["batched"]["train_s"] / 1e9,
                    "peak step MiB": float("nan")
                    if args.no_memory
                    else runners["batched"].peak_step_bytes() / 2**20,
                }
            )
            print(f"[done] backbone {fusion}", flush=True)

    print()
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        f"dense fp32 matmul ({n}x{n} @ {n}x{n}, {DEVICE.type}, {args.threads} CPU threads): "
        "median "
        f"{statistics.median(all_rates):.1f} GFLOP/s over the run "
        f"(min {min(all_rates):.1f}, max {max(all_rates):.1f})"
    )
    print()
    print(f"Per model (batch {args.batch_size}; training step = forward + loss + backward + Adam):")
    print(fmt_table(pd.DataFrame(rows)))
    print()
    print("Ratios (same run, interleaved):")
    ratios = pd.DataFrame(ratio_rows)
    print(fmt_table(ratios))
    if backbone_rows:
        bb = pd.DataFrame(backbone_rows)
        ref = bb.loc[bb["backbone"] == "transformer"].iloc[0]
        bb.insert(2, "train vs transformer", bb["train ms/step"] / ref["train ms/step"])
        bb.insert(4, "infer vs transformer", bb["infer ms/batch"] / ref["infer ms/batch"])
        print()
        print("Backbones, I2MoE at the paper configuration, M=3 (batched):")
        print(fmt_table(bb))

    for label, table, gemm_rate in breakdowns:
        print()
        print(
            f"Where a training step's time goes, {label} (torch profiler, self time of the "
            f"kernels, {args.threads} threads; the profiler adds some overhead). Matmul kernels "
            f"run at {gemm_rate:.0f} GFLOP/s counting all the step's FLOPs:"
        )
        print(fmt_table(table))

    print()
    print("Targets:")
    by = ratios.set_index("config")

    def check(label: str, value: float, ok: bool) -> None:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}: {value:.2f}")

    if "paper M=3" in by.index:
        r = by.loc["paper M=3"]
        check(
            f"batched/looped training throughput, paper M=3 >= {TARGET_LOOPED_PAPER:g}x",
            r["train batched/looped"],
            r["train batched/looped"] >= TARGET_LOOPED_PAPER,
        )
        check(
            f"I2MoE step GFLOP/s / matmul GFLOP/s, paper M=3 >= {TARGET_MATMUL_SHARE:.0%}",
            r["% of matmul"] / 100,
            r["% of matmul"] / 100 >= TARGET_MATMUL_SHARE,
        )
        check(
            f"I2MoE / vanilla training step time, paper M=3 <= {TARGET_VANILLA_RATIO:g}x",
            r["train I2MoE/vanilla"],
            r["train I2MoE/vanilla"] <= TARGET_VANILLA_RATIO,
        )
    if "small M=3" in by.index:
        r = by.loc["small M=3"]
        check(
            f"batched/looped training throughput, small M=3 >= {TARGET_LOOPED_SMALL:g}x",
            r["train batched/looped"],
            r["train batched/looped"] >= TARGET_LOOPED_SMALL,
        )


if __name__ == "__main__":
    main()
