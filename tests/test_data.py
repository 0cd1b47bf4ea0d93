"""_data.py: the whole-batch dataset and loader."""

import numpy as np
import torch

from sk_i2moe._data import BatchLoader, ModalityDataset, resolve_batch_size


def _arrays(n=10):
    return [
        np.arange(n * 2, dtype=np.float32).reshape(n, 2),
        np.arange(n * 3, dtype=np.float32).reshape(n, 3),
    ]


def test_dataset_defaults_and_indexing():
    data = ModalityDataset(_arrays())
    assert len(data) == 10
    x, y = data[torch.tensor([3, 1])]
    np.testing.assert_array_equal(x["inputs"][0].numpy(), [[6, 7], [2, 3]])
    np.testing.assert_array_equal(x["inputs"][1].numpy(), [[9, 10, 11], [3, 4, 5]])
    assert torch.equal(y, torch.zeros(2)) and torch.equal(x["sample_weight"], torch.ones(2))


def test_dataset_keeps_targets_and_weights_and_subsets_rows():
    y = np.arange(10) % 3
    weights = np.linspace(1, 2, 10)
    data = ModalityDataset(_arrays(), y, weights)
    part = data.subset(np.array([9, 0]))
    assert len(part) == 2
    x, target = part[torch.arange(2)]
    np.testing.assert_array_equal(target.numpy(), [0, 0])
    np.testing.assert_allclose(x["sample_weight"].numpy(), [2.0, 1.0])
    np.testing.assert_array_equal(x["inputs"][0].numpy(), [[18, 19], [0, 1]])
    assert x["sample_weight"].dtype == torch.float32


def test_loader_covers_every_row_once_in_order_or_shuffled():
    data = ModalityDataset(_arrays(10), np.arange(10))
    ordered = BatchLoader(data, batch_size=4)
    assert len(ordered) == 3
    batches = [y.tolist() for _, y in ordered]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    torch.manual_seed(0)
    shuffled = [y.tolist() for _, y in BatchLoader(data, batch_size=4, shuffle=True)]
    flat = [v for batch in shuffled for v in batch]
    assert sorted(flat) == list(range(10)) and flat != list(range(10))
    assert [len(b) for b in shuffled] == [4, 4, 2]


def test_shuffling_follows_torchs_seed():
    data = ModalityDataset(_arrays(20), np.arange(20))

    def order(seed):
        torch.manual_seed(seed)
        return [y.tolist() for _, y in BatchLoader(data, 8, shuffle=True)]

    assert order(1) == order(1) and order(1) != order(2)


def test_integer_batch_sizes_pass_through():
    assert resolve_batch_size(7, 10_000) == 7
    assert resolve_batch_size("auto", 1) == 128


def test_read_only_arrays_are_copied_without_a_warning(recwarn):
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    values.flags.writeable = False  # as joblib's memmaps reach GridSearchCV's workers
    dataset = ModalityDataset([values])
    assert not [w for w in recwarn if "not writable" in str(w.message)]
    assert not np.shares_memory(dataset.inputs[0].numpy(), values)
    np.testing.assert_array_equal(dataset.inputs[0].numpy(), values)
