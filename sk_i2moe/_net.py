"""The skorch net: task loss plus the weighted interaction loss."""

from __future__ import annotations

import contextlib
import math

import torch
from skorch import NeuralNet
from skorch.utils import to_tensor

from .nn.moe import MoEOutput


class I2MoENet(NeuralNet):
    """skorch :class:`~skorch.NeuralNet` training an :class:`~sk_i2moe.nn.InteractionMoE`.

    The training objective is the sample-weighted task loss plus
    ``interaction_loss_weight`` times the module's interaction loss (with
    ``interaction_constraint="structure"``: the task loss of the redundancy
    expert's output from each modality alone) plus ``expert_loss_weight``
    times the experts' own task losses plus ``gate_loss_weight`` times a
    sparse backbone's load-balancing loss; with
    ``interaction_constraint="structure"`` also the task loss of the
    mixture with each modality missing (``MoEOutput.missing_logits``,
    weight 1). The parts are recorded per batch in ``history`` as
    ``task_loss``, ``interaction_loss``, ``expert_loss``, ``gate_loss`` and
    ``missing_modality_loss``; validation reports the task loss as
    ``valid_loss``.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`. The criterion must return one loss
        per sample (``reduction="none"``).
    interaction_loss_weight : float, default=0.1
        Weight of the interaction loss in the training objective.
    gate_loss_weight : float, default=0.01
        Weight of the load-balancing loss of sparse backbones.
    expert_loss_weight : float, default=0.0
        Weight of the experts' own task loss (each expert's clean output scored
        alone, averaged over experts), recorded as ``expert_loss``.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs forward passes under bfloat16 autocast.
    """

    def __init__(
        self,
        *args,
        interaction_loss_weight: float = 0.1,
        gate_loss_weight: float = 0.01,
        expert_loss_weight: float = 0.0,
        precision: str = "float32",
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.interaction_loss_weight = interaction_loss_weight
        self.gate_loss_weight = gate_loss_weight
        self.expert_loss_weight = expert_loss_weight
        self.precision = precision

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context for forward passes: bfloat16 autocast when ``precision="bfloat16"``."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16)

    def infer(self, x: dict, **fit_params) -> MoEOutput:
        """Run the module on a batch ``{"inputs": [...], "sample_weight": w}``."""
        x = to_tensor(x, device=self.device)
        with self.autocast():
            return self.module_(x["inputs"], **fit_params)

    def _weighted_task_loss(
        self, logits: torch.Tensor, y_true: torch.Tensor, weight: torch.Tensor
    ) -> torch.Tensor:
        """Sample-weighted mean of the criterion (averaged over outputs for 2-D targets)."""
        per_sample = self.criterion_(logits.float(), y_true)
        if per_sample.dim() > 1:
            per_sample = per_sample.flatten(1).mean(1)
        return (per_sample * weight).sum() / weight.sum()

    def _folded_task_loss(
        self, logits: torch.Tensor, y_true: torch.Tensor, weight: torch.Tensor
    ) -> torch.Tensor:
        """Task loss of ``[B, K, C]`` outputs, each of the ``K`` scored alone and averaged."""
        batch, n_scored, n_outputs = logits.shape
        return self._weighted_task_loss(
            logits.reshape(batch * n_scored, n_outputs),
            y_true.repeat_interleave(n_scored, dim=0),
            weight.repeat_interleave(n_scored),
        )

    def get_loss(
        self, y_pred: MoEOutput, y_true: torch.Tensor, X: dict | None = None, training: bool = False
    ) -> torch.Tensor:
        """Weighted task loss, plus the interaction loss when training.

        Raises
        ------
        ValueError
            When the training loss is NaN or infinite.
        """
        y_true = to_tensor(y_true, device=self.device)
        weight = to_tensor(X["sample_weight"], device=self.device)
        task = self._weighted_task_loss(y_pred.logits, y_true, weight)
        if not training:
            return task
        parts = {"task_loss": task}
        total = task
        if self.expert_loss_weight > 0:
            per_expert = self._folded_task_loss(y_pred.expert_logits, y_true, weight)
            parts["expert_loss"] = per_expert
            total = total + self.expert_loss_weight * per_expert
        interaction = y_pred.interaction_loss
        if y_pred.modality_logits is not None:  # interaction_constraint="structure"
            # the redundancy expert's output from each modality alone, scored like an expert
            interaction = self._folded_task_loss(y_pred.modality_logits, y_true, weight)
        if y_pred.missing_logits is not None:  # interaction_constraint="structure"
            # the weights also answer for the mixture with any one modality missing
            missing = self._folded_task_loss(y_pred.missing_logits, y_true, weight)
            parts["missing_modality_loss"] = missing
            total = total + missing
        if interaction is not None:
            parts["interaction_loss"] = interaction
            total = total + self.interaction_loss_weight * interaction
        if y_pred.gate_loss is not None:
            parts["gate_loss"] = y_pred.gate_loss
            total = total + self.gate_loss_weight * y_pred.gate_loss
        # one device-to-host copy for all recorded values
        values = torch.stack([*parts.values(), total]).detach().float().tolist()
        for name, value in zip(parts, values):
            self.history.record_batch(name, value)
        if not math.isfinite(values[-1]):
            raise ValueError(
                f"The training loss became {values[-1]} at epoch {len(self.history)}. "
                f"Training diverged; lower the learning rate (lr={self.lr}) or check the "
                "input scale."
            )
        return total
