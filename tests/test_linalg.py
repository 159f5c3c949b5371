"""tinygrad_lite.linalg: Strassen's matrix multiplication built from Tensor ops."""

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite.linalg import strassen_matmul

SHAPES = [(16, 16, 16), (8, 8, 8), (5, 7, 3), (17, 9, 13), (33, 65, 7), (31, 20, 45), (64, 1, 64)]


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-4), (np.float64, 1e-11)])
@pytest.mark.parametrize("n,k,m", SHAPES)
def test_strassen_matmul_matches_numpy(n, k, m, dtype, tol):
    rng = np.random.default_rng(n * 1000 + k * 10 + m)
    a = rng.standard_normal((n, k)).astype(dtype)
    b = rng.standard_normal((k, m)).astype(dtype)
    c = strassen_matmul(tg.Tensor(a), tg.Tensor(b), leaf_size=2)
    assert c.shape == (n, m)
    assert c.dtype == dtype
    expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c.numpy(), expected, rtol=tol, atol=tol * np.sqrt(k))


def test_strassen_matmul_accepts_arrays_and_default_leaf():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((130, 70)), rng.standard_normal((70, 129))
    stats = {}
    c = strassen_matmul(a, b, stats=stats)  # leaf_size=64: 130x70x129 -> one level, 7 leaves
    np.testing.assert_allclose(c.numpy(), a @ b, rtol=1e-12, atol=1e-12)
    assert stats == {"leaf_matmuls": 7, "depth": 1}


@pytest.mark.parametrize("k,expected", [(1, 7), (2, 49), (3, 343), (4, 2401)])
def test_strassen_matmul_leaf_count_is_7_to_the_k(k, expected):
    n = 2 ** (k + 1)  # leaf_size=2 stops at 2x2 blocks: k levels of recursion
    stats = {}
    strassen_matmul(tg.ones(n, n), tg.ones(n, n), leaf_size=2, stats=stats)
    assert stats["leaf_matmuls"] == expected == 7 ** k
    assert stats["depth"] == k


def test_strassen_matmul_stats_accumulate_across_calls():
    stats = {}
    strassen_matmul(tg.ones(16, 16), tg.ones(16, 16), leaf_size=2, stats=stats)
    strassen_matmul(tg.ones(4, 4), tg.ones(4, 4), leaf_size=4, stats=stats)  # leaf at once
    assert stats["leaf_matmuls"] == 343 + 1


def test_strassen_matmul_falls_back_below_leaf_size():
    stats = {}
    c = strassen_matmul(tg.ones(100, 3), tg.ones(3, 200), leaf_size=4, stats=stats)
    assert stats == {"leaf_matmuls": 1, "depth": 0}
    np.testing.assert_array_equal(c.numpy(), np.full((100, 200), 3.0, dtype=np.float32))


@pytest.mark.parametrize("n,k,m", [(4, 4, 4), (5, 3, 6), (7, 7, 2)])
def test_strassen_matmul_gradcheck(n, k, m):
    rng = np.random.default_rng(n + k + m)
    a = tg.Tensor(rng.standard_normal((n, k)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal((k, m)), requires_grad=True)
    assert tg.gradcheck(lambda x, y: strassen_matmul(x, y, leaf_size=1), [a, b])


def test_strassen_matmul_gradients_equal_matmul_gradients():
    rng = np.random.default_rng(3)
    a_np, b_np = rng.standard_normal((9, 6)), rng.standard_normal((6, 11))
    g_np = rng.standard_normal((9, 11))
    a = tg.Tensor(a_np, requires_grad=True)
    b = tg.Tensor(b_np, requires_grad=True)
    strassen_matmul(a, b, leaf_size=2).backward(tg.Tensor(g_np))
    np.testing.assert_allclose(a.grad.numpy(), g_np @ b_np.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), a_np.T @ g_np, rtol=1e-12, atol=1e-12)


def test_strassen_matmul_gradgradcheck():
    rng = np.random.default_rng(4)
    a = tg.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert tg.gradgradcheck(lambda x, y: strassen_matmul(x, y, leaf_size=1), [a, b])


def test_strassen_matmul_under_no_grad_records_nothing():
    a = tg.randn(8, 8, requires_grad=True)
    with tg.no_grad():
        c = strassen_matmul(a, a, leaf_size=2)
    assert c._ctx is None and not c.requires_grad


@pytest.mark.parametrize(
    "a_shape,b_shape,match",
    [((3, 4), (5, 2), "do not align"), ((3,), (3, 2), "2-D"), ((2, 3, 3), (3, 3), "2-D")],
)
def test_strassen_matmul_rejects_bad_shapes(a_shape, b_shape, match):
    with pytest.raises(ValueError, match=match):
        strassen_matmul(tg.ones(*a_shape), tg.ones(*b_shape))


@pytest.mark.parametrize("leaf_size", [0, -1, 2.5])
def test_strassen_matmul_rejects_bad_leaf_size(leaf_size):
    with pytest.raises(ValueError, match="leaf_size"):
        strassen_matmul(tg.ones(4, 4), tg.ones(4, 4), leaf_size=leaf_size)
