"""Logic shared by the I2MoE estimators: parameters, the skorch fit, batched prediction."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, PassthroughScoring, ProgressBar
from skorch.helper import predefined_split

from ._data import BatchLoader, ModalityDataset
from ._modalities import ModalitySpec, check_sample_weight
from ._net import I2MoENet
from .inspection import Explanation
from .nn.encoders import ENCODERS
from .nn.fusion import FUSIONS
from .nn.moe import PERTURBATIONS, InteractionMoE

_BACKBONE_OPTIONS = ("n_layers", "n_heads", "dropout")


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn the ``device`` parameter into a :class:`torch.device`.

    ``"auto"`` picks CUDA when :func:`torch.cuda.is_available`, else the CPU.

    Raises
    ------
    ValueError
        For an unknown device string, or CUDA asked for but not available.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda'."
        ) from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available on this machine; use "
            "device='auto' or 'cpu', or install a CUDA build of PyTorch."
        )
    return resolved


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n_threads)``, then restore it."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class I2MoEBase(BaseEstimator):
    """Shared implementation of :class:`~sk_i2moe.I2MoEClassifier` and its siblings.

    Subclasses define ``__init__`` (the public parameters), ``_prepare_target``,
    ``_loss_weights``, ``_criterion`` and ``_stratify``.
    """

    _parameter_constraints: dict = {
        "modalities": [dict, None],
        "fusion": [StrOptions(set(FUSIONS))],
        "encoder": [StrOptions(set(ENCODERS))],
        "hidden_dim": [Interval(Integral, 1, None, closed="left")],
        "n_tokens": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "interaction_loss_weight": [Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "perturbation": [StrOptions(set(PERTURBATIONS))],
        "reweight_hidden": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "standardize": ["boolean"],
        "device": [str, torch.device],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # -- hooks for subclasses ------------------------------------------------
    def _prepare_target(self, y: object, fit: bool) -> np.ndarray:
        raise NotImplementedError

    def _loss_weights(self, y: object, sample_weight: np.ndarray) -> np.ndarray:
        return sample_weight

    def _criterion(self) -> type[torch.nn.Module]:
        raise NotImplementedError

    def _stratify(self, y_encoded: np.ndarray) -> np.ndarray | None:
        return None

    # -- fitting -------------------------------------------------------------
    def _fit(self, X: object, y: object, sample_weight: object = None) -> I2MoEBase:
        self._validate_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        reuse = self.warm_start and hasattr(self, "net_")
        if reuse:
            self._check_warm_start_compatible()
            data = self._input_spec.transform(X)
        else:
            self._input_spec, data = ModalitySpec.from_input(
                X, self.modalities, type(self).__name__
            )
        arrays = list(data.values())
        n_samples = arrays[0].shape[0]
        n_targets = len(y) if hasattr(y, "__len__") else np.asarray(y).size
        if n_targets != n_samples:
            raise ValueError(f"y has {n_targets} samples but X has {n_samples}; they must match.")
        y_encoded = self._prepare_target(y, fit=not reuse)
        weights = self._loss_weights(y, check_sample_weight(sample_weight, n_samples))
        device = resolve_device(self.device)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        train, valid = self._split(ModalityDataset(arrays, y_encoded, weights), y_encoded, seed)
        forked = [device.index or 0] if device.type == "cuda" else []
        with torch_threads(self.n_threads), torch.random.fork_rng(devices=forked):
            torch.manual_seed(seed)
            if reuse:
                self.net_.train_split = predefined_split(valid) if valid is not None else None
                self.net_.max_epochs = self.max_epochs
                self.net_.set_params(lr=self.lr)
                self.net_.partial_fit(train)
            else:
                self.net_ = self._build_net(train, valid, device)
                self.net_.fit(train)
                self._architecture = self._architecture_params()
        self.history_ = self.net_.history
        self.n_iter_ = len(self.history_)
        self.modalities_ = dict(zip(self._input_spec.names, self._input_spec.n_features))
        self.n_features_in_ = self._input_spec.n_columns
        if self._input_spec.feature_names is not None:
            self.feature_names_in_ = self._input_spec.feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.expert_names_ = [f"uniqueness[{m}]" for m in self.modalities_] + [
            "synergy",
            "redundancy",
        ]
        self.interaction_weights_ = self._forward_arrays(arrays)["weights"].mean(axis=0)
        return self

    def _split(
        self, dataset: ModalityDataset, y_encoded: np.ndarray, seed: int
    ) -> tuple[ModalityDataset, ModalityDataset | None]:
        """Hold out ``validation_fraction`` for early stopping; nothing otherwise."""
        if not self.early_stopping:
            return dataset, None
        try:
            idx_train, idx_valid = train_test_split(
                np.arange(len(dataset)),
                test_size=self.validation_fraction,
                random_state=seed,
                stratify=self._stratify(y_encoded),
            )
        except ValueError as err:
            raise ValueError(
                f"Cannot hold out validation_fraction={self.validation_fraction} of "
                f"{len(dataset)} samples for early stopping ({err}). Use more data, a larger "
                "validation_fraction, or early_stopping=False."
            ) from err
        return dataset.subset(idx_train), dataset.subset(idx_valid)

    _ARCHITECTURE = (
        "fusion",
        "encoder",
        "hidden_dim",
        "n_tokens",
        "n_layers",
        "n_heads",
        "reweight_hidden",
        "perturbation",
        "standardize",
    )

    def _architecture_params(self) -> dict:
        return {k: getattr(self, k) for k in self._ARCHITECTURE}

    def _check_warm_start_compatible(self) -> None:
        changed = {
            k: (v, getattr(self, k)) for k, v in self._architecture.items() if getattr(self, k) != v
        }
        if changed:
            raise ValueError(
                f"warm_start=True cannot continue training after architecture parameters "
                f"changed ({', '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in changed.items())}). "
                "Set warm_start=False to fit a new network."
            )

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _build_net(
        self, train: ModalityDataset, valid: ModalityDataset | None, device: torch.device
    ) -> I2MoENet:
        if self.standardize:
            loc = [t.mean(0) for t in train.inputs]
            scale = [t.std(0, correction=0).clamp_min(1e-6) for t in train.inputs]
        else:
            loc = scale = None
        fusion_cls = FUSIONS[self.fusion]
        accepted = inspect.signature(fusion_cls).parameters
        fusion_kwargs = {k: getattr(self, k) for k in _BACKBONE_OPTIONS if k in accepted}
        callbacks: list = [
            ("task_loss", PassthroughScoring("task_loss", on_train=True)),
        ]
        if self.interaction_loss_weight > 0:
            callbacks.append(
                ("interaction_loss", PassthroughScoring("interaction_loss", on_train=True))
            )
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=self.tol,
                        threshold_mode="abs",
                        load_best=True,
                        sink=lambda *_: None,
                    ),
                )
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks += list(self.callbacks or [])
        return I2MoENet(
            module=InteractionMoE,
            module__n_features=[t.shape[1] for t in train.inputs],
            module__n_outputs=self._n_outputs(),
            module__hidden_dim=self.hidden_dim,
            module__n_tokens=self.n_tokens,
            module__encoder=self.encoder,
            module__fusion=self.fusion,
            module__fusion_kwargs=fusion_kwargs,
            module__reweight_hidden=self.reweight_hidden,
            module__temperature=self.temperature,
            module__perturbation=self.perturbation,
            module__interaction=self.interaction_loss_weight > 0,
            module__input_loc=loc,
            module__input_scale=scale,
            criterion=self._criterion(),
            criterion__reduction="none",
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchLoader,
            iterator_train__shuffle=True,
            iterator_valid=BatchLoader,
            dataset=ModalityDataset,
            train_split=predefined_split(valid) if valid is not None else None,
            callbacks=callbacks,
            device=str(device),
            verbose=self.verbose,
            interaction_loss_weight=self.interaction_loss_weight,
        )

    # -- prediction ----------------------------------------------------------
    def _forward_arrays(self, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Evaluate the fitted mixture batch by batch (memory bounded by ``batch_size``)."""
        module = self.net_.module_
        device = torch.device(self.net_.device)
        n = arrays[0].shape[0]
        n_experts = len(self.expert_names_)
        out = {
            "logits": None,
            "weights": np.empty((n, n_experts), dtype=np.float32),
            "expert_logits": None,
        }
        was_training = module.training
        module.eval()
        start = 0
        try:
            with torch_threads(self.n_threads), torch.inference_mode():
                for xb, _ in BatchLoader(ModalityDataset(arrays), self.batch_size):
                    res = module([t.to(device) for t in xb["inputs"]])
                    stop = start + res.logits.shape[0]
                    if out["logits"] is None:
                        n_out = res.logits.shape[1]
                        out["logits"] = np.empty((n, n_out), dtype=np.float32)
                        out["expert_logits"] = np.empty((n, n_experts, n_out), dtype=np.float32)
                    out["logits"][start:stop] = res.logits.float().cpu().numpy()
                    out["weights"][start:stop] = res.weights.float().cpu().numpy()
                    out["expert_logits"][start:stop] = res.expert_logits.float().cpu().numpy()
                    start = stop
        finally:
            module.train(was_training)
        return out

    def _forward(self, X: object) -> dict[str, np.ndarray]:
        check_is_fitted(self, "net_")
        return self._forward_arrays(list(self._input_spec.transform(X).values()))

    def explain(self, X: object) -> Explanation:
        """Local explanation of the predictions on ``X``.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.

        Returns
        -------
        Explanation
            Per-sample interaction weights ``(n, E)``, each expert's output
            ``(n, E, C)`` (logits for classifiers), their contributions
            ``weight * output`` and the mixture output.
        """
        res = self._forward(X)
        return Explanation(
            weights=res["weights"],
            expert_outputs=res["expert_logits"],
            output=res["logits"],
            expert_names=list(self.expert_names_),
            output_names=self._output_names(),
        )

    def _output_names(self) -> list[str]:
        raise NotImplementedError
