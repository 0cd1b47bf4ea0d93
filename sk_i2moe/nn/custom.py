"""Any user fusion module as ``E`` independent experts, batched with ``torch.func``.

The factory is called ``E`` times (independent initialisations); the instances'
parameters and buffers are stacked along a leading expert axis
(:func:`torch.func.stack_module_state`) and the experts run as one batched
computation: :func:`torch.func.functional_call` under :func:`torch.vmap` over
the expert axis, with the tokens shared (``in_dims=None``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from ._torch_state import forked_rng
from .experts import FusionOutput

_SEP = ":"  # stands for "." in stored names: parameter names may not contain dots

_HOW_TO_FIX = (
    "The module runs on its own, so the problem is batching it over the experts with "
    "torch.vmap. Common causes: Python control flow on tensor values (`if x.sum() > 0:`; "
    "use torch.where), `.item()`, `.tolist()`, `float(t)` or `bool(t)` on tensors, "
    "in-place writes of computed values into tensors created inside forward "
    "(`out = torch.zeros(...); out[:, 0] += y`; build the result out of place), and "
    "operations without a vmap rule. Write forward with pure tensor operations, or "
    "register the backbone in sk_i2moe.nn.fusion.FUSIONS as an expert-batched module."
)


def _escape(name: str) -> str:
    return name.replace(".", _SEP)


def _unescape(name: str) -> str:
    return name.replace(_SEP, ".")


def _one_by_one(
    one_expert: Callable, params: dict, buffers: dict, tokens: torch.Tensor, n_experts: int
) -> object:
    """``one_expert`` run for each expert in turn, outputs stacked as ``torch.vmap`` stacks them.

    For export (:attr:`VmappedFusion.one_by_one`): traced through
    ``torch.vmap``, a module applying a linear layer to the ``[B, T, H]``
    tokens had its batch fixed at the example's size by the exporter; run
    expert by expert it keeps any number of rows.
    """
    outputs = [
        one_expert(
            {k: v[e] for k, v in params.items()}, {k: v[e] for k, v in buffers.items()}, tokens
        )
        for e in range(n_experts)
    ]
    if isinstance(outputs[0], (tuple, list)):
        return tuple(torch.stack(parts) for parts in zip(*outputs))
    return torch.stack(outputs)


def _described(out: object) -> str:
    """A module's output in a few words: its type, and the types inside a tuple or list."""
    if isinstance(out, (tuple, list)):
        return f"a {type(out).__name__} of ({', '.join(type(p).__name__ for p in out)})"
    return type(out).__name__


