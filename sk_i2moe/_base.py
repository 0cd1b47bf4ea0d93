"""Logic shared by the I2MoE estimators: parameters, the skorch fit, batched prediction."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import sys
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Mapping
from functools import partial
from numbers import Integral, Real

import joblib
import numpy as np
import pandas as pd
import torch
from scipy import sparse
from sklearn.base import BaseEstimator, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, ProgressBar
from skorch.helper import predefined_split
from skorch.history import History
from skorch.utils import noop

from . import _io
from ._data import BatchLoader, ModalityDataset, resolve_batch_size, standardization
from ._device import check_default_dtype, fused_adamw, resolve_device
from ._fit_rules import (
    ABSENCE_SHARE_Z,
    AUTO_MIN_VALIDATION,
    absence_constants,
    best_constant,
    every_modality_trained,
    floor_loses_skill,
    refit_epochs,
    resolve_n_members,
    warn_few_rows,
    weighted_z,
)
from ._groups import group_holdout, group_numbers, holdout_obstacle, shared_groups
from ._malloc import retain_heap_if_asked
from ._modalities import (
    ModalitySpec,
    absent_modalities,
    absent_rows,
    check_sample_weight,
    check_target_names,
    fitting_a_part,
    float32_ratios,
    refuse_reordered_rows,
    refuse_signalling_target,
    row_labels,
)
from ._net import HeldOutLogits, I2MoENet, mixture_output
from ._scoring import check_targets, default_scoring
from ._warn import warn
from .inspection import Explanation, expert_scores
from .nn._defaults import DEFAULTS
from .nn._torch_state import fit_cuda_devices, forked_rng, seed_generators, torch_threads
from .nn.calibration import (
    CALIBRATION_BUFFERS,
    absence_shrinkage,
    calibratable,
    fit_shrinkage,
    output_temperature,
    set_absence_shrinkage,
    set_temperature,
)
from .nn.encoders import ENCODERS
from .nn.ensemble import EnsembleObjective, MixtureEnsemble, mixtures_of
from .nn.fusion import FUSIONS
from .nn.models import (
    EXPERT_SETS,
    LOSS_TARGETS,
    NOISE_SCALES,
    PERTURBATIONS,
    REDUNDANCY_RULES,
    REWEIGHTINGS,
    InteractionMoE,
    MixtureOfInteractionExperts,
    StructuredInteractionMoE,
    shrink_weights,
)
from .nn.objective import StructuredObjective
from .nn.refine import fit_reweighting, refinable
from .nn.shrinkage import SHRINKAGE_BUFFERS, anchor_weights, release_weights

#: ``interaction_constraint`` -> the kind of mixture it builds
MODEL_KINDS: dict[str, type[MixtureOfInteractionExperts]] = {
    "loss": InteractionMoE,
    "structure": StructuredInteractionMoE,
}


class _Number(Interval):
    """A numeric interval that, unlike scikit-learn's, refuses ``True`` and ``False``.

    ``bool`` is an ``Integral`` (and so a ``Real``) in Python, so
    ``hidden_dim=True`` would pass as 1 and ``lr=True`` as 1.0 (and
    ``n_threads=True`` fail later, inside torch, naming no parameter).
    """

    def is_satisfied_by(self, val: object) -> bool:
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


#: estimator parameters handed to a backbone whose constructor accepts them
_BACKBONE_OPTIONS = ("n_layers", "n_heads", "dropout", "rank")
#: what the mixture itself passes to every backbone (from the data and the estimator)
_BACKBONE_SHAPE = ("n_experts", "n_modalities", "n_tokens", "hidden_dim", "n_outputs")


def _catch_all(parameters: Mapping[str, inspect.Parameter]) -> bool:
    """Whether a signature's ``parameters`` take any keyword (``**kwargs``)."""
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _unit_rows(weights: np.ndarray) -> np.ndarray:
    """``weights`` in float64, each row (last axis) divided by its sum."""
    weights = np.asarray(weights, dtype=np.float64)
    return weights / weights.sum(axis=-1, keepdims=True)


def _validation_options(valid: ModalityDataset | None) -> dict:
    """The net's options for scoring ``valid`` each epoch (None: no validation)."""
    if valid is None:
        return {"train_split": None, "valid_weight": None}
    return {
        "train_split": predefined_split(valid),
        "valid_weight": float(valid.sample_weight.double().mean()),
    }


def _same_value(before: object, now: object) -> bool:
    """Whether a parameter value is unchanged (arrays and containers of arrays included)."""
    if before is now:
        return True
    try:
        return bool(before == now)
    except (TypeError, ValueError):  # e.g. a dict of boolean masks compares element-wise
        return joblib.hash(before) == joblib.hash(now)


#: module options a saved network does not depend on: the input statistics (the fit's, saved as
#: buffers) and what only the training's perturbed passes use
_NOT_NETWORK_OPTIONS = frozenset(
    {"input_loc", "input_scale", "perturbed_passes", "noise_scale", "n_perturbed", "loss_on"}
)


def _snapshot(value: object) -> object:
    """``value`` with its containers and arrays copied, other objects as they are.

    What the caller can edit in place (a dict, a list, an array) is copied;
    code and objects (a backbone factory, a module in ``fusion_kwargs``, a
    callback) are kept, compared by identity like any object without ``==``.
    """
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    if isinstance(value, tuple):  # a named tuple's copy is a plain one: equal, item by item
        return tuple(_snapshot(v) for v in value)
    if isinstance(value, (np.ndarray, pd.Index, pd.Series)):
        return value.copy()
    return value


def _accepted_by(target: Callable, prefix: str, options: dict) -> dict:
    """``options`` that ``target``'s constructor accepts, as skorch ``prefix__name`` arguments."""
    accepted = inspect.signature(target).parameters
    return {f"{prefix}__{k}": v for k, v in options.items() if k in accepted}


