"""Dataset, TensorDataset, Subset, DataLoader, random_split and default_collate."""

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor
from tinygrad_lite.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


def _dataset(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(x, y), x, y


def _epoch_labels(loader):
    return np.concatenate([y.data for _, y in loader])


class _CountingTensorDataset(TensorDataset):
    calls = 0

    def __getitem__(self, index):
        type(self).calls += 1
        return super().__getitem__(index)


class _Pairs(Dataset):
    """A generic dataset: an array, a Python int and a Python float per sample."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full((2, 2), i, dtype=np.float32), i, i / 2


# ------------------------------------------------------------------------------- batching ----
@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]),
    (10, 4, True, [4, 4]),
    (10, 5, False, [5, 5]),
    (10, 5, True, [5, 5]),
    (3, 8, False, [3]),
    (3, 8, True, []),
    (0, 4, False, []),
    (7, 1, False, [1] * 7),
])
def test_dataloader_batch_sizes(n, batch_size, drop_last, sizes):
    ds, _, _ = _dataset(n)
    loader = DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
    assert [len(y) for _, y in loader] == sizes
    assert len(loader) == len(sizes)


def test_dataloader_batches_in_order_without_shuffle():
    ds, x, y = _dataset(10)
    batches = list(DataLoader(ds, batch_size=4))
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    assert all(isinstance(t, Tensor) for b in batches for t in b)
    np.testing.assert_array_equal(np.concatenate([b[0].data for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), y)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert not batches[0][0].requires_grad


def test_dataloader_shuffle_is_a_permutation_that_keeps_pairs():
    ds, x, _ = _dataset(103)
    for x_batch, y_batch in DataLoader(ds, batch_size=10, shuffle=True, generator=1):
        np.testing.assert_array_equal(x_batch.data, x[y_batch.data])  # rows stay with their labels
    labels = _epoch_labels(DataLoader(ds, batch_size=10, shuffle=True, generator=1))
    assert sorted(labels.tolist()) == list(range(103))  # every sample exactly once
    assert labels.tolist() != list(range(103))


def test_dataloader_drop_last_with_shuffle_drops_only_the_tail():
    ds, _, _ = _dataset(10)
    labels = _epoch_labels(DataLoader(ds, batch_size=4, shuffle=True, drop_last=True, generator=0))
    assert len(labels) == 8 and len(set(labels.tolist())) == 8


def test_dataloader_new_order_each_epoch():
    ds, _, _ = _dataset(50)
    loader = DataLoader(ds, batch_size=7, shuffle=True, generator=3)
    first, second = _epoch_labels(loader), _epoch_labels(loader)
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(50))
    assert first.tolist() != second.tolist()


def test_dataloader_int_seed_reproducible_across_epochs():
    ds, _, _ = _dataset(40)
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=123)
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=123)
    c = DataLoader(ds, batch_size=8, shuffle=True, generator=124)
    epochs_a = [_epoch_labels(a).tolist() for _ in range(3)]
    epochs_b = [_epoch_labels(b).tolist() for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1]
    assert _epoch_labels(c).tolist() != epochs_a[0]


def test_dataloader_generator_object_is_used_and_advanced():
    ds, _, _ = _dataset(30)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    first = _epoch_labels(DataLoader(ds, batch_size=4, shuffle=True, generator=g1))
    np.testing.assert_array_equal(first, g2.permutation(30))
    second = _epoch_labels(DataLoader(ds, batch_size=4, shuffle=True, generator=g1))
    np.testing.assert_array_equal(second, g2.permutation(30))  # g1 advanced like g2


def test_dataloader_default_generator_follows_manual_seed():
    ds, _, _ = _dataset(30)
    loader = DataLoader(ds, batch_size=4, shuffle=True)
    tg.manual_seed(5)
    first = _epoch_labels(loader)
    tg.manual_seed(5)
    np.testing.assert_array_equal(_epoch_labels(loader), first)
    np.testing.assert_array_equal(first, np.random.default_rng(5).permutation(30))


def test_dataloader_tensordataset_fast_path_never_fetches_items():
    x = np.random.default_rng(0).random((100, 4)).astype(np.float32)
    ds = _CountingTensorDataset(x, np.arange(100))
    _CountingTensorDataset.calls = 0
    for _ in DataLoader(ds, batch_size=16, shuffle=True, generator=0):
        pass
    for _ in DataLoader(Subset(ds, np.arange(0, 100, 3)), batch_size=5, shuffle=True):
        pass
    assert _CountingTensorDataset.calls == 0


def test_dataloader_batches_are_copies_not_views():
    ds, x, _ = _dataset(6)
    for xb, _ in DataLoader(ds, batch_size=3):
        xb.data[...] = -1
    assert x.min() == 0


def test_dataloader_generic_dataset_collates_fields():
    batches = list(DataLoader(_Pairs(), batch_size=2))
    assert len(batches) == 3
    images, ints, floats = batches[1]
    assert images.shape == (2, 2, 2) and images.dtype == np.float32
    np.testing.assert_array_equal(images.data[:, 0, 0], [2, 3])
    assert ints.dtype == np.int64 and ints.tolist() == [2, 3]
    assert floats.dtype == np.float32 and floats.tolist() == [1.0, 1.5]  # Python floats -> float32
    assert batches[2][0].shape == (1, 2, 2)


def test_dataloader_plain_sequence_dataset():
    data = [np.array([i, i + 1], dtype=np.float32) for i in range(5)]  # has __getitem__ and __len__
    batches = list(DataLoader(data, batch_size=2))
    assert isinstance(batches[0], Tensor)
    np.testing.assert_array_equal(batches[0].data, [[0, 1], [1, 2]])


def test_dataloader_collate_fn_receives_samples():
    seen = []
    loader = DataLoader(_Pairs(), batch_size=3, collate_fn=lambda s: seen.append(s) or len(s))
    assert list(loader) == [3, 2]
    assert seen[1][0][1] == 3 and seen[1][1][1] == 4


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_dataloader_rejects_bad_batch_size(bad):
    ds, _, _ = _dataset(4)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=bad)


def test_dataloader_rejects_bad_generator():
    ds, _, _ = _dataset(4)
    with pytest.raises(TypeError, match="generator must be"):
        DataLoader(ds, shuffle=True, generator="seed")


def test_dataloader_iterates_mnist_sized_data():
    x = np.zeros((6000, 784), dtype=np.float32)
    ds = TensorDataset(x, np.arange(6000))
    loader = DataLoader(ds, batch_size=10, shuffle=True, generator=0)
    assert len(loader) == 600 and sum(len(y) for _, y in loader) == 6000


# ---------------------------------------------------------------------------- datasets ----
def test_tensordataset_items_and_tensors():
    x = Tensor(np.arange(6, dtype=np.float32).reshape(3, 2))
    ds = TensorDataset(x, [0, 1, 0])
    assert len(ds) == 3
    xi, yi = ds[2]
    assert xi.tolist() == [4.0, 5.0] and yi.item() == 0
    assert ds.tensors[0].data is x.data  # no copy of the whole data set
    assert isinstance(ds.arrays[1], np.ndarray)


def test_tensordataset_first_dimension_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"same first dimension.*\(5, 3\), \(4,\)"):
        TensorDataset(np.zeros((5, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(\)"):
        TensorDataset(np.zeros(()), np.zeros(1))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_dataset_base_requires_methods():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


def test_subset_maps_indices():
    ds, x, _ = _dataset(10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][1].item() == 7
    xb, yb = sub.get_batch(np.array([2, 0]))
    assert yb.tolist() == [5, 7]
    np.testing.assert_array_equal(xb, x[[5, 7]])
    nested = Subset(sub, [2, 1])  # a Subset of a Subset keeps the fast path
    assert nested.get_batch(np.array([0, 1]))[1].tolist() == [5, 2]


# ------------------------------------------------------------------------------ random_split ----
def test_random_split_lengths_disjoint_and_complete():
    ds, _, _ = _dataset(20)
    parts = random_split(ds, [5, 0, 15], generator=0)
    assert [len(p) for p in parts] == [5, 0, 15]
    assert all(isinstance(p, Subset) and p.dataset is ds for p in parts)
    together = np.concatenate([p.indices for p in parts])
    assert sorted(together.tolist()) == list(range(20))
    assert together.tolist() != list(range(20))


@pytest.mark.parametrize("n, fractions, expected", [
    (11, [0.5, 0.3, 0.2], [6, 3, 2]),  # floors 5, 3, 2; the remainder 1 goes to the first
    (10, [0.7, 0.3], [7, 3]),
    (5, [0.25, 0.25, 0.25, 0.25], [2, 1, 1, 1]),
    (3, [1.0], [3]),
    (7, [0.5, 0.5], [4, 3]),
])
def test_random_split_fractions(n, fractions, expected):
    ds, _, _ = _dataset(n)
    parts = random_split(ds, fractions, generator=1)
    assert [len(p) for p in parts] == expected
    assert sorted(np.concatenate([p.indices for p in parts]).tolist()) == list(range(n))


def test_random_split_fraction_counts_match_torch():
    torch = pytest.importorskip("torch")
    data = torch.utils.data.TensorDataset(torch.arange(23))
    for fractions in ([0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [1 / 3] * 3):
        ours = [len(p) for p in random_split(_dataset(23)[0], fractions, generator=0)]
        theirs = [len(p) for p in torch.utils.data.random_split(data, fractions)]
        assert ours == theirs


def test_random_split_reproducible_with_seed():
    ds, _, _ = _dataset(30)
    a = random_split(ds, [10, 20], generator=4)
    b = random_split(ds, [10, 20], generator=4)
    assert a[0].indices.tolist() == b[0].indices.tolist()
    c = random_split(ds, [10, 20], generator=5)
    assert a[0].indices.tolist() != c[0].indices.tolist()


@pytest.mark.parametrize("lengths, message", [
    ([3, 3], r"Sum of input lengths \(6\) does not equal the length of the input dataset \(10\)"),
    ([12, -2], "non-negative ints"),
    ([0.5, 0.4], "fractions summing to 1"),
    ([2.5, 7.5], "fractions summing to 1"),
])
def test_random_split_rejects_bad_lengths(lengths, message):
    ds, _, _ = _dataset(10)
    with pytest.raises(ValueError, match=message):
        random_split(ds, lengths)


# ---------------------------------------------------------------------------- collate ----
def test_default_collate_structures():
    batch = default_collate([{"x": np.ones(3), "name": "a"}, {"x": np.zeros(3), "name": "b"}])
    assert batch["name"] == ["a", "b"]
    np.testing.assert_array_equal(batch["x"], [[1, 1, 1], [0, 0, 0]])
    tensors = default_collate([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])])
    assert isinstance(tensors, np.ndarray) and tensors.dtype == np.float32
    assert default_collate([np.float64(1.5), np.float64(2)]).dtype == np.float64


def test_default_collate_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"different shapes.*\(2,\), \(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="different numbers of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(ValueError, match="at least one sample"):
        default_collate([])
