"""Whole-batch data loading for tabular modality arrays.

skorch's default dataset fetches one sample at a time and collates them,
which dominates the step time for small tabular models. Here a batch is one
index tensor applied to each modality's tensor.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from skorch.dataset import Dataset

from ._modalities import absent_modalities


def _tensor(values: np.ndarray) -> torch.Tensor:
    """A tensor of ``values``, sharing their memory unless they are read-only.

    A read-only array (a joblib memmap, say) is copied: torch has no read-only
    tensors, and the caller's memory must stay as it was.
    """
    values = np.ascontiguousarray(values)
    return torch.from_numpy(values if values.flags.writeable else values.copy())


class ModalityDataset(Dataset):
    """Modality tensors, optional targets and per-sample weights.

    A modality that is all NaN in a row is absent for that sample: its values
    become 0 and ``present[row, modality]`` is False; the model receives the
    mask (``"present"`` in a batch), never a NaN.

    Parameters
    ----------
    arrays : sequence of ndarray
        One ``(n_samples, n_features_m)`` float32 array per modality, each row
        either all NaN (absent) or free of NaN.
    y : ndarray, optional
        Targets; a dummy zero vector when None (prediction).
    sample_weight : ndarray, optional
        Per-sample loss weights; ones when None.

    Attributes
    ----------
    present : Tensor or None
        ``(n_samples, M)`` bool, or None when every modality is present in
        every row (batches then carry no mask).
    measured : Tensor or None
        ``(n_samples, M)`` bool, what each row really has where ``present``
        leaves some of it out (:meth:`narrowed`; ``"measured"`` in a batch:
        the absence offsets count only what a row really lacks); None
        otherwise.
    y : Tensor
        The targets (zeros when none were given).

    Notes
    -----
    A skorch :class:`skorch.dataset.Dataset` (its constructor is not used), so
    that skorch's scoring callbacks without caching
    (``EpochScoring(use_caching=False)``) read the targets from ``y`` and
    predict on ``X``, the dataset itself.
    """

    def __init__(
        self,
        arrays: Sequence[np.ndarray],
        y: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> None:
        absent = absent_modalities(arrays)
        self.present = torch.from_numpy(~absent) if absent.any() else None
        self.measured = None
        self.inputs = [
            _tensor(np.nan_to_num(a, nan=0.0) if a_absent.any() else a)
            for a, a_absent in zip(arrays, absent.T)
        ]
        n = self.inputs[0].shape[0]
        self.y = torch.zeros(n) if y is None else torch.as_tensor(y)
        self.sample_weight = (
            torch.ones(n)
            if sample_weight is None
            else torch.as_tensor(sample_weight, dtype=torch.float32)
        )

    @property
    def X(self) -> ModalityDataset:  # noqa: N802 (skorch's name)
        """The dataset itself: what the network predicts on."""
        return self

    def __len__(self) -> int:
        return self.inputs[0].shape[0]

    def __getitem__(self, index: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """Return ``({"inputs": [...], "sample_weight": w[, "present", "measured"]}, y)``."""
        x = {"inputs": [t[index] for t in self.inputs], "sample_weight": self.sample_weight[index]}
        if self.present is not None:
            x["present"] = self.present[index]
        if self.measured is not None:
            x["measured"] = self.measured[index]
        return x, self.y[index]

    def subset(self, index: np.ndarray) -> ModalityDataset:
        """A new dataset holding the rows ``index``."""
        idx = torch.as_tensor(index)
        part = copy.copy(self)
        part.inputs = [t[idx] for t in self.inputs]
        present = None if self.present is None else self.present[idx]
        part.present = None if present is None or present.all() else present
        part.y, part.sample_weight = self.y[idx], self.sample_weight[idx]
        part.measured = None if self.measured is None else self.measured[idx]
        return part

    def narrowed(self, present: torch.Tensor) -> ModalityDataset:
        """The same rows given only the ``present`` modalities (``[n, M]`` bool).

        The values of the modalities it leaves out become 0, as an absent
        modality's are; :attr:`measured` keeps what each row really has, so
        that a modality left out adds no absence offset.
        """
        part = copy.copy(self)
        part.inputs = [
            torch.where(present[:, k : k + 1], x, 0.0) for k, x in enumerate(self.inputs)
        ]
        part.measured = torch.ones_like(present) if self.present is None else self.present
        part.present = present
        return part


def drop_modalities(present: torch.Tensor, rate: float) -> torch.Tensor:
    """Mark each present modality of each row absent with probability ``rate``.

    Training-time modality dropout: a row that would lose every modality it
    has keeps one of them, drawn at random among those present, so every row
    still has something to predict from.

    Parameters
    ----------
    present : Tensor
        ``[B, M]`` bool: which modalities each row has.
    rate : float
        Probability, in ``[0, 1)``, that a present modality is dropped.

    Returns
    -------
    Tensor
        ``[B, M]`` bool, a subset of ``present`` with at least one True per
        row that had one. Drawn from torch's global generator.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> kept = drop_modalities(torch.ones(1000, 3, dtype=torch.bool), 0.5)
    >>> bool(kept.any(1).all()), 0.4 < kept.float().mean().item() < 0.65
    (True, True)
    """
    draw = torch.rand(present.shape, device=present.device)
    kept = present & (draw >= rate)
    # a row left with nothing keeps the present modality with the largest draw
    rescued = draw.masked_fill(~present, -1.0).argmax(1, keepdim=True)
    lost_all = ~kept.any(1, keepdim=True) & present.any(1, keepdim=True)
    return kept.scatter(1, rescued, kept.gather(1, rescued) | lost_all)


def standardization(
    arrays: Sequence[np.ndarray],
    present: np.ndarray | None = None,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per-feature centre and scale of each modality, as scikit-learn's ``StandardScaler``.

    Means and standard deviations are computed in float64 (a finite float32
    value such as 3e38 does not overflow them), over the rows where the
    modality is present (loc 0 and scale 1 where no row has it, such as
    a training part whose rare modality a validation split took
    entirely). A feature that is constant
    in the training data, up to float64 rounding (scikit-learn's test), gets
    scale 1, so that a tiny change of it at prediction time moves the input
    by that change, not by that change times 1e6.

    Parameters
    ----------
    arrays : sequence of ndarray
        One ``(n_samples, n_features_m)`` array per modality.
    present : ndarray of bool of shape (n_samples, M), optional
        Which modality each row has (:attr:`ModalityDataset.present`); every
        row when None.

    Returns
    -------
    loc, scale : list of Tensor
        float32 tensors of shape ``(n_features_m,)``, one per modality.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe._data import standardization
    >>> loc, scale = standardization([np.array([[5.0, 0.0], [5.0, 2.0]], dtype=np.float32)])
    >>> loc[0].tolist(), scale[0].tolist()  # the constant feature keeps scale 1
    ([5.0, 1.0], [1.0, 1.0])
    """
    eps = np.finfo(np.float64).eps
    locs, scales = [], []
    for m, values in enumerate(arrays):
        table = np.asarray(values, dtype=np.float64)
        if present is not None:
            table = table[np.asarray(present)[:, m]]
        n = table.shape[0]
        if n == 0:  # no row has it (e.g. a rare modality all in a held-out part): identity
            locs.append(torch.zeros(table.shape[1]))
            scales.append(torch.ones(table.shape[1]))
            continue
        mean = table.mean(axis=0)
        var = table.var(axis=0)
        constant = var <= n * eps * var + (n * mean * eps) ** 2
        std = np.sqrt(var)
        std[constant | (std < 10 * eps)] = 1.0
        locs.append(torch.from_numpy(mean.astype(np.float32)))
        scales.append(torch.from_numpy(std.astype(np.float32)))
    return locs, scales