class VmappedFusion(nn.Module):
    """``E`` independently initialised copies of a user fusion module, run as one batch.

    Parameters
    ----------
    factory : callable
        ``factory(n_modalities=..., n_tokens=..., hidden_dim=..., n_outputs=...,
        **kwargs)`` returns a :class:`torch.nn.Module` mapping tokens ``[B, T, H]``
        (``T = n_modalities * n_tokens``, modality-major) to logits ``[B, C]``,
        or to a tuple ``(logits [B, C], latent [B, D])``.
    n_experts : int
        Number of experts ``E``; the factory is called this many times.
    n_modalities, n_tokens, hidden_dim, n_outputs : int
        Passed to the factory.
    **kwargs
        Extra keyword arguments of the factory.

    Attributes
    ----------
    stacked_params : torch.nn.ParameterDict
        The experts' parameters, each with a leading expert axis (``":"``
        stands for ``"."`` in the names). These are the trained parameters.
    stacked_buffers : torch.nn.Module
        Holder of the stacked buffers (e.g. batch-norm statistics).
    one_by_one : bool
        Run the experts one at a time instead of through :func:`torch.vmap`:
        slower, with the same outputs in evaluation mode (in training,
        dropout draws other masks). False by default; ``to_onnx`` sets it on
        the copy it exports, because torch's exporter fixed the number of rows
        of a module traced through ``torch.vmap`` (one applying a linear layer
        to its tokens, say).

    Raises
    ------
    TypeError
        When the factory does not return a module, returns modules of
        different classes (a class defined inside the factory) or one without
        parameters; when the module returns anything but a tensor or a pair
        of tensors; or when it cannot be batched over the experts with
        :func:`torch.vmap` (data-dependent control flow, ``.item()`` calls,
        in-place writes into fresh tensors...). The module is tried once at
        construction on zero tokens.
    ValueError
        When its output does not have the shape ``[B, n_outputs]``.

    Notes
    -----
    Random operations run with ``randomness="different"``: each expert draws its
    own dropout masks, and the masks are *not* shared by the input variants of a
    sample (the built-in backbones share them). Batch normalisation inside the
    module normalises over all stacked rows, clean and perturbed variants
    together; the structured mixture (the estimators' default) refuses it
    (see :class:`~sk_i2moe.nn.StructuredInteractionMoE`), so use it with the
    paper's mixture only, or use layer normalisation. Tensors the module
    keeps as plain attributes (neither parameters nor buffers) are not
    supported. ``to_onnx`` sets :attr:`one_by_one` on the copy it exports.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sk_i2moe.nn import VmappedFusion
    >>> def factory(n_modalities, n_tokens, hidden_dim, n_outputs):
    ...     width = n_modalities * n_tokens * hidden_dim
    ...     return nn.Sequential(nn.Flatten(), nn.Linear(width, n_outputs))
    >>> fusion = VmappedFusion(factory, n_experts=5, n_modalities=2, n_tokens=3, hidden_dim=8,
    ...                        n_outputs=2)
    >>> fusion(torch.randn(4, 6, 8)).logits.shape  # 5 experts, one batched call
    torch.Size([5, 4, 2])
    >>> type(fusion.expert_module(0)).__name__
    'Sequential'
    """

    #: run the experts one at a time (see the class's Attributes); a class-level default,
    #: so that models pickled before it existed read it too
    one_by_one: bool = False

    def __init__(
        self,
        factory: Callable[..., nn.Module],
        n_experts: int,
        n_modalities: int,
        n_tokens: int,
        hidden_dim: int,
        n_outputs: int,
        **kwargs,
    ) -> None:
        super().__init__()
        instances = [
            factory(
                n_modalities=n_modalities,
                n_tokens=n_tokens,
                hidden_dim=hidden_dim,
                n_outputs=n_outputs,
                **kwargs,
            )
            for _ in range(n_experts)
        ]
        if not isinstance(instances[0], nn.Module):
            raise TypeError(
                f"The fusion factory {factory!r} returned {type(instances[0]).__name__}; "
                "expected a torch.nn.Module mapping tokens [B, T, H] to logits [B, C]."
            )
        if len({type(instance) for instance in instances}) > 1:
            raise TypeError(
                f"The fusion factory {factory!r} returned modules of different classes (a "
                "class defined inside the factory is a new class at every call); the experts "
                "are batched as one class: define the module's class once, at the top level "
                "of a module, and return instances of it."
            )
        if not any(True for _ in instances[0].parameters()):
            raise TypeError(
                f"The fusion factory {factory!r} returned a {type(instances[0]).__name__} "
                "without parameters: an expert needs some to train."
            )
        self.n_experts = n_experts
        self.n_outputs = n_outputs
        params, buffers = stack_module_state(instances)
        self.stacked_params = nn.ParameterDict(
            {_escape(k): nn.Parameter(v, requires_grad=v.requires_grad) for k, v in params.items()}
        )
        self.stacked_buffers = nn.Module()
        for name, value in buffers.items():
            self.stacked_buffers.register_buffer(_escape(name), value)
        # a weightless copy gives the computation; a list keeps it out of the
        # registered submodules (no duplicate parameters, not in the state dict)
        self._skeleton = [copy.deepcopy(instances[0]).to("meta")]
        self._dry_run(torch.zeros(2, n_modalities * n_tokens, hidden_dim))

    @property
    def skeleton(self) -> nn.Module:
        """The user module's structure on the meta device (holds no values)."""
        return self._skeleton[0]

    def _state(self, clone_buffers: bool = False) -> tuple[dict, dict]:
        params = {_unescape(k): v for k, v in self.stacked_params.items()}
        buffers = {
            _unescape(k): v.clone() if clone_buffers else v
            for k, v in self.stacked_buffers.named_buffers()
        }
        return params, buffers

    def _dry_run(self, tokens: torch.Tensor) -> None:
        """Run once on zeros without touching the RNG state or the buffers."""
        params, buffers = self._state(clone_buffers=True)
        with forked_rng(), torch.no_grad():
            self._run(params, buffers, tokens)

    def _run(self, params: dict, buffers: dict, tokens: torch.Tensor) -> FusionOutput:
        skeleton = self.skeleton
        skeleton.train(self.training)

        def one_expert(p: dict, b: dict, x: torch.Tensor):
            return functional_call(skeleton, (p, b), (x,))

        try:
            if self.one_by_one:
                out = _one_by_one(one_expert, params, buffers, tokens, self.n_experts)
            else:
                out = torch.vmap(one_expert, in_dims=(0, 0, None), randomness="different")(
                    params, buffers, tokens
                )
        except Exception as err:
            self._diagnose(err, params, buffers, tokens)
            raise  # unreachable: _diagnose always raises
        logits, latent = self._parts(out)
        expected = (self.n_experts, tokens.shape[0], self.n_outputs)
        if tuple(logits.shape) != expected:
            raise ValueError(
                f"The custom fusion module {type(skeleton).__name__} returned logits of shape "
                f"{tuple(logits.shape[1:])} for tokens of shape {tuple(tokens.shape)}; expected "
                f"({tokens.shape[0]}, {self.n_outputs}): one row of n_outputs per sample."
            )
        return FusionOutput(logits, latent.reshape(*latent.shape[:2], -1))

    def _parts(self, out: object) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits, latent)`` of the module's output, refusing other forms by name."""
        parts = out if isinstance(out, (tuple, list)) else (out,)
        if len(parts) not in (1, 2) or not all(isinstance(p, torch.Tensor) for p in parts):
            raise TypeError(
                f"The custom fusion module {type(self.skeleton).__name__} returned "
                f"{_described(out)}; return the logits [B, C] as a tensor, or a pair of "
                "tensors (logits [B, C], latent [B, D])."
            ) from None
        return (parts[0], parts[-1])

    def _diagnose(self, err: Exception, params: dict, buffers: dict, tokens: torch.Tensor) -> None:
        """Raise ``err`` if expert 0 alone fails too, else a TypeError about batching."""
        first_params = {k: v[0] for k, v in params.items()}
        first_buffers = {k: v[0].clone() for k, v in buffers.items()}
        try:
            with forked_rng():
                out = functional_call(self.skeleton, (first_params, first_buffers), (tokens,))
        except Exception:
            raise err from None
        self._parts(out)  # names an output of the wrong form
        raise TypeError(
            f"The custom fusion module {type(self.skeleton).__name__} cannot be batched over "
            f"the {self.n_experts} experts: {type(err).__name__}: {err}\n{_HOW_TO_FIX}"
        ) from err

    def forward(self, tokens: torch.Tensor, n_variants: int = 1) -> FusionOutput:
        """Run every expert on the shared tokens ``[N, T, H]``.

        Parameters
        ----------
        tokens : Tensor
            ``[N, T, H]`` rows seen by every expert.
        n_variants : int, default=1
            Unused (dropout masks of user modules are not shared by variants).

        Returns
        -------
        FusionOutput
            Logits ``[E, N, C]``, latent ``[E, N, D]`` (the logits unless the
            module returns a ``(logits, latent)`` pair) and no auxiliary loss.
        """
        params, buffers = self._state()
        return self._run(params, buffers, tokens)

    def expert_module(self, e: int) -> nn.Module:
        """A standalone copy of expert ``e`` (its own tensors, detached from this module).

        Parameters
        ----------
        e : int
            Expert index.

        Returns
        -------
        torch.nn.Module
            An instance of the user's module holding expert ``e``'s values.
        """
        params, buffers = self._state()
        device = next(iter(params.values())).device if params else torch.device("cpu")
        module = copy.deepcopy(self.skeleton).to_empty(device=device)
        if params:  # the skeleton keeps its first dtype; a .double() model's values are float64
            module = module.to(dtype=next(iter(params.values())).dtype)
        with torch.no_grad():
            for name, value in params.items():
                module.get_parameter(name).copy_(value[e])
            for name, value in buffers.items():
                module.get_buffer(name).copy_(value[e])
        return module.train(self.training)
