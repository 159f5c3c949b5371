"""Tensor construction, dtypes, creation functions, properties, conversions, operators, comparisons,
indexing corner cases, non-differentiable helpers and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor


# ------------------------------------------------------------------------------ construction ----
@pytest.mark.parametrize(
    ("data", "dtype"),
    [(1.5, np.float32), ([1.0, 2.0], np.float32), ([[1, 2]], np.int64), (True, np.bool_),
     (np.array([1.0]), np.float64), (np.array([1.0], np.float32), np.float32),
     (np.arange(3), np.int64), (np.float64(2.0), np.float64), ([1, 2.5], np.float32)],
)
def test_tensor_dtype_rules(data, dtype):
    assert Tensor(data).dtype == dtype


def test_tensor_dtype_argument_accepts_names_and_numpy_dtypes():
    assert Tensor([1, 2], dtype="float64").dtype == np.float64
    assert Tensor([1.0], dtype=np.float16).dtype == np.float16
    assert Tensor([1.5], dtype=tg.int32).tolist() == [1]
    with pytest.raises(TypeError, match="unknown dtype"):
        Tensor([1.0], dtype="floaty")


def test_tensor_from_tensor_copies_and_from_array_shares_unless_it_requires_grad():
    a = np.ones(3)
    assert np.shares_memory(Tensor(a).numpy(), a)
    p = Tensor(a, requires_grad=True)
    assert not np.shares_memory(p.numpy(), a)  # optimizers write parameters in place
    t = Tensor(p)
    assert not np.shares_memory(t.numpy(), p.numpy()) and not t.requires_grad


def test_tensor_rejects_ragged_data():
    with pytest.raises((TypeError, ValueError)):
        Tensor([[1.0, 2.0], [3.0]])


# ---------------------------------------------------------------------------------- creation ----
def test_tensor_shape_arguments_in_every_spelling():
    for t in (Tensor.zeros(2, 3), Tensor.zeros((2, 3)), Tensor.zeros([2, 3]), tg.zeros(2, 3)):
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.numpy().any()
    assert tg.ones(2).tolist() == [1.0, 1.0]
    assert tg.full((2,), 7.0).tolist() == [7.0, 7.0] and tg.full((2,), 7.0).dtype == np.float32
    assert tg.full(3, 2).dtype == np.int64
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert tg.arange(3).tolist() == [0, 1, 2] and tg.arange(3).dtype == np.int64
    assert tg.arange(0.0, 1.0, 0.5).tolist() == [0.0, 0.5] and tg.arange(0, 1, 0.5).dtype == np.float32
    base = Tensor(np.ones((2, 2), np.float64))
    assert tg.zeros_like(base).dtype == np.float64 and tg.ones_like(base).shape == (2, 2)
    assert tg.zeros(2, requires_grad=True).requires_grad


def test_tensor_random_creation_is_seeded():
    tg.manual_seed(3)
    a = tg.randn(4)
    tg.manual_seed(3)
    b = tg.randn(4)
    assert a.tolist() == b.tolist()
    gen = np.random.default_rng(5)
    c = tg.rand(3, generator=gen)
    d = tg.rand(3, generator=np.random.default_rng(5))
    assert c.tolist() == d.tolist()
    assert 0 <= c.numpy().min() and c.numpy().max() < 1
    u = tg.uniform(1000, low=-2.0, high=-1.0, generator=1)
    assert u.dtype == np.float32 and -2 <= u.numpy().min() and u.numpy().max() < -1
    assert abs(tg.randn(10_000, generator=2).numpy().std() - 1) < 0.05


# -------------------------------------------------------------------------------- properties ----
def test_tensor_properties_and_conversions():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 3), 2, 6, 2)
    assert t.T.shape == (3, 2) and t.T.tolist() == [[1, 4], [2, 5], [3, 6]]
    assert isinstance(t.numpy(), np.ndarray) and np.shares_memory(np.asarray(t), t.data)
    assert not t.numpy().flags.writeable and not np.asarray(t).flags.writeable  # see numpy()
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert Tensor(2.5).item() == 2.5 and float(Tensor([2.5])) == 2.5
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert t.float().dtype == np.float32 and t.double().dtype == np.float64
    assert t.astype("float64").dtype == np.float64 and t.long().dtype == np.int64
    assert [row.tolist() for row in t] == t.tolist()
    with pytest.raises(ValueError, match="one element"):
        t.item()
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)


def test_tensor_repr_shows_values_dtype_and_grad_fn():
    assert repr(Tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(Tensor([1.0], dtype="float64")) == "tensor([1.], dtype=float64)"
    assert repr(Tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    y = Tensor([1.0], requires_grad=True) * 2.0
    assert repr(y) == "tensor([2.], grad_fn=<MulBackward>)"


def test_tensor_hash_is_identity_based():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert hash(a) != hash(b) and len({a, b}) == 2 and {a: 1}[a] == 1


# ------------------------------------------------------------------------- operators, dtypes ----
def test_tensor_arithmetic_with_scalars_arrays_and_tensors_on_either_side():
    t = Tensor([1.0, 2.0])
    arr = np.array([10.0, 20.0], dtype=np.float32)
    assert (t + 1).tolist() == [2, 3] and (1 + t).tolist() == [2, 3]
    assert (arr - t).tolist() == [9, 18] and (t - arr).tolist() == [-9, -18]
    assert isinstance(arr * t, Tensor) and (arr * t).tolist() == [10, 40]
    assert (2 / t).tolist() == [2, 1] and (t ** 2).tolist() == [1, 4] and (2 ** t).tolist() == [2, 4]
    assert (-t).tolist() == [-1, -2] and abs(Tensor([-3.0])).tolist() == [3]
    assert (t @ arr).item() == 50 and (arr @ t).item() == 50
    assert (t + [1.0, 1.0]).tolist() == [2, 3]


def test_tensor_numpy2_type_promotion():
    f32 = Tensor(np.ones(2, np.float32))
    assert (f32 * 2.0).dtype == np.float32  # Python scalars are weak
    assert (f32 + np.ones(2, np.float64)).dtype == np.float64  # arrays are not
    assert (Tensor([1, 2]) * 2.5).dtype == np.float64  # int64 * Python float, as numpy
    assert (Tensor([1, 2]) + 1).dtype == np.int64
    assert (f32 + Tensor(np.ones(2, np.float64))).dtype == np.float64


def test_tensor_comparisons_return_bool_tensors_without_grad():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in (
        (x < 2, [True, False, False]), (x <= 2, [True, True, False]), (x > 2, [False, False, True]),
        (x >= 2, [False, True, True]), (x == 2, [False, True, False]), (x != 2, [True, False, True]),
    ):
        assert result.dtype == np.bool_ and not result.requires_grad and result.tolist() == expected
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert (~(x > 1)).tolist() == [True, False, False] and (x > 2).any().item()


def test_tensor_argmax_argmin_one_hot():
    x = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    assert x.argmax(axis=1).tolist() == [1, 0] and x.argmin(axis=1).tolist() == [0, 1]
    assert x.argmax().item() == 3 and not x.argmax().requires_grad
    oh = Tensor([2, 0]).one_hot(3)
    assert oh.dtype == np.float32 and oh.tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(IndexError, match="class index 5 is out of range for 3 classes"):
        Tensor([0, 5]).one_hot(3)
    with pytest.raises(TypeError, match="integer labels"):
        Tensor([0.0]).one_hot(3)


def test_tensor_dropout_scales_kept_values_and_is_identity_in_eval():
    x = Tensor(np.ones(20_000, np.float32), requires_grad=True)
    y = x.dropout(0.25, generator=0)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy())  # the same mask scales the gradient
    assert x.dropout(0.5, training=False) is x
    assert not x.dropout(1.0).numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        x.dropout(1.5)


# ---------------------------------------------------------------------------- error messages ----
def test_tensor_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4,\)"):
        Tensor(np.ones((2, 3))).reshape(4)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)|\(4,\).*\(2, 3\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"cannot broadcast.*\(3,\).*\(2, 2\)"):
        Tensor(np.ones(3)).broadcast_to((2, 2))
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        Tensor(np.ones((2, 2))).sum(axis=3)
    with pytest.raises(ValueError, match=r"conv2d.*\(1, 3, 4, 4\).*\(2, 1, 3, 3\)"):
        Tensor(np.ones((1, 3, 4, 4))).conv2d(Tensor(np.ones((2, 1, 3, 3))))
    with pytest.raises(ValueError, match="differ outside that axis"):
        tg.concatenate([Tensor(np.ones((2, 2))), Tensor(np.ones((3, 3)))], axis=0)


# ---------------------------------------------------------------------------- movement extras ----
def test_tensor_split_and_chunk_follow_numpy_and_pytorch():
    x = Tensor(np.arange(10.0))
    assert [p.tolist() for p in x.split([3, 7])] == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    assert [len(p) for p in x.split(5)] == [2] * 5
    assert [len(p) for p in x.chunk(3)] == [4, 4, 2]  # ceil(10 / 3) = 4, as torch.chunk
    with pytest.raises(ValueError, match="equal parts"):
        x.split(3)


def test_tensor_indexing_with_tensors_lists_and_masks():
    x = Tensor(np.arange(12.0).reshape(3, 4))
    assert x[Tensor([2, 0])].tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
    assert x[[0, 0], [1, 2]].tolist() == [1, 2]
    assert x[x > 9].tolist() == [10, 11]
    assert x[..., -1].tolist() == [3, 7, 11] and x[None].shape == (1, 3, 4)


def test_tensor_stack_and_module_level_helpers():
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    assert tg.stack([a, b]).tolist() == [[1, 2], [3, 4]] == Tensor.stack([a, b]).tolist()
    assert tg.concatenate([a, b]).tolist() == [1, 2, 3, 4]
    assert tg.where(a > 1, a, b).tolist() == [3, 2] == Tensor.where(a > 1, a, b).tolist()
    assert a.where(a > 1, b).tolist() == [3, 2]
    assert Tensor.where(np.array([True, False]), 1.0, 0.0).tolist() == [1.0, 0.0]


def test_tensor_var_std_follow_numpy_ddof():
    data = np.array([[1.0, 4.0, 2.0], [8.0, 5.0, 3.0]])
    t = Tensor(data)
    np.testing.assert_allclose(t.var().item(), data.var())
    np.testing.assert_allclose(t.var(axis=1, ddof=1).numpy(), data.var(axis=1, ddof=1))
    np.testing.assert_allclose(t.std(axis=0, keepdims=True).numpy(), data.std(0, keepdims=True))


def test_tensor_pool_padding_semantics_match_pytorch_defaults():
    x = Tensor(np.ones((1, 1, 2, 2)))
    # avg pool counts padded zeros (count_include_pad=True): corners see 1 real value of 4
    assert x.avg_pool2d(2, stride=2, padding=1).numpy().ravel().tolist() == [0.25] * 4
    # max pool pads with -inf, so padding never wins
    y = Tensor(-np.ones((1, 1, 2, 2)))
    assert y.max_pool2d(2, stride=2, padding=1).numpy().ravel().tolist() == [-1.0] * 4


def test_tensor_conv2d_accepts_unbatched_input():
    x = Tensor(np.arange(9.0).reshape(1, 3, 3))
    w = Tensor(np.ones((1, 1, 2, 2)))
    assert x.conv2d(w).tolist() == [[[8.0, 12.0], [20.0, 24.0]]]


def test_tensor_help_reads_cleanly():
    """help(Tensor): no `# NOTE:` comments as docstrings, no lambda names, `where` documented."""
    import pydoc

    text = pydoc.render_doc(Tensor, renderer=pydoc.plaintext)
    assert "NOTE" not in text.split("__add__(self, other)")[1].split("\n |  \n")[0]
    assert "<lambda>" not in text and "__iadd__(self, other)" in text
    assert Tensor.where.__name__ == "where" and "where(cond, x, y)" in Tensor.where.__doc__