#: ``batch_size="auto"``: about this many steps per epoch ...
AUTO_STEPS_PER_EPOCH = 8
#: ... with batches of at least (and, for up to 1,024 samples, exactly) this many rows ...
AUTO_MIN_BATCH = 128
#: ... and at most this many rows
AUTO_MAX_BATCH = 256


def resolve_batch_size(batch_size: int | str, n_samples: int) -> int:
    """The batch size for ``n_samples`` rows to train on or predict (``"auto"`` resolved).

    ``"auto"`` is ``min(256, max(128, ceil(n_samples / 8)))``: batches of 128
    up to 1,024 samples (small data keeps its optimiser steps), then eight
    batches per epoch of at most 256 rows (each training step has a fixed
    cost, so larger data sets take fewer, larger steps).

    Parameters
    ----------
    batch_size : int or "auto"
        The estimator's ``batch_size``.
    n_samples : int
        Training samples (after any validation hold-out), or rows to predict.

    Returns
    -------
    int
        ``batch_size`` itself when it is an integer.

    Examples
    --------
    >>> from sk_i2moe._data import resolve_batch_size
    >>> [resolve_batch_size("auto", n) for n in (100, 1024, 1500, 5000)]
    [128, 128, 188, 256]
    >>> resolve_batch_size(32, 5000)
    32
    """
    if batch_size != "auto":
        return int(batch_size)
    per_step = math.ceil(n_samples / AUTO_STEPS_PER_EPOCH)
    return min(AUTO_MAX_BATCH, max(AUTO_MIN_BATCH, per_step))