class I2MoEBase(BaseEstimator, metaclass=ABCMeta):
    """Shared implementation of :class:`~sk_i2moe.I2MoEClassifier` and its siblings.

    Subclasses define ``__init__`` (the public parameters, with defaults from
    :data:`~sk_i2moe.nn.DEFAULTS`) and the abstract hooks below; they may
    override ``_loss_weights``, ``_stratify``, ``_to_output_space`` and
    ``_net_options``.
    """

    #: distance between outputs used by the interaction terms of the paper's objective
    _interaction_distance = "cosine"

    _parameter_constraints: dict = {
        "modalities": [dict, None],
        "fusion": [StrOptions(FUSIONS.keys()), callable],  # a live view: names registered later
        "encoder": [StrOptions(set(ENCODERS))],
        "hidden_dim": [_Number(Integral, 1, None, closed="left")],
        "n_tokens": [_Number(Integral, 1, None, closed="left")],
        "n_layers": [_Number(Integral, 1, None, closed="left")],
        "n_heads": [_Number(Integral, 1, None, closed="left")],
        "dropout": [_Number(Real, 0, 1, closed="left")],
        "rank": [_Number(Integral, 1, None, closed="left")],
        "fusion_kwargs": [dict, None],
        "experts": [StrOptions(set(EXPERT_SETS))],
        "redundancy": [StrOptions(set(REDUNDANCY_RULES))],
        "reweighting": [StrOptions(set(REWEIGHTINGS))],
        "interaction_loss_weight": [_Number(Real, 0, None, closed="left")],
        "gate_loss_weight": [_Number(Real, 0, None, closed="left")],
        "expert_loss_weight": [_Number(Real, 0, None, closed="left")],
        "missing_modality_loss_weight": [_Number(Real, 0, None, closed="left")],
        "temperature": [_Number(Real, 0, None, closed="neither")],
        "perturbation": [StrOptions(set(PERTURBATIONS))],
        "noise_scale": [StrOptions(set(NOISE_SCALES))],
        "n_perturbed": [_Number(Integral, 1, None, closed="left"), None],
        "loss_on": [StrOptions(set(LOSS_TARGETS))],
        "interaction_constraint": [StrOptions(set(MODEL_KINDS))],
        "n_members": [_Number(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "reweight_hidden": [_Number(Integral, 1, None, closed="left")],
        "reweight_steps": [_Number(Integral, 0, None, closed="left")],
        "weight_shrinkage": [_Number(Real, 0, 1, closed="both")],
        "max_epochs": [_Number(Integral, 1, None, closed="left")],
        "batch_size": [_Number(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [_Number(Real, 0, None, closed="neither")],
        "weight_decay": [_Number(Real, 0, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"refit", "auto"})],
        "validation_fraction": [_Number(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [_Number(Integral, 1, None, closed="left")],
        "tol": [_Number(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "standardize": ["boolean"],
        "allow_missing_modalities": ["boolean"],
        "modality_dropout": [_Number(Real, 0, 1, closed="left")],
        "absence_offset": ["boolean"],
        "device": [str, torch.device],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "compile": ["boolean"],
        "n_threads": [_Number(Integral, 1, None, closed="left"), None],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # X may be a mapping of modalities. allow_nan stays False: a NaN marks an absent
        # modality only where the whole modality is NaN in a row; a partly NaN row is refused
        tags.input_tags.dict = True
        return tags

    # -- hooks for subclasses ------------------------------------------------
    @abstractmethod
    def _prepare_target(self, y: object, fit: bool, sample_weight: np.ndarray) -> np.ndarray:
        """Validate ``y`` (and learn its encoding when ``fit``); return the training target.

        ``sample_weight``: the checked weights of ``y``'s rows (all positive),
        for an encoding learnt from weighted statistics.
        """

    def _check_score_target(self, X: object, y: object, sample_weight: object) -> None:
        """What ``score`` checks of ``y`` and ``sample_weight`` before scikit-learn's scoring."""
        refuse_signalling_target(y)
        refuse_reordered_rows(row_labels(X), y, sample_weight)
        check_target_names(getattr(self, "target_names_", None), y, scoring=True)
        check_targets(self, y, unseen_labels=True)

    def _refuse_missing_targets(self, y: object, counted: np.ndarray) -> None:
        """Refuse missing values in the ``counted`` rows of ``y``, naming the caller's rows."""

    @abstractmethod
    def _criterion(self) -> type[torch.nn.Module]:
        """The task loss class (built with ``reduction="none"``)."""

    def _softmax_outputs(self) -> bool:
        """Whether the outputs are softmax logits, whose shared shift means nothing."""
        return self._criterion() is torch.nn.CrossEntropyLoss

    @abstractmethod
    def _n_outputs(self) -> int:
        """Number of network outputs ``C``."""

    @abstractmethod
    def _output_names(self) -> list[str]:
        """A name per network output (class labels or target names)."""

    def _loss_weights(self, y_encoded: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        """Each training row's float32 loss weight, from the checked ``sample_weight``."""
        return float32_ratios(sample_weight)

    def _stratify(self, y_encoded: np.ndarray) -> np.ndarray | None:
        return None

    @abstractmethod
    def _predict_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """The decision rule: ``predict``'s result from outputs in ``explain``'s space."""

    def _to_output_space(self, values: np.ndarray) -> np.ndarray:
        """Map network outputs ``(..., C)`` to the space ``explain`` reports (identity)."""
        return values

    # -- fitting -------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once a network is: what every method that needs the fit checks."""
        return hasattr(self, "net_")

    def _fit(
        self, X: object, y: object, sample_weight: object = None, groups: object = None
    ) -> I2MoEBase:
        """Fit (or, with ``warm_start``, continue fitting); ``fit`` validates the parameters.

        A fresh fit that fails leaves the estimator unfitted: the previous
        network would otherwise predict with the new ``classes_`` or layout.
        """
        fresh = not (self.warm_start and hasattr(self, "net_"))
        try:
            return self._fit_data(X, y, sample_weight, groups)
        except BaseException:  # a KeyboardInterrupt outside skorch's epoch loop too
            if fresh:
                self.__dict__.pop("net_", None)
            raise

    def _check_combinations(self) -> None:
        """Refuse parameter values that are valid alone but not together (``fit`` and ``save``)."""
        if self._model_kind() is StructuredInteractionMoE:
            StructuredObjective.check_weights(self.interaction_loss_weight, self.expert_loss_weight)
        if self.modality_dropout > 0 and self._replaces_modalities():
            raise ValueError(
                f"modality_dropout={self.modality_dropout} trains with absent modalities, but "
                "the paper's mixture (interaction_constraint='loss') trains its interaction "
                "losses by replacing each modality in turn, which is undefined for an absent "
                "one. Use interaction_constraint='structure' (the default), set "
                "interaction_loss_weight=0, or modality_dropout=0."
            )

    def _fit_data(self, X: object, y: object, sample_weight: object, groups: object) -> I2MoEBase:
        """:meth:`_fit`'s work."""
        check_default_dtype()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        self._check_combinations()
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
        n_targets = (
            y.shape[0]
            if sparse.issparse(y)
            else len(y)
            if hasattr(y, "__len__")
            else np.asarray(y).size
        )
        if n_targets != n_samples:
            raise ValueError(f"y has {n_targets} samples but X has {n_samples}; they must match.")
        refuse_reordered_rows(row_labels(X), y, sample_weight)
        clusters = group_numbers(groups, n_samples, row_labels(X), "training")
        if reuse:  # the outputs keep the first fit's names (before rows are left out)
            check_target_names(getattr(self, "target_names_", None), y)
        given_weights = check_sample_weight(sample_weight, n_samples)
        # a row of weight 0 is not given: once X is checked, the fit is the fit without it
        counted = given_weights > 0
        self._refuse_missing_targets(y, counted)  # before rows are left out: the caller's rows
        weighted_out = not counted.all()
        if weighted_out:
            kept = np.flatnonzero(counted)
            arrays, y = [a[kept] for a in arrays], _safe_indexing(y, kept)
            given_weights, n_samples = given_weights[kept], len(kept)
            clusters = None if clusters is None else clusters[kept]
        clusters = shared_groups(clusters)
        self._check_absent(arrays, fitting=True, weighted_out=weighted_out)
        try:
            y_encoded = self._prepare_target(y, fit=not reuse, sample_weight=given_weights)
        except ValueError as err:
            if not weighted_out:
                raise
            raise ValueError(f"{err} (Only the rows with a positive sample_weight count.)") from err
        weights = self._loss_weights(y_encoded, given_weights)
        device = resolve_device(self.device)
        if device.type == "cpu":
            retain_heap_if_asked()
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        dataset = ModalityDataset(arrays, y_encoded, weights)
        refits = self._stopping_mode() == "refit"
        searching = False
        absence_shares = None  # the absence shrinkage: only a fit that held rows out has one
        # a continued fit trains on all the data unless it keeps the best epoch itself
        train, valid = (
            (dataset, None) if reuse and refits else self._split(dataset, y_encoded, seed, clusters)
        )
        if not reuse:  # a network is built from the options: say which it is not given
            self._warn_unpassed_options()
        # too little data to hold out: a classifier's output temperature from cross-fitting
        # (before the fit itself, so that callbacks see the estimator's own fit last)
        temperature = (
            self._cross_fitted_temperature(
                arrays, y_encoded, given_weights, weights, seed, clusters
            )
            if valid is None and not reuse and self.early_stopping == "auto"
            else None
        )
        generators = fit_cuda_devices(device)
        with forked_rng(generators), torch_threads(self.n_threads):
            seed_generators(seed, generators)
            if reuse:
                release_weights(self._module())  # train and validate on the weights as they are
                if calibratable(self._module()):
                    # both fitted for the network before
                    set_temperature(self._module(), 1.0)
                    set_absence_shrinkage(
                        self._module(), torch.zeros(len(arrays)), torch.zeros(self._n_outputs())
                    )
                for name, value in _validation_options(valid).items():
                    setattr(self.net_, name, value)
                self.net_.max_epochs = self.max_epochs
                self.net_.set_params(lr=self.lr)
                self.net_.partial_fit(train)
                self.validation_loss_ = None  # these epochs were not chosen on held-out data
            else:
                self.n_members_ = resolve_n_members(self.n_members, n_samples)
                # a refit's first fit only chooses the number of epochs: one member does
                searching = refits and valid is not None
                self.net_ = self._train_new(
                    train, valid, device, n_members=1 if searching else None, record=searching
                )
                self.validation_loss_ = None
                if searching and self.net_.interrupted_:
                    self.n_members_ = 1  # what the kept network of the first fit holds
                elif searching:
                    # the epochs are chosen: fit afresh on all the data for that many
                    best = dict(self.net_.callbacks_)["early_stopping"].best_epoch_
                    # the held-out rows' predictions after as many epochs as the final fit's
                    # (or the last, where the search stopped before), by a network that did
                    # not train on them
                    recorded = dict(self.net_.callbacks_)["held_out_logits"].logits_
                    chosen = self._refit_epochs(best, train, valid, recorded)
                    temperature = self._held_out_temperature(
                        valid, recorded[min(chosen, max(recorded))]
                    )
                    absence_shares = self._absence_shares(train, valid, recorded[best])
                    self.validation_loss_ = np.asarray(self.net_.history[:, "valid_loss"], float)
                    seed_generators(seed, generators)
                    self.net_ = self._train_new(dataset, None, device, max_epochs=chosen)
                self._frozen = self._frozen_params()
            self.n_reweight_steps_ = self._fit_weights(dataset, device)
        mean_weights = self._anchor_weights(arrays)
        if temperature is not None and not self.net_.interrupted_:
            set_temperature(self._module(), temperature)
        if absence_shares is not None and not self.net_.interrupted_:
            constant, shift = absence_constants(
                self.net_.criterion_, dataset, self._n_outputs(), self.absence_offset
            )
            set_absence_shrinkage(self._module(), absence_shares, constant, shift)
        self.history_ = self.net_.history
        self.n_iter_ = len(self.history_)
        if self.net_.interrupted_:
            # as MLPClassifier: keep the network trained so far, and say so
            stopper = "early_stopping" in dict(self.net_.callbacks_)
            restored = " (early stopping restored its best epoch)" if stopper else ""
            if searching and resolve_n_members(self.n_members, n_samples) > 1:
                restored += ", one mixture of the first fit that chooses the number of epochs"
            warn(
                f"Training was interrupted by the user (KeyboardInterrupt) after "
                f"{self.n_iter_} epoch(s) of max_epochs={self.max_epochs}; the estimator holds "
                f"the network as it was then{restored}. Fit again to train fully.",
                UserWarning,
            )
        self.modalities_ = dict(zip(self._input_spec.names, self._input_spec.n_features))
        self.n_features_in_ = self._input_spec.n_columns
        if self._input_spec.feature_names_in is not None:
            self.feature_names_in_ = self._input_spec.feature_names_in
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.expert_names_ = self.net_.module_.expert_names(list(self.modalities_))
        self.interaction_weights_ = mean_weights
        return self

    def _cross_fitted_temperature(
        self,
        arrays: list[np.ndarray],
        y_encoded: np.ndarray,
        sample_weight: np.ndarray,
        weights: np.ndarray,
        seed: int,
        clusters: np.ndarray | None,
    ) -> float | None:
        """The output temperature of a fit without held-out data; None: no temperature.

        Classifiers fit one (see ``early_stopping``); other estimators do not.
        """
        return None

    def _held_out_temperature(self, valid: ModalityDataset, logits: torch.Tensor) -> float | None:
        """The output temperature that the first fit's held-out ``logits`` ask for.

        ``logits``: ``[n_valid, C]``, the held-out rows' outputs of the fit that
        chooses the number of epochs, after as many epochs as the final fit
        trains. Classifiers fit one (see ``early_stopping``); other estimators
        do not.
        """
        return None

    def _loss_temperature(self, valid: ModalityDataset, logits: torch.Tensor) -> float:
        """The temperature that gives held-out ``logits`` the least loss; 1 (none) here.

        Classifiers find one (their outputs are logits); a regressor's
        outputs are values, which a temperature does not make less confident.
        """
        return 1.0

    def _refit_epochs(
        self,
        best: int,
        train: ModalityDataset,
        valid: ModalityDataset,
        recorded: dict[int, torch.Tensor],
    ) -> int:
        """The epochs the refit trains: the floor (:func:`refit_epochs`) unless it costs the skill.

        ``recorded``: the search's outputs on ``valid`` by epoch (the best, the
        floor's or the last). The floor is waived for ``best`` where the best
        epoch's outputs beat the constant that fits ``train`` best, and the
        floor's (or the last epoch's, where the search stopped before the
        floor) are shown (``FLOOR_LOSS_Z``) to lose more than half that
        margin, each at the temperature of its least loss
        (:meth:`_loss_temperature`), whether or not the model is calibrated.
        The best epoch was chosen on the same rows, so its margin is a little
        optimistic.
        """
        floor = refit_epochs(best, self.max_epochs)
        if floor == best:
            return floor
        objective = self.net_.criterion_
        constant = best_constant(objective, train, self._n_outputs())
        with torch.no_grad():
            at_constant = objective.sample_task_loss(constant.expand(len(valid), -1), valid.y)
        at_best, at_floor = (
            self._calibrated_losses(valid, recorded[epoch])
            for epoch in (best, min(floor, max(recorded)))
        )
        return (
            best
            if floor_loses_skill(at_constant, at_best, at_floor, valid.sample_weight)
            else floor
        )

    def _absence_shares(
        self, train: ModalityDataset, valid: ModalityDataset, logits: torch.Tensor
    ) -> list[float] | None:
        """Per modality, the share of its trust a prediction without it loses on held-out rows.

        For the fit that chooses the number of epochs (one mixture, at its
        best epoch, as early stopping restored it; ``logits`` are its
        held-out outputs then, scaled by the temperature of their least
        loss), on the held-out rows with every modality but ``m``: the share
        ``s_m`` of the way to the constant of what each row really lacks
        (:func:`absence_constants`, fitted on ``train``; of all its rows with
        ``absence_offset=False``) that gives its outputs
        with ``m`` absent (:meth:`~sk_i2moe._data.ModalityDataset.narrowed`:
        the rows that have ``m`` with it made absent, those that lack it as
        they are) the least loss
        (:func:`~sk_i2moe.nn.calibration.fit_shrinkage`; 0 unless the rows'
        gain from it has a weighted ``z`` above ``ABSENCE_SHARE_Z``), and the
        same ``s_c`` for its outputs with every modality on the rows that
        have ``m``. The
        share returned is ``1 - (1 - s_m) / (1 - s_c)``, clipped to ``[0,
        1]``: how much of the trust that fit's own predictions earn with
        ``m`` they lose without it (the final model, an ensemble trained on
        every row, predicts better than that fit; it loses the same share).
        0 where ``s_c`` is 1 (no trust to lose), for a modality with fewer
        than :data:`AUTO_MIN_VALIDATION` such rows of positive weight, and
        for a single modality (``s_c`` is 0 where fewer rows have ``m``).
        None for the paper's mixture.
        """
        if not calibratable(self._module()):
            return None
        objective = self.net_.criterion_
        constant, shift = absence_constants(
            objective, train, self._n_outputs(), self.absence_offset
        )
        temperature = self._loss_temperature(valid, logits)
        with_all = logits.double() / temperature
        n_modalities = len(valid.inputs)
        present = (
            torch.ones(len(valid), n_modalities, dtype=torch.bool)
            if valid.present is None
            else valid.present
        )
        counted = valid.sample_weight > 0

        def least_share(
            outputs: torch.Tensor, data: ModalityDataset, lacking: torch.Tensor
        ) -> float:
            target = constant + lacking.double() @ shift  # of what each row really lacks
            weights = data.sample_weight.double()
            share = fit_shrinkage(
                outputs, target, lambda z: objective.weighted_task_loss(z, data.y, weights)
            )
            with torch.no_grad():  # the rows' gain from moving that far, shown or not
                gain = objective.sample_task_loss(outputs, data.y) - objective.sample_task_loss(
                    (1 - share) * outputs + share * target, data.y
                )
            return share if weighted_z(gain, weights) > ABSENCE_SHARE_Z else 0.0

        shares = []
        for m in range(n_modalities):
            others = torch.cat([present[:, :m], present[:, m + 1 :]], dim=1).all(dim=1)
            if n_modalities == 1 or int((others & counted).sum()) < AUTO_MIN_VALIDATION:
                shares.append(0.0)
                continue
            rows = np.flatnonzero(others.numpy())
            part, measured = valid.subset(rows), present[rows]
            without = measured.clone()
            without[:, m] = False
            outputs = self.net_.forward_outputs(
                part.narrowed(without), resolve_batch_size(self.batch_size, len(part))
            )["logits"]
            outputs = torch.from_numpy(outputs).double() / temperature
            lost = least_share(outputs, part, ~measured)
            have = rows[measured[:, m].numpy()]
            kept = (
                1.0 - least_share(with_all[have], valid.subset(have), ~present[have])
                if int(counted[have].sum()) >= AUTO_MIN_VALIDATION
                else 1.0
            )
            shares.append(0.0 if kept <= 0 else float(np.clip(1 - (1 - lost) / kept, 0, 1)))
        return shares

    def _calibrated_losses(self, valid: ModalityDataset, logits: torch.Tensor) -> torch.Tensor:
        """Each held-out row's task loss of ``logits`` at the temperature of their least loss."""
        temperature = self._loss_temperature(valid, logits)
        with torch.no_grad():
            return self.net_.criterion_.sample_task_loss(logits.double() / temperature, valid.y)

    def _fit_weights(self, dataset: ModalityDataset, device: torch.device) -> int:
        """Train the reweighting networks alone on ``dataset`` (``reweight_steps``).

        Returns the number of steps taken: 0 when skipped (``reweight_steps=0``,
        an interrupted fit, or the paper's mixture).
        """
        module = self._module()  # a compiled ensemble's wrapper hides its mixtures
        if self.reweight_steps == 0 or self.net_.interrupted_ or not refinable(module):
            return 0
        present = None if dataset.present is None else dataset.present.to(device)
        losses = fit_reweighting(
            module,
            self.net_.criterion_,
            [x.to(device) for x in dataset.inputs],
            dataset.y.to(device),
            dataset.sample_weight.to(device),
            present=present,
            max_steps=self.reweight_steps,
            weight_decay=self.weight_decay,
            batch_size=resolve_batch_size(self.batch_size, len(dataset)),
        )
        return len(losses)

    @property
    def output_temperature_(self) -> float:
        """What the fitted network's outputs are divided by at prediction (1: as trained).

        Above 1 only for a classifier (structured mixture) that
        ``early_stopping`` refitted on all the data (``"refit"``, or ``"auto"``
        with enough samples to hold out; calibrated on the rows the first fit
        held out), or that ``"auto"`` trained on all the data because too few
        samples could be held out (calibrated by cross-fitting); see
        ``early_stopping``.
        """
        check_is_fitted(self, "net_")
        return output_temperature(self._module())

    @property
    def absence_shrinkage_(self) -> dict[str, float] | None:
        """Per modality, how far prediction moves a sample lacking it towards a constant output.

        A sample lacking the modalities ``S`` is predicted ``(1 - s) z + s
        c_S``, where ``z`` is the mixture's (calibrated) output, ``c_S`` the
        constant output of the training rows lacking ``S`` (an L2-penalised
        model of the target on the absence indicators: log class rates, or
        the target's location of least loss, its mean for squared error) and
        ``s = 1 - prod_{m in S} (1 - absence_shrinkage_[m])`` (with
        ``absence_offset=False``, ``c_S`` is the constant of all the
        training rows, whatever ``S``); a sample with
        every modality is predicted as the mixture does. Chosen where
        ``early_stopping`` refitted on all the data: on the rows the first fit
        held out that have every other modality, how much of the trust that
        fit's predictions earn with the modality (the share of the way to
        the constant that gives them the least loss, where the rows show it
        lowers their loss) they lose without it.
        0 for every modality otherwise; None for the paper's mixture and
        vanilla fusion (``experts="single"``), which have none. See
        :ref:`missing-modalities-predictions`.
        """
        check_is_fitted(self, "net_")
        shares = absence_shrinkage(self._module())
        return None if shares is None else dict(zip(self._input_spec.names, shares))

    def _module(self) -> torch.nn.Module:
        """The fitted torch module (the compiled module's original)."""
        return getattr(self.net_.module_, "_orig_mod", self.net_.module_)

    def _anchor_weights(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Shrink the weights at prediction towards their mean on ``arrays`` (``weight_shrinkage``).

        Each member's mean is taken over its unshrunk weights on the
        training rows; the paper's mixture does not shrink. Returns the mean
        weights that prediction gives these rows (``interaction_weights_``),
        from the same forward pass.
        """
        module = self._module()
        release_weights(module)
        outputs = self._forward_arrays(arrays)
        if self.weight_shrinkage == 0 or not refinable(module):
            return outputs["weights"].mean(axis=0)
        member_weights = outputs.get("member_weights", outputs["weights"][:, None])
        usable = self._usable(absent_modalities(arrays))
        anchors = anchor_weights(module, member_weights, usable, self.weight_shrinkage)
        shrunk = shrink_weights(
            torch.from_numpy(member_weights).double(),  # [n, K, E]
            torch.from_numpy(anchors),  # [K, E]
            self.weight_shrinkage,
            None if usable is None else torch.from_numpy(usable).unsqueeze(1),
        )
        return shrunk.mean(dim=(0, 1)).numpy().astype(np.float32)

    def _usable(self, absent: np.ndarray) -> np.ndarray | None:
        """``(n, E)`` bool: the experts each row can use, from its absent modalities ``(n, M)``.

        None when every row has every modality.
        """
        if not absent.any():
            return None
        return self._module().available_experts(torch.from_numpy(~absent)).numpy()

    def _stopping_mode(self) -> str | None:
        """What early stopping does: ``"keep"`` the best epoch, ``"refit"``, or None."""
        if self.early_stopping is True:
            return "keep"
        if self.early_stopping in ("refit", "auto"):
            return "refit"
        return None

    def _split(
        self,
        dataset: ModalityDataset,
        y_encoded: np.ndarray,
        seed: int,
        clusters: np.ndarray | None = None,
    ) -> tuple[ModalityDataset, ModalityDataset | None]:
        """Hold out ``validation_fraction`` for early stopping; nothing otherwise.

        ``early_stopping="auto"`` holds out data only where the held-out part
        has at least :data:`AUTO_MIN_VALIDATION` samples and (for classifiers)
        every class can be stratified; otherwise it trains on all the data.
        With ``clusters`` (a group number per row: ``fit``'s ``groups``)
        whole groups are held out (:func:`~sk_i2moe._groups.group_holdout`).
        """
        if self._stopping_mode() is None:
            return dataset, None
        n_valid = int(np.ceil(self.validation_fraction * len(dataset)))
        if self.early_stopping == "auto" and n_valid < AUTO_MIN_VALIDATION:
            return dataset, None
        strata = self._stratify(y_encoded)
        if clusters is None:
            try:
                idx_train, idx_valid = train_test_split(
                    np.arange(len(dataset)),
                    test_size=self.validation_fraction,
                    random_state=seed,
                    stratify=strata,
                )
            except ValueError as err:
                if self.early_stopping == "auto":
                    return dataset, None
                # which side of the split is too small for every class to be on it; no
                # fraction puts a class of one sample on both
                single = strata is not None and np.bincount(strata).min() < 2
                side = "smaller" if self.validation_fraction > 0.5 else "larger"
                change = (
                    "a class with at least 2 samples (a class of one sample cannot be on both "
                    "sides)"
                    if single
                    else f"a {side} validation_fraction"
                )
                raise ValueError(
                    f"Cannot hold out validation_fraction={self.validation_fraction} of "
                    f"{len(dataset)} samples for early_stopping={self.early_stopping!r} ({err}). "
                    f"Use more data, {change}, early_stopping='auto' (which "
                    "trains on all the data when no split is possible), or early_stopping=False."
                ) from err
        else:
            split = group_holdout(strata, clusters, self.validation_fraction, seed)
            if split is None:
                labels = getattr(self, "classes_", None)
                why = holdout_obstacle(strata, clusters, self.validation_fraction, labels)
                if self.early_stopping == "auto":
                    warn(
                        f"fit holds out whole groups for early stopping, but {why}; "
                        "early_stopping='auto' trains on all the data for "
                        f"max_epochs={self.max_epochs} epochs instead. Give every class "
                        "several groups, or choose the epochs yourself (early_stopping=False "
                        "and max_epochs=)."
                    )
                    return dataset, None
                raise ValueError(
                    f"Cannot hold out validation_fraction={self.validation_fraction} of "
                    f"{len(dataset)} samples in whole groups for "
                    f"early_stopping={self.early_stopping!r}: {why}. Use more groups, "
                    "early_stopping='auto' (which then trains on all the data), or "
                    "early_stopping=False."
                )
            idx_train, idx_valid = split
        moved, idx_valid = every_modality_trained(dataset.present, idx_train, idx_valid, clusters)
        if self.early_stopping == "auto" and (len(moved) > len(idx_train) or clusters is not None):
            # the held-out part must still meet "auto"'s conditions (whole groups: its size
            # is known only now)
            if len(idx_valid) < AUTO_MIN_VALIDATION or (
                strata is not None and len(np.unique(strata[idx_valid])) < len(np.unique(strata))
            ):
                return dataset, None
        if not len(idx_valid):  # every held-out row has a modality no training row has
            raise ValueError(
                f"Cannot hold out validation_fraction={self.validation_fraction} of "
                f"{len(dataset)} samples for early_stopping={self.early_stopping!r}: every "
                "held-out row has a modality that no row of the training part has, and the "
                "training part needs it. Use more data, early_stopping='auto' (which then "
                "trains on all the data), or early_stopping=False."
            )
        return dataset.subset(moved), dataset.subset(idx_valid)

    def _train_new(
        self,
        train: ModalityDataset,
        valid: ModalityDataset | None,
        device: torch.device,
        max_epochs: int | None = None,
        n_members: int | None = None,
        record: bool = False,
    ) -> I2MoENet:
        """Build a fresh net for ``train`` (its batch size and input statistics) and fit it.

        ``max_epochs`` and ``n_members`` override the estimator's parameters;
        ``record`` keeps the outputs on ``valid`` of the epochs the final fit may
        read (:class:`HeldOutLogits`).
        """
        self.batch_size_ = resolve_batch_size(self.batch_size, len(train))
        stats = None
        if self.standardize:  # over the rows the loss counts (a class weight of 0 leaves some out)
            counted = train.sample_weight > 0
            rows = train.present
            if not counted.all():
                rows = counted[:, None] if rows is None else rows & counted[:, None]
                rows = rows.expand(len(train), len(train.inputs))
            stats = standardization(train.inputs, rows)
        n_features = [t.shape[1] for t in train.inputs]
        net = self._build_net(n_features, stats, valid, device, n_members=n_members)
        if record:
            recorder = HeldOutLogits(chosen=partial(refit_epochs, max_epochs=self.max_epochs))
            net.callbacks = [*net.callbacks, ("held_out_logits", recorder)]
        if max_epochs is not None:
            net.max_epochs = max_epochs
        return net.fit(train)

    # what a warm-started fit takes from the current parameters; every other
    # parameter is built into the fitted net and must not change between fits
    _CONTINUABLE = frozenset(
        {
            "warm_start",
            "max_epochs",
            "lr",
            "n_threads",
            "random_state",
            "class_weight",
            "validation_fraction",
            "reweight_steps",
            "weight_shrinkage",
        }
    )

    def _frozen_params(self) -> dict:
        """The parameters the network is built from, as values the caller cannot change.

        Copies (:func:`_snapshot`): a ``fusion_kwargs`` dict the caller edits in
        place after the fit must read as changed.
        """
        return {
            k: _snapshot(v)
            for k, v in self.get_params(deep=False).items()
            if k not in self._CONTINUABLE
        }

    def _changed_since_fit(self) -> dict[str, tuple[object, object]]:
        """Parameters the network was built with that differ now: ``{name: (then, now)}``."""
        return {
            k: (v, getattr(self, k))
            for k, v in self._frozen.items()
            if not _same_value(v, getattr(self, k))
        }

    def _check_warm_start_compatible(self) -> None:
        changed = self._changed_since_fit()
        if changed:
            raise ValueError(
                "warm_start=True continues training the fitted network and takes only "
                f"{', '.join(sorted(self._CONTINUABLE - {'warm_start'}))} from the current "
                "parameters, but these changed since it was built: "
                f"{', '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in changed.items())}. "
                "Set them back, or set warm_start=False to fit a new network."
            )

    def _net_options(self) -> tuple[type[I2MoENet], dict]:
        """The net class and its task-specific options (regression: the mixture output)."""
        return I2MoENet, {"predict_nonlinearity": mixture_output}

    def _callbacks(self, validating: bool) -> list:
        """Early stopping with a validation score, the progress bar, and copies of the user's.

        ``validating``: whether data are held out (early stopping stops on them).
        """
        callbacks: list = []
        if validating:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=self.tol,
                        threshold_mode="abs",
                        load_best=True,
                        sink=noop,
                    ),
                )
            )
            # a validation split exists: score it every epoch with the default metric
            metric = default_scoring(self)
            name = f"valid_{metric}"
            callbacks.append((name, EpochScoring(metric, name=name, lower_is_better=False)))
        if self.verbose and sys.stdout.isatty():  # a bar only where \r redraws it
            callbacks.append(("progress_bar", ProgressBar()))
        # fit never changes a parameter: the net sets up copies, not the user's objects
        # (deep copies: skorch callbacks list every attribute as a parameter, so
        # sklearn.base.clone cannot rebuild one that keeps state outside __init__)
        for item in self.callbacks or []:
            named = isinstance(item, (tuple, list))  # skorch's (name, callback) pairs
            if named and not (len(item) == 2 and isinstance(item[0], str)):
                raise TypeError(
                    f"callbacks holds {item!r}; a pair must be (name, callback) with a str name."
                )
            callback = item[1] if named else item
            if not (
                isinstance(callback, Callback)
                or (isinstance(callback, type) and issubclass(callback, Callback))
            ):
                raise TypeError(
                    f"callbacks holds {callback!r} ({type(callback).__name__}); give skorch "
                    "callbacks (skorch.callbacks.Callback instances) or (name, callback) pairs."
                )
            callback = copy.deepcopy(callback)
            callbacks.append((item[0], callback) if named else callback)
        return callbacks

    def _model_kind(self) -> type[MixtureOfInteractionExperts]:
        """The kind of mixture to build.

        ``interaction_constraint``'s, except for vanilla fusion
        (``experts="single"``): it has no interaction kinds to build into
        experts and is the paper's mixture with one expert.
        """
        if self.experts == "single":
            return InteractionMoE
        return MODEL_KINDS[self.interaction_constraint]

    def _replaces_modalities(self) -> bool:
        """Whether training replaces each modality in turn (the paper's interaction losses).

        Such training needs every modality in every training row.
        """
        return (
            self._model_kind() is InteractionMoE
            and self.interaction_loss_weight > 0
            and self.experts != "single"
        )

    def _backbone_parameters(self) -> Mapping[str, inspect.Parameter]:
        """The parameters of the backbone's constructor (or factory) that ``fusion`` names."""
        factory: Callable = (
            FUSIONS.get(self.fusion) if isinstance(self.fusion, str) else self.fusion
        )
        try:
            return inspect.signature(factory).parameters
        except (TypeError, ValueError) as err:  # a builtin, say
            raise TypeError(
                f"fusion={self.fusion!r} has no signature to read ({err}); pass a callable "
                "whose parameters can be read (a function, a functools.partial, a "
                "torch.nn.Module class), so that the options it takes are known."
            ) from None

    def _warn_unpassed_options(self) -> None:
        """Warn of non-default estimator options a ``**kwargs`` backbone is not given.

        The estimator passes ``n_layers``, ``n_heads``, ``dropout`` and
        ``rank`` to a backbone that names them; one whose signature is a
        catch-all gets ``fusion_kwargs`` only, so a changed option would
        otherwise change nothing without a word. Once per ``fit`` that builds a
        network (not a continued ``warm_start`` fit, nor its parts' fits).
        """
        accepted = self._backbone_parameters()
        if not _catch_all(accepted) or fitting_a_part():  # the fit of the whole says it
            return
        given = self.fusion_kwargs or {}
        unpassed = [
            k
            for k in _BACKBONE_OPTIONS
            if k not in accepted
            and k not in given
            and not np.isclose(getattr(self, k), DEFAULTS[k])
        ]
        if unpassed:
            settings = ", ".join(f"{k}={getattr(self, k)!r}" for k in unpassed)
            warn(
                f"fusion={self.fusion!r} takes **kwargs without naming {unpassed}, so the "
                f"estimator does not pass {settings} to it (it passes only the options a "
                "backbone names). Name them in its signature, or set them in fusion_kwargs.",
                UserWarning,
            )

    def _checked_fusion_kwargs(self, accepted: Mapping[str, inspect.Parameter]) -> dict:
        """``fusion_kwargs``, refusing what the backbone (``accepted``: its parameters) cannot take.

        An estimator parameter that the backbone takes (``dropout``, ...; the
        estimator passes it) or a shape the mixture sets (``hidden_dim``, ...)
        given again here, and an option the backbone does not have, are
        errors that name ``fusion_kwargs``. A backbone with ``**kwargs`` takes
        any option; it is given the estimator's parameters only where it names
        them (:meth:`_warn_unpassed_options`).
        """
        given = dict(self.fusion_kwargs or {})
        duplicated = [k for k in given if k in _BACKBONE_OPTIONS and k in accepted]
        if duplicated:
            raise ValueError(
                f"fusion_kwargs sets {duplicated}, which the estimator parameter(s) of the same "
                f"name set (and check): pass {duplicated[0]}=... to the estimator instead."
            )
        built = [k for k in given if k in _BACKBONE_SHAPE]
        if built:
            raise ValueError(
                f"fusion_kwargs sets {built}, which the mixture passes to every backbone itself "
                "(from the data, hidden_dim and n_tokens); remove them from fusion_kwargs."
            )
        if _catch_all(accepted):
            return given
        unknown = [k for k in given if k not in accepted]
        if unknown:
            options = sorted(
                k
                for k, p in accepted.items()
                if k not in (*_BACKBONE_OPTIONS, *_BACKBONE_SHAPE)
                and p.kind is not inspect.Parameter.VAR_POSITIONAL
            )
            raise ValueError(
                f"fusion_kwargs has {unknown}, which fusion={self.fusion!r} does not take; its "
                f"other options are {options or 'none'} (n_layers, n_heads, dropout and rank "
                "are estimator parameters)."
            )
        return given

    def _build_net(
        self,
        n_features: list[int],
        standardization: tuple[list, list] | None,
        valid: ModalityDataset | None,
        device: torch.device,
        validating: bool | None = None,
        n_members: int | None = None,
    ) -> I2MoENet:
        """The skorch net for this estimator's parameters (not yet initialised).

        ``validating`` (default: whether ``valid`` is given) adds early stopping;
        ``n_members`` (default: the fit's, ``n_members_``) is the number of mixtures.
        """
        n_members = self.n_members_ if n_members is None else n_members
        loc, scale = standardization if standardization is not None else (None, None)
        accepted = self._backbone_parameters()
        fusion_kwargs = {k: getattr(self, k) for k in _BACKBONE_OPTIONS if k in accepted}
        fusion_kwargs.update(self._checked_fusion_kwargs(accepted))
        model = self._model_kind()
        model_options = {
            "hidden_dim": self.hidden_dim,
            "n_tokens": self.n_tokens,
            "encoder": self.encoder,
            "fusion": self.fusion,
            "fusion_kwargs": fusion_kwargs,
            "experts": self.experts,
            "redundancy": self.redundancy,
            "softmax_outputs": self._softmax_outputs(),
            "absence_offset": self.absence_offset,
            "reweighting": self.reweighting,
            "reweight_hidden": self.reweight_hidden,
            "temperature": self.temperature,
            "perturbation": self.perturbation,
            "noise_scale": self.noise_scale,
            "n_perturbed": self.n_perturbed,
            "perturbed_passes": self.interaction_loss_weight > 0,
            "loss_on": self.loss_on,
            "input_loc": loc,
            "input_scale": scale,
        }
        objective_options = {
            "task_loss": self._criterion()(reduction="none"),
            "interaction_loss_weight": self.interaction_loss_weight,
            "expert_loss_weight": self.expert_loss_weight,
            "missing_modality_loss_weight": self.missing_modality_loss_weight,
            "gate_loss_weight": self.gate_loss_weight,
            "distance": self._interaction_distance,
        }
        net_class, net_options = self._net_options()
        module = {
            "module": model,
            **_accepted_by(model, "module", model_options),
            "criterion": model.Objective,
            **_accepted_by(model.Objective, "criterion", objective_options),
        }
        if n_members > 1:  # the same options, one level down
            module.update(
                module=MixtureEnsemble,
                module__member=model,
                module__n_members=n_members,
                criterion=EnsembleObjective,
                criterion__member=model.Objective,
            )
        return net_class(
            module__n_features=n_features,
            module__n_outputs=self._n_outputs(),
            **module,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
            optimizer__fused=fused_adamw(device),
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size_,
            iterator_train=BatchLoader,
            iterator_train__shuffle=True,
            iterator_train__streams=n_members,  # each member in its own order
            iterator_valid=BatchLoader,
            dataset=ModalityDataset,
            **_validation_options(valid),
            callbacks=self._callbacks(valid is not None if validating is None else validating),
            device=str(device),
            verbose=self.verbose,
            compile=self.compile,
            precision=self.precision,
            modality_dropout=self.modality_dropout,
            **net_options,
        )

    def _described_net(self, device: torch.device) -> I2MoENet:
        """The net the parameters and input layout describe, as a model file rebuilds it.

        Without input statistics or a validation split (the file's buffers and
        history hold them); early stopping that kept the best epoch trains on
        (and continues) with its callback.
        """
        keeps = self._stopping_mode() == "keep"
        return self._build_net(list(self._input_spec.n_features), None, None, device, keeps)

    def _network_changed(self) -> dict[str, tuple[object, object]]:
        """Options of the fitted network the current parameters would build otherwise.

        ``{option: (fitted, now)}``: what :meth:`_restore_net` would build from a
        file written now, compared with the fitted network. Parameters that only
        train (``weight_decay``) or serve (``verbose``) may change after a fit.
        """
        now = self._described_net(torch.device(self.net_.device)).get_params_for("module")
        fitted = self.net_.get_params_for("module")
        return {
            k: (fitted.get(k), now.get(k))
            for k in sorted(fitted.keys() | now.keys())
            if k.rpartition("__")[2] not in _NOT_NETWORK_OPTIONS
            and not _same_value(fitted.get(k), now.get(k))
        }

    def _restore_net(self, module_state: dict[str, torch.Tensor], history: History) -> None:
        """Rebuild the fitted net around saved weights (for :func:`sk_i2moe.load`).

        Raises
        ------
        RuntimeError
            When the weights are not those of the network the parameters
            describe (names, shapes, dtypes), or hold NaN or infinite values.
        """
        net = self._described_net(resolve_device(self.device))
        # files written before weight_shrinkage lack its buffers: such a model does not shrink
        # ... nor before the output temperature: such a model predicts as trained
        older = SHRINKAGE_BUFFERS + CALIBRATION_BUFFERS
        # the network the parameters describe, compared with the weights before it is built:
        # parameters that describe a huge network cannot make a small file allocate it
        with torch.device("meta"):
            expected = net.module(**net.get_params_for("module")).state_dict()
        _io.check_weights(module_state, expected, optional=older)
        with forked_rng():  # the throwaway initialisation draws
            net.initialize()
        module = getattr(net.module_, "_orig_mod", net.module_)
        defaults = {k: v for k, v in module.state_dict().items() if k.endswith(older)}
        module.load_state_dict({**defaults, **module_state})
        net.history = history
        self.net_ = net
        self.history_ = net.history

    def save(self, path: str | os.PathLike, *, optimizer: bool = True) -> None:
        """Write the fitted estimator to one file, without pickle.

        The weights (and the optimizer's state) are stored as safetensors,
        everything else (parameters, modality layout and feature names,
        classes, target scaling, history, versions) as JSON in the file's
        metadata; :func:`sk_i2moe.load` reads it back without executing
        anything from the file. See :ref:`model_files`.

        Parameters
        ----------
        path : str or path-like
            File to write (conventionally ``*.i2moe``).
        optimizer : bool, default=True
            Also write the optimizer's state (Adam's moment estimates, about
            twice the weights' size), so that a ``warm_start`` fit of the
            loaded model continues exactly as the saved one would have.
            False writes a smaller file for prediction only; a ``warm_start``
            fit of it starts a fresh optimizer.

        Raises
        ------
        ValueError
            For a custom (callable) fusion backbone, which cannot be written
            as data, or any other value that cannot (named in the message);
            or when parameters the network is built from changed since the
            fit (the file would describe another network); or when the
            metadata would exceed the 100 MB safetensors allows in a file's
            header (a long per-batch training history; the message gives the
            remedy).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from sk_i2moe import I2MoEClassifier, load
        >>> from sk_i2moe.datasets import load_breast_cancer_views
        >>> X, y = load_breast_cancer_views()
        >>> clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, random_state=0).fit(X, y)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.i2moe"
        >>> clf.save(path)
        >>> load(path).expert_names_ == clf.expert_names_
        True
        """
        check_is_fitted(self, "net_")
        # parameters set after the fit: load() refuses a file whose parameters fit() would
        self._validate_params()
        self._check_combinations()
        changed = self._network_changed()
        if changed:
            raise ValueError(
                "The file would describe another network than the one fitted: parameters "
                "changed since the fit (set_params, or a dict edited in place) build these "
                "options differently: "
                f"{', '.join(f'{k}: {a!r} -> {b!r}' for k, (a, b) in changed.items())}. "
                "Set them back, or fit again, before saving."
            )
        _io.save(self, path, optimizer=optimizer)

    def to_onnx(self, path: str | os.PathLike) -> None:
        """Export the fitted model for serving as an ONNX graph.

        The graph has one float32 input per modality, named after it, of shape
        ``(n_samples, n_features_m)``, and two outputs: ``predict_proba``
        (``"probabilities"``) for a classifier, ``predict`` (``"predictions"``,
        always 2-D) for a regressor, input standardisation included; and
        ``"interaction_weights"``, ``(n_samples, n_experts)``, every row's
        weights as in :meth:`explain`. The model's metadata names the
        columns of both (``"output_names"``: class labels as strings or
        target names; ``"expert_names"``; JSON lists). A
        modality that is NaN in every column of a row is absent for that
        sample, as in ``predict``: the graph handles it as the estimator does
        (with ``allow_missing_modalities=True``). Rows the estimator refuses
        (every modality absent, a modality partly NaN) give NaN. Needs the
        ``export`` extra (``pip install "sk-i2moe[export]"``). See
        :ref:`model_files`.

        Parameters
        ----------
        path : str or path-like
            File to write (``*.onnx``).

        Raises
        ------
        ValueError
            For a backbone that cannot be exported (named in the message), or
            a modality named like an output.
        ImportError
            When the ``export`` extra is not installed, or torch is older than
            2.5 (no dynamo-based exporter).
        """
        _io.to_onnx(self, path)

    # -- prediction ----------------------------------------------------------
    def _check_absent(
        self, arrays: list[np.ndarray], fitting: bool = False, weighted_out: bool = False
    ) -> None:
        """Refuse absent modalities where they cannot be handled, naming them.

        ``fitting``: ``arrays`` are the training rows (those with a positive
        sample weight; ``weighted_out`` when rows of weight 0 were left out),
        and a modality must be present in at least one of them.
        """
        names = list(self._input_spec.names)
        absent = {n: absent_rows(a) for n, a in zip(names, arrays)}
        counts = {n: int(a.sum()) for n, a in absent.items() if a.any()}
        if not counts:
            return
        if not self.allow_missing_modalities:
            raise ValueError(
                f"Modalities are absent (all NaN) in some rows: {counts} (modality: rows). "
                "With allow_missing_modalities=False every sample needs every modality; set "
                "it to True to let the model handle absent modalities, or impute them first."
            )
        if not fitting:
            return
        everywhere = [n for n, a in absent.items() if a.all()]
        weighted = " with a positive sample_weight" if weighted_out else ""
        if everywhere:
            raise ValueError(
                f"Modality {everywhere[0]!r} is absent (all NaN) in every training row"
                f"{weighted}, so nothing can be learned about it. Drop it from X."
            )
        if self._replaces_modalities():
            raise ValueError(
                f"Modalities are absent in some training rows ({counts}), but the paper's "
                "mixture (interaction_constraint='loss') trains its interaction losses by "
                "replacing each modality in turn, which is undefined for an absent one. Use "
                "interaction_constraint='structure' (the default), set "
                "interaction_loss_weight=0, or train on complete rows."
            )
        if not fitting_a_part():  # the fit of the whole says it
            warn_few_rows(absent, weighted)

    def _explanation_task(self) -> str:
        """What the outputs of an explanation are (:attr:`Explanation.task`)."""
        if not is_classifier(self):
            return "regression"
        return "multilabel" if self._multilabel else "classification"

    def _forward_arrays(self, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Evaluate the fitted mixture through the net (memory bounded by ``batch_size``).

        A row with a modality whose outputs are not finite (values so far
        outside the training data that the float32 network overflows) is a
        ``ValueError``: its probabilities would be NaN and its predicted class
        the first. A row without any modality (made only inside the
        inspection functions; input checks refuse them) has no usable expert
        and NaN outputs.
        """
        self._check_absent(arrays)
        batch_size = resolve_batch_size(self.batch_size, arrays[0].shape[0])
        with torch_threads(self.n_threads):
            outputs = self.net_.forward_outputs(ModalityDataset(arrays), batch_size)
        finite = np.isfinite(outputs["logits"]).all(axis=1) & np.isfinite(outputs["weights"]).all(
            axis=1
        )
        if not finite.all():  # rows without any modality are looked for only then
            finite |= np.logical_and.reduce([absent_rows(a) for a in arrays])
        if not finite.all():
            rows = np.flatnonzero(~finite)
            raise ValueError(
                f"{rows.size} row(s) (e.g. at positions {rows[:5].tolist()}) give non-finite "
                "outputs: their values are too large for the float32 network, which "
                "overflows on them. Check their units and scale against the training data."
            )
        return outputs

    def _synergy_joint(self, arrays: list[np.ndarray]) -> np.ndarray | None:
        """The synergy expert's joint term on validated arrays, in ``explain``'s output space.

        ``(n, C)``: the synergy expert's output less terms that are sums over
        the modalities (:meth:`~sk_i2moe.nn.StructuredInteractionMoE.synergy_joint`),
        members averaged, mapped as the experts' outputs are. None where the
        mixture's synergy expert is not built to its kind.
        """
        batch_size = resolve_batch_size(self.batch_size, arrays[0].shape[0])
        with torch_threads(self.n_threads):
            joint = self.net_.forward_synergy_joint(ModalityDataset(arrays), batch_size)
        return None if joint is None else self._to_output_space(joint)

    def _forward(self, X: object) -> dict[str, np.ndarray]:
        """Check the fit, validate ``X`` and evaluate the mixture on it."""
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
            (``weight * output``; an ensemble's: the members' mean of it) and
            the mixture output.

        Raises
        ------
        ValueError
            For input the checks refuse (named in the message), and for rows
            whose outputs are not finite (values too large for the float32
            network).

        Examples
        --------
        >>> from sk_i2moe import I2MoEClassifier
        >>> from sk_i2moe.datasets import load_breast_cancer_views
        >>> X, y = load_breast_cancer_views()
        >>> clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, random_state=0).fit(X, y)
        >>> explanation = clf.explain(X)
        >>> explanation.weights.shape, explanation.expert_outputs.shape
        ((569, 5), (569, 5, 2))
        >>> explanation.to_frame().columns.tolist()[:3]
        ['sample', 'expert', 'weight']
        """
        check_is_fitted(self, "net_")
        explanation = self._explain_arrays(list(self._input_spec.transform(X).values()))
        ids = row_labels(X)
        return explanation if ids is None else dataclasses.replace(explanation, sample_ids=ids)

    def _explain_arrays(self, arrays: list[np.ndarray]) -> Explanation:
        """:meth:`explain` on validated modality arrays (in the fitted order)."""
        res = self._forward_arrays(arrays)
        absent = absent_modalities(arrays)
        usable = self._usable(absent)
        # float64 rows that sum to 1 (float32's are 1 to about 1e-7): outputs in target units
        # carry the target's offset, which a weight sum of 1 +- 1e-7 would leave in the
        # contributions (about 100 for targets near 1e9)
        member_weights = res.get("member_weights")
        if member_weights is not None:
            member_weights = _unit_rows(member_weights)
            weights = _unit_rows(member_weights.mean(axis=1))
        else:
            weights = _unit_rows(res["weights"])
        explanation = Explanation(
            absence_offset=self._absence_offset(absent),
            weights=weights,
            expert_outputs=self._to_output_space(res["expert_logits"]),
            output=self._to_output_space(res["logits"]),
            expert_names=list(self.expert_names_),
            output_names=self._output_names(),
            task=self._explanation_task(),
            absent=absent,
            modality_names=list(self._input_spec.names),
            usable=usable,
            member_weights=member_weights,
            member_outputs=(
                self._to_output_space(res["member_expert_logits"])
                if "member_expert_logits" in res
                else None
            ),
        )
        shares = absence_shrinkage(self._module())
        if shares is None or not (absent & (np.asarray(shares) > 0)).any():
            return explanation
        # the move towards the constant of what a row lacks is, like the offsets, what its
        # absence adds outside the experts: the output less the experts' contributions
        moved = explanation.output - explanation.contributions.sum(axis=1)
        moved[~absent.any(axis=1)] = 0.0
        return dataclasses.replace(explanation, absence_offset=moved)

    def _absence_offset(self, absent: np.ndarray) -> np.ndarray | None:
        """``(n, C)`` what the absent modalities' learned offsets add to each row's output.

        In output units; an ensemble's is the members' mean. None when every
        row has every modality or the model learns no offsets. Where the
        model moves rows lacking modalities towards a constant
        (``absence_shrinkage_``), :meth:`_explain_arrays` adds that move.
        """
        if not absent.any():
            return None
        present = torch.from_numpy(~absent)
        with torch.no_grad():  # each mixture's own rule (absence_offsets), on the CPU
            offsets = [
                mixture.absence_offsets(present.to(mixture.absence_logits.device), predicting=True)
                .float()
                .cpu()
                for mixture in mixtures_of(self._module())
                if getattr(mixture, "absence_logits", None) is not None
            ]
        if not offsets:
            return None
        logits = torch.stack(offsets).mean(0).numpy()
        return self._to_output_space(logits) - self._to_output_space(np.zeros_like(logits))

    def expert_scores(
        self,
        X: object,
        y: object,
        sample_weight: object = None,
        *,
        scoring: str | Callable | None = None,
    ) -> pd.DataFrame:
        """Score each expert alone next to the whole mixture.

        Parameters
        ----------
        X : mapping, DataFrame or array-like
            Input in the same form as in :meth:`fit`.
        y : array-like
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights of the scores, paired with the rows by position (a
            pandas Series whose index holds ``X``'s row labels in another
            order is refused).
        scoring : str, callable or None, default=None
            Any scikit-learn scorer name or callable; None is the default
            metric (accuracy for classifiers, R^2 for regressors).

        Returns
        -------
        DataFrame
            One row per expert, then ``"mixture"``: the expert's own score (its
            clean output alone) and its mean weight. See
            :func:`sk_i2moe.inspection.expert_scores`.

        Examples
        --------
        >>> from sk_i2moe import I2MoEClassifier
        >>> from sk_i2moe.datasets import load_breast_cancer_views
        >>> X, y = load_breast_cancer_views()
        >>> clf = I2MoEClassifier(max_epochs=2, hidden_dim=8, random_state=0).fit(X, y)
        >>> clf.expert_scores(X, y).index.tolist()[-1]
        'mixture'
        """
        return expert_scores(self, X, y, scoring=scoring, sample_weight=sample_weight)
