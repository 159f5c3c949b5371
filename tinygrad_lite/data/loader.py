"""Datasets and the DataLoader: PyTorch's names, numpy inside.

A batch is fetched with one call, `dataset.get_batch(indices)`, that returns numpy arrays; the
DataLoader wraps them in Tensors. TensorDataset (and a Subset of one) answers it by indexing whole
arrays with the batch's index array, so an epoch over MNIST costs a few thousand numpy calls, not
60,000 Python-level item fetches. Any other dataset falls back to `[dataset[i] for i in indices]`
and `default_collate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import rng
from ..tensor import Tensor


class Dataset:
    """Base class for map-style datasets: subclasses define `__getitem__(i)` and `__len__()`.

    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return np.float32(i * i), i
    >>> x, y = next(iter(DataLoader(Squares(), batch_size=4)))
    >>> x, y
    (tensor([0., 1., 4., 9.]), tensor([0, 1, 2, 3]))
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def get_batch(self, indices: np.ndarray) -> Any:
        """The samples at `indices` collated into a batch of numpy arrays (override for speed)."""
        return default_collate([self[int(i)] for i in indices])


class TensorDataset(Dataset):
    """Samples are the rows of tensors (or arrays) that share their first dimension.

    >>> ds = TensorDataset(np.arange(6, dtype=np.float32).reshape(3, 2), np.array([0, 1, 0]))
    >>> len(ds), ds[1]
    (3, (tensor([2., 3.]), tensor(1)))
    """

    def __init__(self, *tensors: Tensor | np.ndarray | Sequence):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor or array")
        arrays = tuple(_as_array(t) for t in tensors)
        shapes = [a.shape for a in arrays]
        if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
            raise ValueError(
                "TensorDataset needs tensors with the same first dimension (one row per sample), "
                f"got shapes {', '.join(map(str, shapes))}"
            )
        self.arrays = arrays
        self.tensors = tuple(Tensor(a) for a in arrays)

    def __getitem__(self, index: int) -> tuple:
        return tuple(Tensor(a[index]) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def get_batch(self, indices: np.ndarray) -> tuple:
        """Each array indexed with the whole index array at once (a copy, never a view)."""
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order.

    >>> sub = Subset(TensorDataset(np.arange(5)), [4, 0])
    >>> len(sub), sub[0]
    (2, (tensor(4),))
    """

    def __init__(self, dataset: Dataset | Sequence, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices: np.ndarray) -> Any:
        """The underlying dataset's batch at the mapped indices (its fast path if it has one)."""
        return _fetch(self.dataset, self.indices[indices])


class DataLoader:
    """Iterate over a dataset in batches of Tensors, reshuffled every epoch when `shuffle=True`.

    `generator`: a numpy Generator, an int seed (the loader keeps one Generator seeded with it, so
    two loaders with the same seed give the same epochs) or None (the package's generator,
    `tinygrad_lite.manual_seed`). A TensorDataset yields a tuple of Tensors per batch; other
    datasets yield their samples stacked by `collate_fn` (default: `default_collate`, numpy arrays
    and numbers become Tensors, tuples and dicts keep their structure).

    >>> ds = TensorDataset(np.arange(10.0), np.arange(10))
    >>> [len(x) for x, y in DataLoader(ds, batch_size=4)]
    [4, 4, 2]
    >>> len(DataLoader(ds, batch_size=4, drop_last=True))
    2
    >>> x, y = next(iter(DataLoader(ds, batch_size=3, shuffle=True, generator=0)))
    >>> sorted(y.tolist()) == sorted(x.data.astype(int).tolist())
    True
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | int | None = None,
        collate_fn: Callable[[list], Any] | None = None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # NOTE: an int seed is turned into a Generator once, here: each epoch then draws the next
        # permutation from it (a new order every epoch, the same sequence for the same seed).
        self.generator = None if generator is None else rng.resolve(generator)
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator:
        n = len(self.dataset)
        order = rng.resolve(self.generator).permutation(n) if self.shuffle else np.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            indices = order[start:start + self.batch_size]
            if self.collate_fn is not None:
                yield self.collate_fn([self.dataset[int(i)] for i in indices])
            else:
                yield _to_tensors(_fetch(self.dataset, indices))

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size="
                f"{self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})")


def random_split(dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split a dataset into disjoint random Subsets of given lengths, or fractions summing to 1.

    Fractions are floored to counts and the remainder is dealt one by one from the first subset,
    as PyTorch does.

    >>> a, b = random_split(TensorDataset(np.arange(10)), [0.7, 0.3], generator=0)
    >>> len(a), len(b), sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(10))
    (7, 3, True)
    """
    n = len(dataset)
    lengths = list(lengths)
    total = sum(lengths)
    if lengths and all(0 <= f <= 1 for f in lengths) and math.isclose(total, 1) and total <= 1 \
            and any(isinstance(f, float) for f in lengths):
        counts = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        if any(isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 0
               for f in lengths):
            raise ValueError(f"random_split lengths must be non-negative ints summing to {n} or "
                             f"fractions summing to 1, got {lengths}")
        if total != n:
            raise ValueError(f"Sum of input lengths ({total}) does not equal the length of the "
                             f"input dataset ({n})")
        counts = [int(f) for f in lengths]
    order = rng.resolve(generator).permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def default_collate(samples: Sequence) -> Any:
    """Stack a list of samples into a batch: arrays, Tensors and numbers become one array per
    field, tuples/lists and dicts keep their structure, strings become a list.

    >>> default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
    (array([[0., 0.],
           [1., 1.]]), array([1, 0]))
    """
    if len(samples) == 0:
        raise ValueError("default_collate needs at least one sample")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError(f"cannot collate samples with different numbers of fields: "
                             f"{sorted({len(s) for s in samples})}")
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, str):
        return list(samples)
    arrays = [s.data if isinstance(s, Tensor) else s for s in samples]
    if isinstance(first, (bool, int, float)) and not isinstance(first, np.generic):
        return Tensor(arrays).data  # NOTE: Python floats become float32, as in Tensor([...])
    shapes = {np.shape(a) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"cannot collate samples of different shapes into one batch: "
                         f"{sorted(shapes)}; pad or resize them, or pass a collate_fn")
    return np.stack([np.asarray(a) for a in arrays])


def _as_array(t) -> np.ndarray:
    """The ndarray behind a Tensor, an ndarray itself, or a list converted as Tensor() would."""
    if isinstance(t, Tensor):
        return t.data
    if isinstance(t, np.ndarray):
        return t
    return Tensor(t).data


def _fetch(dataset, indices: np.ndarray) -> Any:
    """One batch of numpy arrays: the dataset's own `get_batch`, else item by item."""
    get_batch = getattr(dataset, "get_batch", None)
    if get_batch is not None:
        return get_batch(indices)
    return default_collate([dataset[int(i)] for i in indices])


def _to_tensors(batch: Any) -> Any:
    """Wrap every array in a (collated) batch in a Tensor, keeping tuples and dicts."""
    if isinstance(batch, tuple):
        return tuple(_to_tensors(b) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_tensors(v) for k, v in batch.items()}
    if isinstance(batch, np.ndarray):
        return Tensor(batch)
    return batch
