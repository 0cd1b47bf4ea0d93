"""The skorch net: task loss plus the weighted interaction loss."""

from __future__ import annotations

import torch
from skorch import NeuralNet
from skorch.utils import to_tensor

from .nn.moe import MoEOutput


class I2MoENet(NeuralNet):
    """skorch :class:`~skorch.NeuralNet` training an :class:`~sk_i2moe.nn.InteractionMoE`.

    The training objective is the sample-weighted task loss plus
    ``interaction_loss_weight`` times the module's interaction loss. Both parts
    are recorded per batch in ``history`` as ``task_loss`` and
    ``interaction_loss``; validation reports the task loss as ``valid_loss``.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`. The criterion must return one loss
        per sample (``reduction="none"``).
    interaction_loss_weight : float, default=0.1
        Weight of the interaction loss in the training objective.
    """

    def __init__(self, *args, interaction_loss_weight: float = 0.1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.interaction_loss_weight = interaction_loss_weight

    def infer(self, x: dict, **fit_params) -> MoEOutput:
        """Run the module on a batch ``{"inputs": [...], "sample_weight": w}``."""
        x = to_tensor(x, device=self.device)
        return self.module_(x["inputs"], **fit_params)

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
        per_sample = self.criterion_(y_pred.logits, y_true)
        if per_sample.dim() > 1:  # multi-output targets: mean over outputs
            per_sample = per_sample.flatten(1).mean(1)
        weight = to_tensor(X["sample_weight"], device=self.device)
        task = (per_sample * weight).sum() / weight.sum()
        if not training:
            return task
        total = task
        self.history.record_batch("task_loss", task.item())
        if y_pred.interaction_loss is not None:
            total = task + self.interaction_loss_weight * y_pred.interaction_loss
            self.history.record_batch("interaction_loss", y_pred.interaction_loss.item())
        if not torch.isfinite(total):
            raise ValueError(
                f"The training loss became {total.item()} at epoch {len(self.history)}. "
                f"Training diverged; lower the learning rate (lr={self.lr}) or check the "
                "input scale."
            )
        return total
