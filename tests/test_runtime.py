"""Runtime settings: reference noise draws, fused optimizer, heap settings."""

import platform
import sys

import pytest
import torch

from sk_i2moe import I2MoEClassifier, _malloc
from sk_i2moe._device import fused_adamw
from sk_i2moe.nn import InteractionMoE

from .helpers import interaction_of

N_FEATURES = [6, 4, 9]


def _tokens(model, batch):
    g = torch.Generator().manual_seed(0)
    inputs = [3 * torch.randn(batch, d, generator=g) + 1 for d in N_FEATURES]
    return model.embed(inputs).detach()


@pytest.mark.parametrize("noise_scale", ["unit", "matched"])
def test_pooled_noise_is_distributed_as_the_mean_of_the_token_noise(noise_scale):
    torch.manual_seed(0)
    model = InteractionMoE(N_FEATURES, 3, hidden_dim=8, n_tokens=4, noise_scale=noise_scale)
    tokens = _tokens(model.train(), 4000)
    per_token = model._reference(tokens)
    pooled = model._reference(tokens, pooled=True)
    assert per_token.shape == tokens.shape
    assert pooled.shape == (4000, 3, 8)  # one token per modality
    mean_of_tokens = per_token.view(4000, 3, 4, 8).mean(2)
    for got, expected in [
        (pooled.mean((0, 2)), mean_of_tokens.mean((0, 2))),
        (pooled.std((0, 2)), mean_of_tokens.std((0, 2))),
    ]:
        torch.testing.assert_close(got, expected, atol=0.03, rtol=0.03)
    if noise_scale == "unit":  # the mean of 4 unit-variance draws has std 1/2
        torch.testing.assert_close(pooled.std(), torch.tensor(0.5), atol=0.01, rtol=0)


def test_mlp_backbone_draws_one_noise_token_per_modality(monkeypatch):
    calls = []
    for fusion, pooled in [("mlp", True), ("transformer", False)]:
        torch.manual_seed(0)
        model = InteractionMoE(N_FEATURES, 3, hidden_dim=8, n_tokens=4, fusion=fusion).train()
        original = model._reference

        def recording(tokens, pooled=False, original=original):
            calls.append(pooled)
            return original(tokens, pooled)

        monkeypatch.setattr(model, "_reference", recording)
        g = torch.Generator().manual_seed(1)
        out = model([torch.randn(6, d, generator=g) for d in N_FEATURES])
        assert torch.isfinite(interaction_of(out))
        assert calls[-1] is pooled


def test_fused_adamw_on_cpu_and_cuda():
    assert fused_adamw(torch.device("cuda")) is True
    new_torch = torch.torch_version.TorchVersion(torch.__version__) >= "2.4"
    assert fused_adamw(torch.device("cpu")) is new_torch
    assert fused_adamw(torch.device("meta")) is False


def test_classifier_uses_the_fused_optimizer_where_available():
    g = torch.Generator().manual_seed(0)
    X = {"a": torch.randn(40, 3, generator=g).numpy(), "b": torch.randn(40, 2, generator=g).numpy()}
    y = (X["a"][:, 0] > 0).astype(int)
    clf = I2MoEClassifier(hidden_dim=8, max_epochs=1, random_state=0, device="cpu").fit(X, y)
    group = clf.net_.optimizer_.param_groups[0]
    assert group["fused"] is fused_adamw(torch.device("cpu"))


def _recording_mallopt(result=1):
    calls = []

    def mallopt(param, value):
        calls.append((param, value))
        return result

    return mallopt, calls


ASKED = {"SK_I2MOE_TUNE_MALLOC": "1"}


def test_heap_settings_are_applied_through_mallopt_when_asked():
    mallopt, calls = _recording_mallopt()
    assert _malloc.apply_heap_settings(ASKED, mallopt) is True
    assert calls == [
        (_malloc.M_MMAP_THRESHOLD, _malloc.MMAP_THRESHOLD),
        (_malloc.M_TOP_PAD, _malloc.TOP_PAD),
    ]
    failing, _ = _recording_mallopt(result=0)
    assert _malloc.apply_heap_settings(ASKED, failing) is False
    assert _malloc.apply_heap_settings(ASKED, None) is False  # not glibc


@pytest.mark.parametrize(
    "environ",
    [
        {},  # not asked: the default
        {"SK_I2MOE_TUNE_MALLOC": "0"},
        {"SK_I2MOE_TUNE_MALLOC": "False"},
        {**ASKED, "MALLOC_TOP_PAD_": "0"},
        {**ASKED, "MALLOC_TRIM_THRESHOLD_": "131072"},
        {**ASKED, "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"},
    ],
)
def test_heap_settings_respect_the_users_allocator_configuration(environ):
    mallopt, calls = _recording_mallopt()
    assert _malloc.apply_heap_settings(environ, mallopt) is False
    assert calls == []