def stream_blocks(values: torch.Tensor) -> torch.Tensor:
    """A streamed batch's ``[B, K, ...]`` tensor as ``K`` blocks of ``B`` rows, ``[K * B, ...]``.

    Parameters
    ----------
    values : Tensor
        Row ``i`` of every stream (:class:`BatchLoader` with ``streams=K``).

    Returns
    -------
    Tensor
        Stream 0's rows, then stream 1's, and so on.

    Examples
    --------
    >>> import torch
    >>> from sk_i2moe._data import stream_blocks
    >>> stream_blocks(torch.tensor([[0, 10], [1, 11], [2, 12]])).tolist()
    [0, 1, 2, 10, 11, 12]
    """
    return values.transpose(0, 1).reshape(-1, *values.shape[2:])


class BatchLoader:
    """Iterate over a :class:`ModalityDataset` one whole batch at a time.

    Used as skorch's ``iterator_train`` / ``iterator_valid``. Shuffling draws
    from torch's global generator, which the estimators seed.

    With ``streams=K > 1`` (and ``shuffle``), every epoch draws ``K``
    independent permutations and each batch holds the next ``batch_size``
    rows of every one: ``[B, K, ...]`` tensors (row ``i`` of every stream)
    and ``"streams"``, ``[B]`` filled with ``K``. Its length, which skorch
    records as the batch size, stays ``B``. The net lays such a batch out in
    ``K`` blocks (:func:`stream_blocks`) and an ensemble of ``K`` members
    trains member ``k`` on block ``k``
    (:class:`~sk_i2moe.nn.ensemble.MixtureEnsemble`), so that each member
    sees the data in its own order, as a fit with another seed would.

    Parameters
    ----------
    dataset : ModalityDataset
        Data to iterate over.
    batch_size : int
        Rows per batch and stream (the last batch may be smaller).
    shuffle : bool, default=False
        Draw new permutations at every iteration.
    streams : int, default=1
        Independent orders stacked in each batch (used with ``shuffle``).

    Examples
    --------
    >>> import numpy as np
    >>> from sk_i2moe._data import BatchLoader, ModalityDataset
    >>> data = ModalityDataset([np.arange(10, dtype=np.float32)[:, None]])
    >>> batches = list(BatchLoader(data, 4, shuffle=True, streams=2))
    >>> [tuple(x["inputs"][0].shape) for x, _ in batches], batches[-1][0]["streams"].tolist()
    ([(4, 2, 1), (4, 2, 1), (2, 2, 1)], [2, 2])
    >>> sorted(int(v) for x, _ in batches for v in x["inputs"][0][:, 0, 0])  # stream 0
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """

    def __init__(
        self, dataset: ModalityDataset, batch_size: int, shuffle: bool = False, streams: int = 1
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.streams = streams

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[dict, torch.Tensor]]:
        n = len(self.dataset)
        if self.shuffle and self.streams > 1:
            orders = torch.stack([torch.randperm(n) for _ in range(self.streams)])  # [K, n]
            for block in orders.split(self.batch_size, dim=1):
                x, y = self.dataset[block.T]  # [B, K, ...]
                yield {**x, "streams": torch.full((block.shape[1],), self.streams)}, y
            return
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        for index in order.split(self.batch_size):
            yield self.dataset[index]
