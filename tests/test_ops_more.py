"""Issue 10's ops at their edges, against PyTorch where it is installed (the op table checks
forward values, gradients and second derivatives on random inputs; this file checks the cases a
random draw does not reach: zeros in products, repeated scatter indices, ties, NaN, masks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, gradcheck, gradgradcheck


def _leaf(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def _grad_of(fn, values, upstream=None):
    x = _leaf(values)
    out = fn(x)
    out.backward(Tensor(np.ones(out.shape) if upstream is None else upstream))
    return out.data, x.grad.data


def _torch_grad_of(fn, values, upstream=None):
    torch = pytest.importorskip("torch")
    x = torch.tensor(np.array(values, dtype=np.float64), requires_grad=True)
    out = fn(x)
    out.backward(torch.ones_like(out) if upstream is None else torch.tensor(upstream))
    return out.detach().numpy(), x.grad.numpy()


# ------------------------------------------------------------------ against PyTorch ----
ACTIVATIONS = [
    ("gelu", lambda t: t.gelu(), lambda F, t: F.gelu(t)),
    ("gelu_tanh", lambda t: t.gelu("tanh"), lambda F, t: F.gelu(t, approximate="tanh")),
    ("silu", lambda t: t.silu(), lambda F, t: F.silu(t)),
    ("mish", lambda t: t.mish(), lambda F, t: F.mish(t)),
    ("elu", lambda t: t.elu(0.5), lambda F, t: F.elu(t, 0.5)),
    ("selu", lambda t: t.selu(), lambda F, t: F.selu(t)),
    ("relu6", lambda t: t.relu6(), lambda F, t: F.relu6(t)),
    ("hardtanh", lambda t: t.hardtanh(-2.0, 1.0), lambda F, t: F.hardtanh(t, -2.0, 1.0)),
    ("hardsigmoid", lambda t: t.hardsigmoid(), lambda F, t: F.hardsigmoid(t)),
    ("softsign", lambda t: t.softsign(), lambda F, t: F.softsign(t)),
    ("logsigmoid", lambda t: t.logsigmoid(), lambda F, t: F.logsigmoid(t)),
    ("erf", lambda t: t.erf(), lambda F, t: t.erf()),
    ("log1p", lambda t: (t + 4).log1p(), lambda F, t: (t + 4).log1p()),
    ("expm1", lambda t: t.expm1(), lambda F, t: t.expm1()),
    ("sinh", lambda t: t.sinh(), lambda F, t: t.sinh()),
    ("remainder", lambda t: t % 1.5, lambda F, t: t.remainder(1.5)),
]
# the kinks (0, +-1, +-3, 6, -2) and far tails included: the gradient at a kink must be PyTorch's
EDGE_VALUES = [-1000.0, -30.0, -6.0, -3.0, -2.0, -1.0, -0.5, 0.0, 1e-8, 0.5, 1.0, 3.0, 6.0, 7.0,
               30.0, 1000.0]


@pytest.mark.parametrize("name, ours, theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_values_and_gradients_match_torch_at_edges(name, ours, theirs):
    torch = pytest.importorskip("torch")
    value, grad = _grad_of(ours, EDGE_VALUES)
    t_value, t_grad = _torch_grad_of(lambda t: theirs(torch.nn.functional, t), EDGE_VALUES)
    np.testing.assert_allclose(value, t_value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-7, atol=1e-12)  # torch: 1/6 in float32


def test_activations_keep_float32():
    x = Tensor(np.linspace(-4, 4, 9, dtype=np.float32))
    for fn in ("gelu", "silu", "mish", "elu", "selu", "relu6", "hardtanh", "hardsigmoid",
               "hardswish", "softsign", "logsigmoid", "erf", "sinh", "cosh", "tan", "log1p"):
        assert getattr(x, fn)().dtype == np.float32, fn
    assert x.gelu("tanh").dtype == np.float32
    assert tg.scaled_dot_product_attention(x.reshape(3, 3), x.reshape(3, 3),
                                           x.reshape(3, 3)).dtype == np.float32


@pytest.mark.parametrize("values", [
    [2.0, 0.0, 3.0, -1.5], [0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0], [1.5, 2.0, -3.0, 0.5],
    [0.0, 1.0, 2.0, 0.0, 5.0, 0.0],
])
def test_prod_and_cumprod_gradients_with_zeros_match_torch(values):
    torch = pytest.importorskip("torch")
    up = np.arange(1.0, len(values) + 1)
    for ours, theirs in ((lambda t: t.prod(), lambda t: t.prod()),
                         (lambda t: t.cumprod(0), lambda t: t.cumprod(0))):
        value, grad = _grad_of(ours, values, up if ours(Tensor([1.0])).ndim else None)
        t_value, t_grad = _torch_grad_of(theirs, values, up if value.ndim else None)
        np.testing.assert_allclose(value, t_value, rtol=1e-12)
        np.testing.assert_allclose(grad, t_grad, rtol=1e-12, atol=1e-12)
    del torch


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, -1.5], [0.0, 2.0, 0.0, 3.0],
                                    [0.0, 0.0, 1.5, 0.0], [1.5, 2.0, -3.0, 0.5]])
def test_prod_and_cumprod_second_derivatives_with_zeros_are_exact(values):
    """Products are polynomials, so central differences are exact enough at zeros too."""
    x = _leaf(values)
    assert gradgradcheck(lambda t: t.cumprod(0), [x])
    assert gradgradcheck(lambda t: t.prod(), [x])
    assert gradgradcheck(lambda t: t.reshape(2, 2).prod(axis=1), [x])


def test_prod_of_empty_axes_and_integers():
    assert Tensor.zeros(2, 0).prod(axis=1).tolist() == [1.0, 1.0]
    assert Tensor([[1, 2], [3, 4]]).prod().item() == 24
    assert Tensor([[1, 2], [3, 4]]).prod().dtype == np.prod(np.array([[1, 2]])).dtype
    assert Tensor(np.float32(3.0)).prod().item() == 3.0


def test_scatter_repeated_index_last_write_wins_and_only_it_gets_a_gradient():
    x = _leaf(np.zeros((2, 3)))
    src = _leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    index = np.array([[0, 0, 2], [1, 1, 1]])
    out = x.scatter(1, index, src)
    assert out.tolist() == [[2.0, 0.0, 3.0], [0.0, 6.0, 0.0]]
    out.backward(Tensor(np.arange(1.0, 7.0).reshape(2, 3)))
    assert src.grad.tolist() == [[0.0, 1.0, 3.0], [0.0, 0.0, 5.0]]
    assert x.grad.tolist() == [[0.0, 2.0, 0.0], [4.0, 0.0, 6.0]]
    assert x.scatter(1, index, 7.0).tolist() == [[7.0, 0.0, 7.0], [0.0, 7.0, 0.0]]


def test_scatter_add_and_index_add_accumulate_repeats_like_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    base, src = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    index = np.array([[0, 2, 0, 1], [0, 0, 2, 1]])
    up = rng.standard_normal((3, 4))
    s = _leaf(src)
    out = _leaf(base).scatter_add(0, index, s)
    out.backward(Tensor(up))
    ts = torch.tensor(src, requires_grad=True)
    t_out = torch.tensor(base).scatter_add(0, torch.tensor(index), ts)
    t_out.backward(torch.tensor(up))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(s.grad.data, ts.grad.numpy(), rtol=1e-12)

    idx = np.array([2, 0, 2, 2])
    s = _leaf(rng.standard_normal((3, 4)))
    out = _leaf(base).index_add(1, idx, s, alpha=0.5)
    out.backward(Tensor(up))
    ts = torch.tensor(s.data, requires_grad=True)
    t_out = torch.tensor(base).index_add(1, torch.tensor(idx), ts, alpha=0.5)
    t_out.backward(torch.tensor(up))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(s.grad.data, ts.grad.numpy(), rtol=1e-12)


def test_gather_and_scatter_refuse_bad_indices():
    x = Tensor.ones(2, 3)
    with pytest.raises(IndexError, match="index 3 is out of range"):
        x.gather(1, np.array([[3]]))
    with pytest.raises(IndexError, match="out of range"):
        x.gather(1, np.array([[-1]]))
    with pytest.raises(TypeError, match="integer"):
        x.gather(1, np.array([[0.5]]))
    with pytest.raises(ValueError, match="number of dimensions"):
        x.gather(1, np.array([0]))
    with pytest.raises(np.exceptions.AxisError):
        x.gather(2, np.array([[0]]))
    with pytest.raises(ValueError, match="src"):
        x.scatter_add(1, np.array([[0, 1]]), Tensor.ones(1, 1))


def test_sort_argsort_topk_cummax_match_torch_with_ties_and_nan():
    torch = pytest.importorskip("torch")
    values = np.array([[3.0, 1.0, 3.0, np.nan, -2.0, 1.0], [0.0, 0.0, 5.0, -1.0, 5.0, 2.0]])
    x, t = Tensor(values), torch.tensor(values)
    for descending in (False, True):
        sv, si = t.sort(dim=1, descending=descending, stable=True)
        np.testing.assert_array_equal(x.sort(1, descending=descending).data, sv.numpy())
        np.testing.assert_array_equal(x.argsort(1, descending=descending).data, si.numpy())
        ours = x.sort(dim=1, descending=descending)  # PyTorch's spelling: (values, indices)
        np.testing.assert_array_equal(ours.indices.data, si.numpy())
    finite = np.nan_to_num(values, nan=4.0)
    for name in ("cummax", "cummin"):
        ours, theirs = getattr(Tensor(finite), name)(1), getattr(torch.tensor(finite), name)(1)
        np.testing.assert_array_equal(ours.values.data, theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    top = Tensor(finite).topk(3, axis=1)
    np.testing.assert_array_equal(top.values.data, torch.tensor(finite).topk(3, 1).values.numpy())


def test_cummax_gradient_goes_to_the_running_maximum():
    x = _leaf([1.0, 3.0, 2.0, 5.0])
    x.cummax(0).values.sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 0.0, 1.0]


def test_median_is_numpy_by_default_and_torch_with_dim():
    torch = pytest.importorskip("torch")
    values = np.array([[4.0, 1.0, 3.0, 2.0], [1.0, np.nan, 0.0, 2.0]])
    np.testing.assert_array_equal(Tensor(values).median(axis=1).data, np.median(values, axis=1))
    assert np.isnan(Tensor(values).median().item())
    ours, theirs = Tensor(values).median(dim=1), torch.tensor(values).median(dim=1)
    np.testing.assert_array_equal(ours.values.data, theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    x = _leaf([4.0, 1.0, 3.0, 2.0])
    x.median().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.5, 0.5]  # the two middle values share it


def test_norm_gradient_at_zero_is_zero_and_ords_match_numpy():
    x = _leaf([0.0, 0.0])
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    m = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, 0.5]])
    for ord_ in (None, "fro", 1, -1, np.inf, -np.inf):
        assert np.isclose(Tensor(m).norm(ord_).item(), np.linalg.norm(m, ord_)), ord_
    for ord_ in (None, 0, 1, 2, 3, np.inf, -np.inf):
        np.testing.assert_allclose(Tensor(m).norm(ord_, axis=1).data,
                                   np.linalg.norm(m, ord_, axis=1))
    with pytest.raises(ValueError, match="SVD"):
        Tensor(m).norm(2)


def test_einsum_matches_numpy_on_many_subscripts_and_gradchecks():
    rng = np.random.default_rng(1)
    cases = [
        ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]),
        ("ij->", [(2, 3)]), ("ij", [(2, 3)]), ("ji", [(2, 3)]), ("i,i", [(3,), (3,)]),
        ("i,j->ij", [(2,), (3,)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
        ("b...i,bi->b...", [(2, 3, 4), (2, 4)]), ("iij->ij", [(2, 2, 3)]),
        ("ij,ij->ij", [(1, 3), (2, 3)]), ("bij,bjk,bkl->bil", [(2, 2, 3), (2, 3, 2), (2, 2, 2)]),
        ("ijk,jil->kl", [(2, 3, 2), (3, 2, 2)]), ("i->", [(0,)]), (",i->i", [(), (3,)]),
    ]
    for spec, shapes in cases:
        arrays = [rng.standard_normal(s) for s in shapes]
        out = tg.einsum(spec, *[Tensor(a) for a in arrays])
        np.testing.assert_allclose(out.data, np.einsum(spec, *arrays), rtol=1e-12, atol=1e-12,
                                   err_msg=spec)
        leaves = [_leaf(a) for a in arrays]
        if all(a.size for a in arrays):
            assert gradcheck(lambda *xs, spec=spec: tg.einsum(spec, *xs), leaves), spec
            assert gradgradcheck(lambda *xs, spec=spec: tg.einsum(spec, *xs), leaves), spec
    for spec, shapes, message in (("ij,jk->ik", [(2, 3), (4, 2)], "sizes"),
                                  ("ij->k", [(2, 3)], "output"), ("ij", [(2,)], "axes"),
                                  ("i$", [(2, 2)], "invalid")):
        with pytest.raises(ValueError, match=message):
            tg.einsum(spec, *[Tensor.ones(*s) for s in shapes])


def test_tensordot_outer_trace_diag_against_numpy():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 5))
    for axes in (1, ([1, 2], [1, 0]), 0):
        np.testing.assert_allclose(Tensor(a).tensordot(Tensor(b), axes if axes else 0).data
                                   if axes != 1 else Tensor(a).tensordot(Tensor(b), 1).data,
                                   np.tensordot(a, b, axes), rtol=1e-12)
    m = rng.standard_normal((3, 5))
    for k in (-2, 0, 3, 7):
        np.testing.assert_array_equal(Tensor(m).diag(k).data, np.diag(m, k))
        np.testing.assert_array_equal(Tensor(m[0]).diag(k).data, np.diag(m[0], k))
        np.testing.assert_allclose(Tensor(m).trace(k).data, np.trace(m, k))


def test_pad_modes_match_torch_and_crop():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.arange(2 * 3 * 4.0).reshape(1, 2, 3, 4)
    for ours, theirs in (("reflect", "reflect"), ("replicate", "replicate"), ("edge", "replicate"),
                         ("circular", "circular"), ("wrap", "circular")):
        got = Tensor(x).pad(((0, 0), (0, 0), (2, 1), (1, 3)), mode=ours)
        want = F.pad(torch.tensor(x), (1, 3, 2, 1), mode=theirs)
        np.testing.assert_array_equal(got.data, want.numpy(), err_msg=ours)
    got = Tensor(x).pad(((0, 0), (0, 0), (-1, 2), (1, -2)), constant_values=-1.0)
    want = F.pad(torch.tensor(x), (1, -2, -1, 2), value=-1.0)
    np.testing.assert_array_equal(got.data, want.numpy())
    with pytest.raises(ValueError, match="mode"):
        Tensor(x).pad(1, mode="mean")
    with pytest.raises(ValueError, match="crop more"):
        Tensor(x).pad(((0, 0), (0, 0), (-2, -2), (0, 0)))


def test_sdpa_matches_torch_with_masks_and_fully_masked_rows():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 6)))
    bool_mask = rng.random((3, 5)) > 0.4
    bool_mask[1] = False  # a query that may see no key: zeros, as torch
    float_mask = rng.standard_normal((3, 5))
    up = rng.standard_normal((2, 3, 6))
    for kwargs in ({}, {"is_causal": True}, {"attn_mask": bool_mask}, {"attn_mask": float_mask},
                   {"scale": 0.3}):
        ours = [_leaf(a) for a in (q, k, v)]
        out = tg.scaled_dot_product_attention(*ours, **kwargs)
        out.backward(Tensor(up))
        theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        t_kwargs = {key: torch.tensor(val) if isinstance(val, np.ndarray) else val
                    for key, val in kwargs.items()}
        t_out = F.scaled_dot_product_attention(*theirs, **t_kwargs)
        t_out.backward(torch.tensor(up))
        np.testing.assert_allclose(out.data, t_out.detach().numpy(), atol=1e-12)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.data, b.grad.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="not both"):
        tg.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), attn_mask=bool_mask,
                                        is_causal=True)


def test_sdpa_dropout_is_reproducible_and_scaled():
    q = Tensor.ones(1, 4, 2)
    g = np.random.default_rng(0)
    out = tg.scaled_dot_product_attention(q, q, Tensor.ones(1, 4, 2), dropout_p=0.5, generator=g)
    assert set(np.round(out.data.ravel(), 6)) <= {0.0, 0.5, 1.0, 1.5, 2.0}


# ---------------------------------------------------------------- elementwise edges ----
def test_rounding_ops_have_zero_gradient_and_stay_in_the_graph():
    x = _leaf([-1.5, -0.5, 0.5, 2.7])
    for name in ("sign", "floor", "ceil", "round", "trunc"):
        out = getattr(x, name)()
        assert out.requires_grad, name
        (out * 3 + x).sum().backward()
        assert x.grad.tolist() == [1.0] * 4, name
        x.grad = None
    assert Tensor([0.25, 0.35]).round(1).tolist() == list(np.round([0.25, 0.35], 1).astype(
        np.float32))
    assert (x // 2).requires_grad and (3.0 // x).requires_grad
    assert Tensor([7, -7]).__floordiv__(2).tolist() == [3, -4]
    assert (Tensor([7, -7]) % 3).tolist() == [1, 2]
    assert np.isnan(Tensor([np.nan]).sign().item())


def test_remainder_gradient_wrt_divisor_is_minus_floor():
    x, y = _leaf([5.0, -5.0]), _leaf([3.0, 3.0])
    (x % y).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [-1.0, 2.0]


def test_integer_bit_operators_and_float_refusal():
    a, b = Tensor([5, 6]), Tensor([3, 1])
    assert (a ^ b).tolist() == [6, 7]
    assert (a << 1).tolist() == [10, 12] and (a >> b).tolist() == [0, 3]
    assert (1 << a).tolist() == [32, 64] and (3 ^ a).tolist() == [6, 5]
    assert (True & Tensor([True, False])).tolist() == [True, False]
    with pytest.raises(TypeError, match="integer"):
        Tensor([1.0]) ^ 1


def test_log2_and_log10_are_exact_at_powers():
    k = np.arange(-126, 127)
    np.testing.assert_array_equal(Tensor(np.ldexp(np.float32(1), k).astype(np.float32)).log2().data,
                                  k.astype(np.float32))
    np.testing.assert_array_equal(Tensor(10.0 ** np.arange(-20, 20)).log10().data,
                                  np.log10(10.0 ** np.arange(-20, 20)))


def test_erf_without_scipy_uses_math_erf(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy.special", None)  # import fails, as if not installed
    x = np.array([-3.0, -0.5, 0.0, 0.2, 4.0], dtype=np.float32)
    out = Tensor(x).erf()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, [math.erf(v) for v in x], rtol=1e-6)


def test_inverse_trig_edges_follow_numpy():
    with np.errstate(invalid="ignore"):
        assert np.isnan(Tensor([1.5]).arcsin().item())
    x = _leaf([1.0, 0.0])
    x.arcsin().backward(Tensor([0.0, 1.0]))  # a zero upstream gradient at the infinite slope
    assert x.grad.tolist() == [0.0, 1.0]
    assert x.arctan().allclose(np.arctan([1.0, 0.0]))


def test_isclose_allclose_nan_to_num():
    a = Tensor([1.0, np.nan, 3.0])
    assert a.isclose([1.0 + 1e-9, np.nan, 3.1]).tolist() == [True, False, False]
    assert a.isclose(Tensor([1.0, np.nan, 3.0]), equal_nan=True).tolist() == [True, True, True]
    assert not a.allclose([1.0, np.nan, 3.0]) and a.allclose([1.0, np.nan, 3.0], equal_nan=True)
    x = _leaf([np.nan, np.inf, -np.inf, 2.0])
    out = x.nan_to_num(nan=1.0, posinf=9.0, neginf=-9.0)
    assert out.tolist() == [1.0, 9.0, -9.0, 2.0]
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_movement_ops_against_numpy():
    m = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(m)
    np.testing.assert_array_equal(t.roll(5).data, np.roll(m, 5))
    np.testing.assert_array_equal(t.roll(-7, axis=2).data, np.roll(m, -7, axis=2))
    for k in range(-3, 5):
        np.testing.assert_array_equal(t.rot90(k, (1, 2)).data, np.rot90(m, k, (1, 2)))
    np.testing.assert_array_equal(t.tile((2, 1, 1, 2)).data, np.tile(m, (2, 1, 1, 2)))
    np.testing.assert_array_equal(t.tile(()).data, np.tile(m, ()))
    np.testing.assert_array_equal(t.repeat(2, axis=1).data, np.repeat(m, 2, axis=1))
    np.testing.assert_array_equal(t.tril(-1).data, np.tril(m, -1))
    np.testing.assert_array_equal(t.triu(2).data, np.triu(m, 2))
    np.testing.assert_array_equal(t.diagonal(1, 1, 2).data, np.diagonal(m, 1, 1, 2))
    np.testing.assert_array_equal(t.take_along_axis(np.array([[[2]], [[0]]]), 1).data,
                                  np.take_along_axis(m, np.array([[[2]], [[0]]]), 1))
    with pytest.raises(ValueError, match="non-negative"):
        t.repeat(-1)


def test_linspace_and_meshgrid():
    assert tg.linspace(0, 1, 5).dtype == np.float32
    np.testing.assert_allclose(tg.linspace(-1, 1, 4, endpoint=False).data,
                               np.linspace(-1, 1, 4, endpoint=False))
    a, b, c = Tensor([1.0, 2.0]), Tensor([3.0, 4.0, 5.0]), Tensor([6.0])
    for indexing in ("xy", "ij"):
        for ours, want in zip(tg.meshgrid(a, b, c, indexing=indexing),
                              np.meshgrid(a.data, b.data, c.data, indexing=indexing)):
            np.testing.assert_array_equal(ours.data, want)
    with pytest.raises(ValueError, match="indexing"):
        tg.meshgrid(a, indexing="yx")


# ---------------------------------------------------------------- PyTorch spellings ----
def test_dim_and_keepdim_are_aliases_everywhere():
    m = np.arange(12.0).reshape(3, 4)
    t = Tensor(m)
    np.testing.assert_array_equal(t.sum(dim=1, keepdim=True).data, m.sum(1, keepdims=True))
    np.testing.assert_array_equal(t.mean(dim=0).data, m.mean(0))
    np.testing.assert_array_equal(t.argmax(dim=1).data, m.argmax(1))
    np.testing.assert_array_equal(t.cumsum(dim=0).data, m.cumsum(0))
    np.testing.assert_array_equal(t.flip(dims=(1,)).data, np.flip(m, 1))
    np.testing.assert_array_equal(t.softmax(dim=0).data, Tensor(m).softmax(axis=0).data)
    np.testing.assert_array_equal(t.unsqueeze(dim=0).shape, (1, 3, 4))
    np.testing.assert_array_equal(t.prod(dim=1).data, m.prod(1))
    assert t.any(dim=1).tolist() == [True, True, True]
    assert tg.flatten(Tensor.ones(2, 3, 4), 1).shape == (2, 12)
    a = Tensor.ones(2, 3)
    assert tg.stack([a, a], dim=1).shape == (2, 2, 3) and Tensor.stack([a, a], dim=2).shape == (2, 3, 2)
    assert tg.cat([a, a], dim=1).shape == (2, 6) and tg.concatenate([a, a], dim=-1).shape == (2, 6)
    with pytest.raises(TypeError, match="both dim= and axis="):
        Tensor.cat([a, a], 1, dim=1)
    assert tg.sum(m, dim=0).tolist() == m.sum(0).tolist()
    with pytest.raises(TypeError, match="both dim= and axis="):
        t.sum(dim=0, axis=1)
    with pytest.raises(TypeError, match="both keepdim= and keepdims="):
        t.mean(dim=0, keepdim=True, keepdims=True)


def test_torch_spellings_mean_what_torch_means():
    torch = pytest.importorskip("torch")
    m = np.random.default_rng(4).standard_normal((3, 4))
    t, tt = Tensor(m), torch.tensor(m)
    values, indices = t.max(dim=1)
    np.testing.assert_array_equal(values.data, tt.max(dim=1).values.numpy())
    np.testing.assert_array_equal(indices.data, tt.max(dim=1).indices.numpy())
    np.testing.assert_array_equal(t.min(dim=0, keepdim=True).indices.data,
                                  tt.min(dim=0, keepdim=True).indices.numpy())
    np.testing.assert_allclose(t.var(dim=1).data, tt.var(dim=1).numpy())  # correction=1
    np.testing.assert_allclose(t.std(dim=0, correction=0).data, tt.std(dim=0, correction=0).numpy())
    np.testing.assert_allclose(t.var(unbiased=False).data, tt.var(unbiased=False).numpy())
    np.testing.assert_allclose(t.var().data, m.var())  # numpy's spelling keeps numpy's ddof=0
    x3 = np.arange(24.0).reshape(2, 3, 4)
    assert Tensor(x3).transpose(0, 2).shape == torch.tensor(x3).transpose(0, 2).shape
    np.testing.assert_array_equal(Tensor(x3).transpose(2, 0).data,
                                  torch.tensor(x3).transpose(2, 0).numpy())
    np.testing.assert_allclose(t.add(t, alpha=2).data, tt.add(tt, alpha=2).numpy())
    np.testing.assert_allclose(t.div(0.3, rounding_mode="trunc").data,
                               tt.div(0.3, rounding_mode="trunc").numpy())
    np.testing.assert_allclose(t.div(0.3, rounding_mode="floor").data,
                               tt.div(0.3, rounding_mode="floor").numpy())
    mask = m > 0
    np.testing.assert_array_equal(t.masked_fill(Tensor(mask), -1.0).data,
                                  tt.masked_fill(torch.tensor(mask), -1.0).numpy())
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        np.testing.assert_array_equal(getattr(t, name)(0.1).data, getattr(tt, name)(0.1).numpy())
    assert t.reshape_as(Tensor.ones(4, 3)).shape == (4, 3)
    assert Tensor.ones(1, 4).expand_as(t).shape == (3, 4)
    assert Tensor([1, 2]).type_as(t).dtype == np.float64


def test_devices():
    t = Tensor([1.0])
    assert t.device == "cpu" and t.device == tg.device("cpu:0") and repr(t.device) == \
        "device(type='cpu')"
    assert t.cpu() is t and t.to("cpu") is t and t.to(tg.device("cpu")) is t
    assert t.to(np.float64).dtype == np.float64 and t.to("cpu", "float64").dtype == np.float64
    assert t.to(Tensor([1], dtype="int32")).dtype == np.int32
    assert t.to(dtype=tg.float16).dtype == np.float16
    for bad in ("cuda", "cuda:0", "mps", "cpu:1"):
        with pytest.raises(RuntimeError, match="only device"):
            t.to(bad)
        with pytest.raises(RuntimeError, match="only device"):
            tg.device(bad)
    with pytest.raises(TypeError, match="unexpected"):
        t.to("cpu", memory_format=None)


def test_masked_fill_refuses_non_boolean_masks_and_bad_shapes():
    with pytest.raises(TypeError, match="boolean"):
        Tensor.ones(2).masked_fill(Tensor([1, 0]), 0.0)
    with pytest.raises(ValueError, match="broadcast"):
        Tensor.ones(2).masked_fill(np.ones((3, 2), dtype=bool), 0.0)
