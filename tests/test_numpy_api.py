"""numpy's dispatch protocols: numpy functions on Tensors run Tensor ops (and differentiate), or
refuse by name when a gradient would be lost; nothing silently leaves the graph."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, gradcheck
from tinygrad_lite.numpy_api import FUNCTIONS, UFUNCS


def _leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_ufuncs_return_tensors_that_differentiate():
    x = _leaf([0.5, 1.0, 2.0])
    out = np.exp(x) * np.sin(x) + np.log(x) - np.sqrt(x) / np.float64(2.0)
    assert isinstance(out, Tensor) and out.requires_grad
    out.sum().backward()
    v = x.data
    expected = np.exp(v) * np.sin(v) + np.exp(v) * np.cos(v) + 1 / v - 0.25 / np.sqrt(v)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


def test_ndarray_operators_with_tensors_give_tensors():
    x = _leaf([1.0, 2.0])
    a = np.array([3.0, 4.0])
    for out in (a * x, a + x, a - x, a / x, a ** x, a @ x, a > x, np.float64(2) * x):
        assert isinstance(out, Tensor)
    assert (a - x).tolist() == [2.0, 2.0] and (a / x).tolist() == [3.0, 2.0]
    assert (np.float32(2) * Tensor([1.0])).dtype == np.float32


@pytest.mark.parametrize("call", [
    lambda x: np.sum(x, axis=0), lambda x: np.mean(x, 1, keepdims=True), lambda x: np.var(x),
    lambda x: np.std(x, axis=0, ddof=1), lambda x: np.max(x, axis=1), lambda x: np.amin(x),
    lambda x: np.prod(x, axis=0), lambda x: np.cumsum(x, axis=1), lambda x: np.cumprod(x),
    lambda x: np.sort(x, axis=0), lambda x: np.median(x, axis=1),
    lambda x: np.concatenate([x, x * 2], axis=1), lambda x: np.concatenate([x, x], axis=None),
    lambda x: np.stack([x, x]), lambda x: np.vstack([x, x]), lambda x: np.hstack([x, x]),
    lambda x: np.where(np.asarray(x) > 2, x, -x), lambda x: np.einsum("ij,kj->ik", x, x),
    lambda x: np.reshape(x, (-1,)), lambda x: np.ravel(x), lambda x: np.transpose(x),
    lambda x: np.swapaxes(x, 0, 1), lambda x: np.moveaxis(x, 0, -1), lambda x: np.flip(x, 1),
    lambda x: np.roll(x, 1), lambda x: np.rot90(x), lambda x: np.repeat(x, 2, axis=0),
    lambda x: np.tile(x, 2), lambda x: np.tril(x), lambda x: np.triu(x, 1), lambda x: np.diag(x),
    lambda x: np.diagonal(x), lambda x: np.trace(x), lambda x: np.outer(x, x),
    lambda x: np.tensordot(x, x, axes=([1], [1])), lambda x: np.dot(x, x.T),
    lambda x: np.clip(x, 1.5, 4.5), lambda x: np.pad(x, 1, mode="reflect"),
    lambda x: np.linalg.norm(x, axis=1), lambda x: np.take_along_axis(x, np.array([[1], [0]]), 1),
    lambda x: np.split(x, [1], axis=1)[1], lambda x: np.squeeze(x[None]),
    lambda x: np.expand_dims(x, 0), lambda x: np.broadcast_to(x, (2, 2, 3)), lambda x: np.diff(x),
    lambda x: np.copy(x), lambda x: np.square(x), lambda x: np.abs(-x), lambda x: np.tanh(x),
    lambda x: np.add.reduce(x, axis=1), lambda x: np.multiply.accumulate(x, axis=0),
    lambda x: np.multiply.outer(x[0], x[1]), lambda x: np.maximum(x, 2.5),
    lambda x: np.meshgrid(x[0], x[1])[1], lambda x: np.nan_to_num(x), lambda x: np.round(x, 1),
])
def test_numpy_functions_match_numpy_and_differentiate(call):
    values = np.array([[1.0, 2.5, 3.3], [4.6, 0.7, 2.2]])  # off the kinks of clip and round
    x = _leaf(values)
    out = call(x)
    assert isinstance(out, Tensor), type(out)
    np.testing.assert_allclose(out.data, np.asarray(call(values.copy())), rtol=1e-12)
    assert gradcheck(call, [x])


def test_numpy_functions_without_a_gradient_return_tensors_or_python_values():
    x = _leaf([[1.0, 5.0], [3.0, 2.0]])
    assert np.argmax(x, axis=1).tolist() == [1, 0]
    assert np.argsort(x, axis=1).tolist() == [[0, 1], [1, 0]]
    assert np.isclose(x, x.data).tolist() == [[True, True], [True, True]]
    assert np.allclose(x, x.data) is True
    assert np.isnan(x).tolist() == [[False, False], [False, False]]
    assert np.shape(x) == (2, 2) and np.ndim(x) == 2 and np.size(x) == 4
    assert np.zeros_like(x).shape == (2, 2) and not np.zeros_like(x).requires_grad
    rows, cols = np.where(x.data > 2)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert [t.tolist() for t in np.where(x > 2)] == [[0, 1], [1, 0]]


def test_unimplemented_numpy_functions_refuse_tensors_that_require_grad():
    x = _leaf([1.0, 2.0])
    for call, name in ((lambda: np.arctan2(x, x), "np.arctan2"),
                       (lambda: np.percentile(x, 50), "np.percentile"),
                       (lambda: np.convolve(x, [1.0, 1.0]), "np.convolve"),
                       (lambda: np.add.at(x, [0], 1.0), "np.add.at")):
        with pytest.raises(TypeError, match=name.replace(".", r"\.")):
            call()
    # nothing requires grad (or grad mode is off): numpy computes on the values, as before
    assert np.percentile(x.detach(), 50) == 1.5
    with tg.no_grad():
        assert np.percentile(x, 50) == 1.5
    counts, _ = np.histogram(Tensor([1.0, 2.0, 2.0]), bins=2)
    assert counts.tolist() == [1, 2]


def test_numpy_arguments_that_would_be_ignored_are_refused():
    x = _leaf([1.0, 2.0])
    for call in (lambda: np.sum(x, out=np.zeros(())), lambda: np.exp(x, out=np.zeros(2)),
                 lambda: np.mean(x, dtype=np.float32), lambda: np.sum(x, where=[True, False]),
                 lambda: np.add(x, x, where=[True, False])):
        with pytest.raises(TypeError, match="not supported on Tensors"):
            call()


def test_asarray_still_gives_the_read_only_view():
    x = _leaf([1.0, 2.0])
    a = np.asarray(x)
    assert isinstance(a, np.ndarray) and not a.flags.writeable
    assert np.shares_memory(a, x.data)
    assert np.array(x).flags.writeable  # a copy


def test_the_tables_name_real_numpy_callables():
    assert all(callable(f) for f in FUNCTIONS) and all(isinstance(u, np.ufunc) for u in UFUNCS)
    assert np.exp in UFUNCS and np.sum in FUNCTIONS and np.einsum in FUNCTIONS