def test_unrelated_environment_does_not_block_the_heap_settings():
    mallopt, calls = _recording_mallopt()
    environ = {"SK_I2MOE_TUNE_MALLOC": "1", "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2"}
    assert _malloc.apply_heap_settings(environ, mallopt) is True
    assert len(calls) == 2


def test_a_default_fit_does_not_call_mallopt(monkeypatch):
    mallopt, calls = _recording_mallopt()
    monkeypatch.setattr(_malloc, "glibc_mallopt", lambda: mallopt)
    monkeypatch.setattr(_malloc, "_applied", False)
    # (dask's nanny, used by an earlier test, sets MALLOC_TRIM_THRESHOLD_ in this process)
    for name in ("SK_I2MOE_TUNE_MALLOC", "GLIBC_TUNABLES", *_malloc._USER_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    g = torch.Generator().manual_seed(0)
    X = {"a": torch.randn(40, 3, generator=g).numpy(), "b": torch.randn(40, 2, generator=g).numpy()}
    y = (X["a"][:, 0] > 0).astype(int)
    I2MoEClassifier(hidden_dim=8, max_epochs=1, random_state=0, device="cpu").fit(X, y)
    assert calls == []
    monkeypatch.setenv("SK_I2MOE_TUNE_MALLOC", "1")  # the documented opt-in
    I2MoEClassifier(hidden_dim=8, max_epochs=1, random_state=0, device="cpu").fit(X, y)
    assert len(calls) == 2


def test_glibc_mallopt_is_found_on_glibc_linux():
    mallopt = _malloc.glibc_mallopt()
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert (mallopt is not None) is on_glibc


def test_a_cpu_fit_seeds_and_forks_only_the_cpu_generator(monkeypatch):
    # torch.manual_seed seeds every GPU's, MPS's and XPU's generator, and asking a GPU for its
    # state starts CUDA on it: a CPU fit must touch no accelerator's generator (recorded, as
    # this machine may have none)
    import contextlib

    touched = []
    for module, name in [
        (torch.cuda, "manual_seed_all"),
        (torch.cuda, "manual_seed"),
        (torch.cuda, "get_rng_state"),
        (torch.cuda, "set_rng_state"),
        (torch.mps, "manual_seed"),
        (torch.xpu, "manual_seed_all"),
    ]:
        label = f"{module.__name__}.{name}"
        monkeypatch.setattr(module, name, lambda *a, label=label, **k: touched.append(label))
    forked, fork_rng = [], torch.random.fork_rng

    @contextlib.contextmanager
    def recording_fork_rng(devices=None, **kwargs):
        forked.append(devices)
        with fork_rng(devices=devices, **kwargs):
            yield

    monkeypatch.setattr(torch.random, "fork_rng", recording_fork_rng)
    g = torch.Generator().manual_seed(0)
    X = {"a": torch.randn(40, 3, generator=g).numpy(), "b": torch.randn(40, 2, generator=g).numpy()}
    y = (X["a"][:, 0] > 0).astype(int)
    before = torch.get_rng_state()
    clf = I2MoEClassifier(max_epochs=1, hidden_dim=8, n_members=1, device="cpu", n_threads=1)
    clf.fit(X, y)
    assert forked and all(devices == [] for devices in forked)
    assert touched == []
    assert torch.equal(torch.get_rng_state(), before)


def test_the_library_never_edits_the_warning_filters():
    # warnings.catch_warnings and simplefilter edit one list the whole process shares (not
    # thread-safe: overlapping calls leave filters behind, and other threads' warnings are
    # hidden meanwhile); a library must not touch it
    import pathlib
    import re

    import sk_i2moe

    edits = re.compile(r"catch_warnings|simplefilter|filterwarnings|resetwarnings")
    root = pathlib.Path(sk_i2moe.__file__).parent
    offending = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if edits.search(line.split("#")[0])
    ]
    assert offending == []


@pytest.mark.parametrize("n_samples", [60, 240])  # cross-fitted temperature; refit
def test_seeded_fits_in_threads_match_serial_fits_and_leave_the_callers_state(n_samples):
    # torch's generator is process-wide: fits started together in threads must still each
    # draw only their own seeded stream, and restore the caller's state at the end
    import threading

    import numpy as np

    g = torch.Generator().manual_seed(1)
    X = {
        "a": torch.randn(n_samples, 4, generator=g).numpy(),
        "b": torch.randn(n_samples, 3, generator=g).numpy(),
    }
    y = (X["a"][:, 0] + X["b"][:, 0] > 0).astype(int)
    params = dict(max_epochs=3, hidden_dim=8, n_members=2, random_state=0, n_threads=1)
    serial = I2MoEClassifier(**params).fit(X, y).predict_proba(X)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    start = threading.Barrier(3)
    results = [None] * 3

    def fit(i):
        start.wait()
        results[i] = I2MoEClassifier(**params).fit(X, y).predict_proba(X)

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        np.testing.assert_array_equal(result, serial)
    assert torch.equal(torch.get_rng_state(), before)
