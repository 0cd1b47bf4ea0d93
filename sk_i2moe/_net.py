"""The skorch nets: an interaction mixture trained with its objective, prediction included.

The criterion is the mixture's objective (:mod:`sk_i2moe.nn.objective`): the
net records every named part it reports in ``history`` (per batch, and the
epoch means through :class:`LossParts`), and validation scores the task loss
alone. Prediction belongs to the net too: :meth:`I2MoENet.forward_outputs`
batches the rows and runs each batch through skorch's ``evaluation_step``
(evaluation mode, no gradients) under the net's autocast on the net's device,
and never switches the module back to training mode, so concurrent
predictions from several threads equal the serial ones.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, PrintLog
from skorch.utils import to_tensor

from ._data import BatchLoader, ModalityDataset, drop_modalities, stream_blocks
from .nn._dtypes import at_least_float32
from .nn.models import MixtureOutput


def mixture_output(output: MixtureOutput) -> torch.Tensor:
    """Prediction nonlinearity of a regression net: the mixture output itself (float32)."""
    return output.logits.float()


def class_probabilities(output: MixtureOutput) -> torch.Tensor:
    """Prediction nonlinearity of a single-label classification net: softmax of the logits."""
    return torch.softmax(output.logits.float(), dim=-1)


def label_probabilities(output: MixtureOutput) -> torch.Tensor:
    """Prediction nonlinearity of a multi-label classification net: sigmoid of each logit."""
    return torch.sigmoid(output.logits.float())


class LossParts(Callback):
    """Record the epoch mean of every part of the training loss.

    The objective reports its parts per batch (:meth:`I2MoENet.get_loss`
    records them); at the end of an epoch each part seen in the epoch's
    training batches gets its batch-size-weighted mean, as skorch's
    :class:`~skorch.callbacks.PassthroughScoring` computes it. Adding a term
    to an objective therefore needs no new callback.
    """

    def on_epoch_end(self, net: NeuralNet, **kwargs) -> None:
        """Write ``history[-1, name]`` for every part recorded in this epoch."""
        batches = [b for b in net.history[-1, "batches"] if "train_batch_size" in b]
        names = dict.fromkeys(
            name for batch in batches for name in batch if name in net.loss_part_names_
        )
        for name in names:
            sizes, values = zip(*((b["train_batch_size"], b[name]) for b in batches if name in b))
            net.history.record(name, float(np.average(values, weights=sizes)))


class HeldOutLogits(Callback):
    """Keep the outputs on the held-out rows of the epochs that may be read, in their order.

    skorch scores the validation rows after each training epoch; this keeps
    the mixture's logits of those batches (detached, float32, on the CPU),
    at no cost beyond the copy. The fit that chooses the number of epochs
    uses them to choose the final fit's number of epochs and to calibrate it
    (:meth:`sk_i2moe.I2MoEClassifier.fit`): it reads early stopping's best
    epoch and ``chosen(best)`` (or the last epoch where training stopped
    before it). With ``chosen``, every other epoch's outputs are dropped as
    soon as no later epoch can make them one of those read (a held-out set of
    10,000 rows and 100 classes holds 3.8 MB an epoch).

    Parameters
    ----------
    chosen : callable or None, default=None
        Maps early stopping's best epoch (1-based; the net's callback
        ``"early_stopping"``) to the other epoch whose outputs are read,
        never an earlier one than the best; None keeps every epoch.

    Attributes
    ----------
    logits_ : dict of int to Tensor
        ``{epoch: [n_valid, C]}`` (1-based epochs with validation): every
        such epoch, or with ``chosen`` the last, the best and ``chosen(best)``
        where it has been reached.
    """

    def __init__(self, chosen: Callable[[int], int] | None = None) -> None:
        self.chosen = chosen

    def on_train_begin(self, net: NeuralNet, **kwargs) -> None:
        """Start an empty record."""
        self.logits_: dict[int, torch.Tensor] = {}
        self.batches_: list[torch.Tensor] = []

    def on_batch_end(
        self,
        net: NeuralNet,
        training: bool = False,
        y_pred: MixtureOutput | None = None,
        **kwargs,
    ) -> None:
        """Keep a validation batch's logits."""
        if not training:
            self.batches_.append(y_pred.logits.detach().float().cpu())

    def on_epoch_end(self, net: NeuralNet, **kwargs) -> None:
        """Close the epoch's record (epochs without validation leave none); drop the unreadable."""
        self._close(net)

    def on_train_end(self, net: NeuralNet, **kwargs) -> None:
        """Close the last epoch's record (early stopping ends training before this one's turn)."""
        self._close(net)

    def _close(self, net: NeuralNet) -> None:
        """Record this epoch's outputs under its number, and keep only the readable epochs."""
        if not self.batches_:
            return
        epoch = int(net.history[-1, "epoch"])
        self.logits_[epoch] = torch.cat(self.batches_)
        self.batches_ = []
        if self.chosen is not None:
            best = dict(net.callbacks_)["early_stopping"].best_epoch_
            readable = {epoch, best, self.chosen(best)}
            for old in [e for e in self.logits_ if e not in readable]:
                del self.logits_[old]


