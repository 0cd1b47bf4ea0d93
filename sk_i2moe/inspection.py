"""Local and global interpretation of a fitted I2MoE estimator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Explanation:
    """How each sample's prediction was composed from the interaction experts.

    Attributes
    ----------
    weights : ndarray of shape (n_samples, n_experts)
        Interaction weights; each row is non-negative and sums to 1.
    expert_outputs : ndarray of shape (n_samples, n_experts, n_outputs)
        Each expert's output on the clean input (logits for classifiers).
    output : ndarray of shape (n_samples, n_outputs)
        The mixture output, ``sum_e weights[:, e] * expert_outputs[:, e]``.
    expert_names : list of str
        Name of each expert, e.g. ``"uniqueness[labs]"``, ``"synergy"``.
    output_names : list of str
        Name of each output (the class labels for a classifier).

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe.inspection import Explanation
    >>> exp = Explanation(
    ...     weights=np.array([[0.25, 0.75]]),
    ...     expert_outputs=np.array([[[1.0, -1.0], [2.0, 0.0]]]),
    ...     output=np.array([[1.75, -0.25]]),
    ...     expert_names=["synergy", "redundancy"],
    ...     output_names=["a", "b"],
    ... )
    >>> exp.contributions[0]
    array([[ 0.25, -0.25],
           [ 1.5 ,  0.  ]])
    >>> exp.to_frame().shape
    (2, 7)
    """

    weights: np.ndarray
    expert_outputs: np.ndarray
    output: np.ndarray
    expert_names: list[str]
    output_names: list[str]

    @property
    def contributions(self) -> np.ndarray:
        """``weights * expert_outputs``, shape (n_samples, n_experts, n_outputs).

        Summed over experts they give :attr:`output`.
        """
        return self.weights[:, :, None] * self.expert_outputs

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (sample, expert).

        Returns
        -------
        DataFrame
            Columns ``sample``, ``expert``, ``weight``, then ``output[<name>]``
            and ``contribution[<name>]`` for every output.
        """
        n, n_experts, _ = self.expert_outputs.shape
        frame = {
            "sample": np.repeat(np.arange(n), n_experts),
            "expert": pd.Categorical(np.tile(self.expert_names, n), categories=self.expert_names),
            "weight": self.weights.reshape(-1),
        }
        contributions = self.contributions
        for k, name in enumerate(self.output_names):
            frame[f"output[{name}]"] = self.expert_outputs[:, :, k].reshape(-1)
        for k, name in enumerate(self.output_names):
            frame[f"contribution[{name}]"] = contributions[:, :, k].reshape(-1)
        return pd.DataFrame(frame)