class EpochLine(PrintLog):
    """One plain line per epoch: no colours, no carriage returns, flushed.

    Used instead of skorch's table and progress bar when standard output is
    not a terminal (a log file, a CI job, a batch scheduler), where ANSI
    colour codes and carriage-return progress fragments turn into noise. A
    :class:`~skorch.callbacks.PrintLog`, so that skorch runs it after every
    other callback has recorded its numbers.

    Parameters
    ----------
    sink : callable, default=None
        Called with each line; None writes it to standard output, flushed.
    """

    def __init__(self, sink: object = None) -> None:
        self.sink = sink

    def initialize(self) -> EpochLine:
        """Nothing to set up (skorch's table keeps state here)."""
        return self

    def on_epoch_end(self, net: NeuralNet, **kwargs) -> None:
        """Write ``epoch N/M`` and every number recorded for the epoch."""
        if not net.verbose:
            return
        row = net.history[-1]
        skipped = {"epoch", "batches", "dur", "train_batch_count", "valid_batch_count"}
        fields = [f"epoch {row['epoch']}/{net.max_epochs}"]
        for key, value in row.items():
            if key in skipped or key.endswith("_best") or key.startswith("event_"):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                fields.append(f"{key}={value:.4f}")
        fields.append(f"dur={row['dur']:.2f}s")
        line = "  ".join(fields)
        if self.sink is not None:
            self.sink(line)
            return
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class I2MoENet(NeuralNet):
    """skorch :class:`~skorch.NeuralNet` training an interaction mixture with its objective.

    The module is a :class:`~sk_i2moe.nn.MixtureOfInteractionExperts`
    subclass and the criterion its objective (``module.Objective``); the
    training loss is the objective's total, the validation loss its
    sample-weighted task loss. Batches are ``({"inputs": [...],
    "sample_weight": w}, y)`` from :class:`~sk_i2moe._data.BatchLoader`.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs forward passes under bfloat16 autocast.
    modality_dropout : float, default=0.0
        Probability that a training batch marks a present modality of a row
        absent (at least one modality of each row is kept).
    valid_weight : float or None, default=None
        Mean sample weight of the validation rows. Given, each validation
        batch's weighted mean loss is scaled by its mean weight over this,
        so that skorch's epoch ``valid_loss`` (the batches' losses averaged
        by their sizes) is the sample-weighted mean loss over all the
        validation rows; None leaves the batches' weighted means as they are.

    Attributes
    ----------
    loss_part_names_ : dict
        Names of the loss parts recorded so far (ordered, values unused).
    interrupted_ : bool
        Whether the last training run was stopped by a ``KeyboardInterrupt``
        that no early-stopping callback raised.
    """

    def __init__(
        self,
        *args,
        precision: str = "float32",
        modality_dropout: float = 0.0,
        valid_weight: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.precision = precision
        self.modality_dropout = modality_dropout
        self.valid_weight = valid_weight

    def get_default_callbacks(self) -> list:
        """The default callbacks of skorch plus :class:`LossParts`.

        When standard output is not a terminal, skorch's coloured table is
        replaced by :class:`EpochLine`.
        """
        callbacks = [*super().get_default_callbacks(), ("loss_parts", LossParts())]
        if not sys.stdout.isatty():
            callbacks = [
                ("print_log", EpochLine()) if name == "print_log" else (name, callback)
                for name, callback in callbacks
            ]
        return callbacks

    def initialize(self) -> I2MoENet:
        """Initialise as skorch does and forget the recorded loss part names."""
        self.loss_part_names_: dict = {}
        return super().initialize()

    def fit_loop(self, *args, **kwargs) -> I2MoENet:
        """Run the epochs as skorch does, noting an interruption in ``interrupted_``.

        skorch stops training quietly on ``KeyboardInterrupt``, which is also
        how its :class:`~skorch.callbacks.EarlyStopping` ends training; an
        interruption that no early-stopping callback claims is the user's
        (Ctrl-C), and the estimator warns about it.
        """
        self.interrupted_ = False
        try:
            return super().fit_loop(*args, **kwargs)
        except KeyboardInterrupt:
            self.interrupted_ = not any(
                isinstance(callback, EarlyStopping) and callback.misses_ >= callback.patience
                for _, callback in self.callbacks_
            )
            raise

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context for forward passes: bfloat16 autocast when ``precision="bfloat16"``."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16)

    def notify(self, method_name: str, **cb_kwargs) -> None:
        """Call the callbacks; a streamed batch's targets as the rows its output holds.

        An ensemble's training batch holds row ``i`` of each member's stream
        (targets ``[B, K]``) and its output the members' rows in blocks
        (``[K * B]``): callbacks that pair a batch's output with its targets
        (:class:`~skorch.callbacks.EpochScoring` with ``on_train=True``) get
        the targets in the output's order, so training scores pool every
        member's training predictions. The batch's inputs and sample weights
        keep their per-stream layout (``[B, K, ...]``), as ``on_batch_begin``'s
        targets do.
        """
        batch = cb_kwargs.get("batch")
        if method_name == "on_batch_end" and batch is not None and "streams" in batch[0]:
            x, y = batch
            cb_kwargs["batch"] = (x, stream_blocks(torch.as_tensor(y)))
        super().notify(method_name, **cb_kwargs)

    def infer(self, x: dict, **fit_params) -> MixtureOutput:
        """Run the module on a batch ``{"inputs": [...], "sample_weight": w}``.

        A batch with absent modalities also carries ``"present"`` (``[B, M]``
        bool), which the module receives as ``present=``. A batch of several
        streams (an ensemble's training batch, ``"streams"`` in it) is laid out
        in blocks (``sk_i2moe._data.stream_blocks``) and the module receives
        their number as ``streams=``. In training mode with ``modality_dropout
        > 0``, each present modality of each row is also dropped from the mask
        with that probability (``sk_i2moe._data.drop_modalities``), and the
        mask before the drops goes to the module as ``measured=``.
        """
        if "streams" in x:
            fit_params = {**fit_params, "streams": int(x["streams"][0])}
            x = {
                "inputs": [stream_blocks(t) for t in x["inputs"]],
                **{k: stream_blocks(v) for k, v in x.items() if k not in ("inputs", "streams")},
            }
        x = to_tensor(x, device=self.device)
        present = x.get("present")
        if "measured" in x:  # a dataset narrowed to predict without some modalities
            fit_params = {**fit_params, "measured": x["measured"]}
        if self.modality_dropout > 0 and self.module_.training:
            if present is None:
                shape = (x["inputs"][0].shape[0], len(x["inputs"]))
                present = torch.ones(shape, dtype=torch.bool, device=x["inputs"][0].device)
            # what each row really has, for what an absence says (absence offsets)
            fit_params = {**fit_params, "measured": present}
            present = drop_modalities(present, self.modality_dropout)
        if present is not None:
            fit_params = {**fit_params, "present": present}
        with self.autocast():
            return self.module_(x["inputs"], **fit_params)

    def get_loss(
        self,
        y_pred: MixtureOutput,
        y_true: torch.Tensor,
        X: dict | None = None,
        training: bool = False,
    ) -> torch.Tensor:
        """The objective's total loss when training, else its sample-weighted task loss.

        The training loss's parts are recorded in the batch's history.

        Raises
        ------
        ValueError
            When the training loss is NaN or infinite.
        """
        weight = X["sample_weight"]
        if "streams" in X:  # the rows in the blocks the module ran them in
            y_true, weight = stream_blocks(torch.as_tensor(y_true)), stream_blocks(weight)
        y_true = to_tensor(y_true, device=self.device)
        weight = to_tensor(weight, device=self.device)
        if not training:
            loss = self.criterion_.weighted_task_loss(y_pred.logits, y_true, weight)
            if self.valid_weight:
                # skorch averages the batches' losses by their sizes: weighing each batch's
                # mean by its mean weight over the held-out rows' makes that average the
                # sample-weighted mean over all of them
                loss = loss * weight.float().mean() / self.valid_weight
            return loss
        total, parts = self.criterion_(y_pred, y_true, weight)
        # one device-to-host copy for all recorded values
        values = torch.stack([*parts.values(), total]).detach().float().tolist()
        for name, value in zip(parts, values):
            self.history.record_batch(name, value)
            self.loss_part_names_[name] = None
        if not math.isfinite(values[-1]):
            raise ValueError(
                f"The training loss became {values[-1]} at epoch {len(self.history)}. "
                f"Training diverged; lower the learning rate (lr={self.lr}) or check the "
                "input scale."
            )
        return total

    def forward_outputs(self, dataset: ModalityDataset, batch_size: int) -> dict[str, np.ndarray]:
        """Evaluate the fitted mixture on ``dataset``, ``batch_size`` rows at a time.

        Each batch goes through skorch's ``evaluation_step`` (evaluation mode,
        no gradients; the module is not switched back to training mode), so
        memory is bounded by ``batch_size`` and concurrent calls from several
        threads give the serial result.

        Parameters
        ----------
        dataset : ModalityDataset
            The rows to evaluate.
        batch_size : int
            Rows per forward pass.

        Returns
        -------
        dict of str to ndarray
            ``"logits"`` ``(n, C)``, ``"weights"`` ``(n, E)`` and
            ``"expert_logits"`` ``(n, E, C)``, float32; an ensemble
            (:class:`~sk_i2moe.nn.ensemble.MixtureEnsemble`) adds
            ``"member_weights"`` ``(n, K, E)`` and ``"member_expert_logits"``
            ``(n, K, E, C)``.
        """
        parts: dict[str, list[np.ndarray]] = {}
        names = ("logits", "weights", "expert_logits", "member_weights", "member_expert_logits")
        for batch in BatchLoader(dataset, batch_size):
            output = self.evaluation_step(batch, training=False)
            for name in names:
                if (value := getattr(output, name, None)) is not None:
                    parts.setdefault(name, []).append(value.float().cpu().numpy())
        return {name: np.concatenate(chunks) for name, chunks in parts.items()}

    def forward_synergy_joint(self, dataset: ModalityDataset, batch_size: int) -> np.ndarray | None:
        """The synergy expert's joint term on ``dataset``, members averaged (evaluation mode).

        :meth:`~sk_i2moe.nn.StructuredInteractionMoE.synergy_joint` of every
        member, averaged as the members' expert outputs are, ``batch_size``
        rows at a time, without gradients. None where a member has no such
        term (a mixture whose synergy expert is not built to its kind).

        Parameters
        ----------
        dataset : ModalityDataset
            The rows to evaluate.
        batch_size : int
            Rows per forward pass.

        Returns
        -------
        ndarray of shape (n, C) or None
            float32.
        """
        members = getattr(self.module_, "members", [self.module_])
        if not all(hasattr(member, "synergy_joint") for member in members):
            return None
        self._set_training(False)
        chunks = []
        for batch in BatchLoader(dataset, batch_size):
            x = to_tensor(batch[0], device=self.device)
            with torch.no_grad(), self.autocast():
                joint = [m.synergy_joint(x["inputs"], x.get("present")) for m in members]
            mean = torch.stack([at_least_float32(j) for j in joint]).mean(0)
            chunks.append(mean.float().cpu().numpy())
        return np.concatenate(chunks)


class I2MoENetClassifier(ClassifierMixin, I2MoENet):
    """:class:`I2MoENet` for encoded class targets, usable by scikit-learn's classification scorers.

    ``predict_proba`` applies ``predict_nonlinearity`` (softmax, or sigmoid
    for multi-label targets) to the mixture's logits and ``predict`` takes
    the most probable class (labels above 0.5 for multi-label), so skorch's
    :class:`~skorch.callbacks.EpochScoring` works with any scorer, e.g.
    ``"roc_auc"``, on the encoded targets ``0 .. C - 1``.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`I2MoENet`.
    classes : array-like
        The encoded classes (``arange(C)``).
    """

    def __init__(self, *args, classes: np.ndarray | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        """The encoded classes."""
        return np.asarray(self.classes)

    def predict(self, X: object) -> np.ndarray:
        """Encoded class of every row (a 0/1 indicator matrix for multi-label targets)."""
        proba = self.predict_proba(X)
        if self.predict_nonlinearity is label_probabilities:
            return (proba > 0.5).astype(np.int64)
        return proba.argmax(axis=1)
