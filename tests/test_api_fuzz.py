"""A property-based fuzzer of the public API's arguments.

Each row of CALLS is one argument of one public function or constructor, with a rule for which
values are valid. Hypothesis draws values of every kind (ints in and far out of range, bools,
floats, NaN, None, strings, complex numbers, tuples, lists, numpy scalars, objects) and:

- a valid value must be accepted (and, for axes, give numpy's answer);
- any other value must raise TypeError, ValueError or IndexError (numpy's AxisError is both) whose
  message names the argument: never ZeroDivisionError, RecursionError, a numpy ufunc message, a
  wrap-around or a silent truncation.

`test_fuzzer_catches_a_planted_wrap_around` shows the checker fails on the old behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_lite as tg
from tinygrad_lite import Tensor, data, nn
from tinygrad_lite.argcheck import is_int

NAMED = (TypeError, ValueError, IndexError)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # 1e300 -> inf


# ------------------------------------------------------------------------- validity rules ----
def _ints(v):
    return [v] if is_int(v) else list(v) if isinstance(v, (tuple, list)) and all(map(is_int, v)) else None


def axis_rule(ndim, allow_none=False, allow_tuple=False):
    """Valid: an int in [-ndim, ndim) (and None / a tuple of distinct such ints where accepted)."""
    def valid(v):
        if v is None:
            return allow_none
        if isinstance(v, (tuple, list)) and not allow_tuple:
            return False
        axes = _ints(v)
        if axes is None:
            return False
        if not all(-ndim <= a < ndim for a in axes):
            return False
        return len({a % ndim for a in axes}) == len(axes)
    return valid


def int_rule(minimum):
    return lambda v: is_int(v) and v >= minimum


def pair_rule(minimum):
    def valid(v):
        vals = _ints(v)
        return vals is not None and len(vals) in (1, 2) and (len(vals) == 1) == is_int(v) and all(
            x >= minimum for x in vals)
    return valid


def shape_rule(v):
    sizes = _ints(v)
    return sizes is not None and all(n >= 0 for n in sizes)


def dtype_rule(v):
    """What numpy accepts as a dtype, if it is bool, integer or floating point (None is refused)."""
    try:
        return v is not None and np.dtype(v).kind in "biuf"
    except (TypeError, ValueError):
        return False


def prob_rule(v):
    return isinstance(v, (int, float, np.floating, np.integer)) and 0 <= v <= 1


def operand_rule(shape):
    """Valid operands: numbers and numeric arrays/lists that broadcast with `shape`."""
    def valid(v):
        if isinstance(v, (bool, int, float)) or (isinstance(v, np.generic) and v.dtype.kind in "biuf"):
            return True
        if isinstance(v, (tuple, list)) and all(isinstance(x, (int, float)) for x in v):
            if any(is_int(x) and abs(x) >= 2**63 for x in v):
                return False
            try:
                np.broadcast_shapes(shape, (len(v),))
            except ValueError:
                return False
            return True
        return False
    return valid


@dataclass
class Arg:
    label: str
    call: Callable            # value -> result
    valid: Callable           # value -> bool
    names: tuple              # one of these must appear in the message of a refusal
    reference: Callable | None = None  # value -> numpy result, checked for valid values
    sizes: bool = False  # a size that allocates: huge values are not drawn (they would be valid)


T = np.arange(6.0, dtype=np.float32).reshape(2, 3, 1)


def _t():
    return Tensor(T.copy())


CALLS = [
    Arg("sum(axis)", lambda v: _t().sum(axis=v), axis_rule(3, True, True), ("axis",),
        lambda v: T.sum(axis=None if v is None else tuple(_ints(v)))),
    Arg("max(axis)", lambda v: _t().max(axis=v), axis_rule(3, True, True), ("axis",),
        lambda v: T.max(axis=None if v is None else tuple(_ints(v)))),
    Arg("mean(axis)", lambda v: _t().mean(axis=v), axis_rule(3, True, True), ("axis",),
        lambda v: T.mean(axis=None if v is None else tuple(_ints(v)))),
    Arg("logsumexp(axis)", lambda v: _t().logsumexp(axis=v), axis_rule(3, True, True), ("axis",)),
    Arg("softmax(axis)", lambda v: _t().softmax(axis=v), axis_rule(3, True, True), ("axis",)),
    Arg("log_softmax(axis)", lambda v: _t().log_softmax(axis=v), axis_rule(3), ("axis",)),
    Arg("argmax(axis)", lambda v: _t().argmax(axis=v), axis_rule(3, True), ("axis",),
        lambda v: T.argmax(axis=v)),
    Arg("any(axis)", lambda v: (_t() > 2).any(axis=v), axis_rule(3, True, True), ("axis",)),
    Arg("transpose(v, 0, 1)", lambda v: _t().transpose(v, 0, 1),
        lambda v: is_int(v) and -3 <= v < 3 and v % 3 == 2, ("axes", "axis")),
    Arg("swapaxes(v, 0)", lambda v: _t().swapaxes(v, 0), axis_rule(3), ("axis1",),
        lambda v: T.swapaxes(v, 0)),
    Arg("swapaxes(0, v)", lambda v: _t().swapaxes(0, v), axis_rule(3), ("axis2",),
        lambda v: T.swapaxes(0, v)),
    Arg("squeeze(axis)", lambda v: _t().squeeze(v),
        lambda v: axis_rule(3, True, True)(v) and all(a % 3 == 2 for a in _ints(v) or []),
        ("axis", "squeeze"), lambda v: T.squeeze(v if is_int(v) or v is None else tuple(v))),
    Arg("flatten(start_dim)", lambda v: _t().flatten(v), axis_rule(3), ("start_dim",)),
    Arg("flatten(0, end_dim)", lambda v: _t().flatten(0, v), axis_rule(3), ("end_dim",)),
    Arg("expand_dims(axis)", lambda v: _t().expand_dims(v),
        lambda v: _ints(v) is not None and axis_rule(3 + len(_ints(v)), False, True)(v), ("axis",),
        lambda v: np.expand_dims(T, v if is_int(v) else tuple(v))),
    Arg("concatenate(axis)", lambda v: tg.concatenate([_t(), _t()], axis=v), axis_rule(3),
        ("axis",), lambda v: np.concatenate([T, T], axis=v)),
    Arg("stack(axis)", lambda v: tg.stack([_t(), _t()], axis=v), axis_rule(4), ("axis",),
        lambda v: np.stack([T, T], axis=v)),
    Arg("split(n, axis=1)", lambda v: _t().split(v, axis=1),
        lambda v: (is_int(v) and v in (1, 3)) or (
            isinstance(v, (tuple, list)) and all(map(is_int, v))), ("indices_or_sections", "split")),
    Arg("split(1, axis)", lambda v: _t().split(1, axis=v), axis_rule(3), ("axis",)),
    Arg("chunk(chunks)", lambda v: _t().chunk(v), int_rule(1), ("chunks",)),
    Arg("chunk(2, axis)", lambda v: _t().chunk(2, axis=v), axis_rule(3), ("axis",)),
    Arg("reshape(v, -1)", lambda v: _t().reshape(v, -1),
        lambda v: is_int(v) and v in (1, 2, 3, 6), ("shape", "reshape")),
    Arg("zeros(shape)", lambda v: tg.zeros(v), shape_rule, ("shape",), sizes=True),
    Arg("full(shape)", lambda v: tg.full(v, 1.0), shape_rule, ("shape",), sizes=True),
    Arg("eye(n)", lambda v: tg.eye(v), int_rule(0), ("n",), sizes=True),
    Arg("one_hot(num_classes)", lambda v: Tensor([0, 1]).one_hot(v),
        lambda v: is_int(v) and (v == -1 or v >= 2), ("num_classes", "one_hot"), sizes=True),
    Arg("dropout(p)", lambda v: _t().dropout(v), prob_rule, ("dropout probability",)),
    Arg("Tensor + v", lambda v: _t() + v, operand_rule(T.shape), ("operand", "Tensor(data)")),
    Arg("v * Tensor", lambda v: v * _t(), operand_rule(T.shape), ("operand", "Tensor(data)")),
    Arg("Tensor < v", lambda v: _t() < v, operand_rule(T.shape), ("operand", "Tensor(data)")),
    Arg("maximum(v)", lambda v: _t().maximum(v), operand_rule(T.shape), ("operand", "Tensor(data)")),
    Arg("Tensor(data)", lambda v: Tensor(v),
        lambda v: operand_rule(())(v) and np.asarray(v).dtype.kind in "biuf",
        ("Tensor(data)", "cannot make a Tensor", "inhomogeneous")),
    Arg("astype(dtype)", lambda v: _t().astype(v), dtype_rule, ("dtype", "data type")),
    Arg("conv2d(stride)", lambda v: tg.ones(1, 1, 5, 5).conv2d(tg.ones(1, 1, 3, 3), stride=v),
        pair_rule(1), ("stride",)),
    Arg("conv2d(padding)", lambda v: tg.ones(1, 1, 5, 5).conv2d(tg.ones(1, 1, 3, 3), padding=v),
        pair_rule(0), ("padding",), sizes=True),
    Arg("max_pool2d(kernel_size)", lambda v: tg.ones(1, 1, 4, 4).max_pool2d(v),
        lambda v: pair_rule(1)(v) and max(_ints(v)) <= 4, ("kernel_size",)),
    Arg("avg_pool2d(2, stride)", lambda v: tg.ones(1, 1, 4, 4).avg_pool2d(2, stride=v),
        lambda v: v is None or pair_rule(1)(v), ("stride",)),
    Arg("Conv2d(kernel_size)", lambda v: nn.Conv2d(1, 1, v),
        pair_rule(1), ("kernel_size",), sizes=True),
    Arg("Conv2d(stride)", lambda v: nn.Conv2d(1, 1, 3, stride=v), pair_rule(1), ("stride",)),
    Arg("Conv2d(in_channels)", lambda v: nn.Conv2d(v, 1, 1),
        int_rule(1), ("in_channels",), sizes=True),
    Arg("MaxPool2d(kernel_size)", lambda v: nn.MaxPool2d(v), pair_rule(1), ("kernel_size",)),
    Arg("Linear(in_features)", lambda v: nn.Linear(v, 2),
        int_rule(0), ("in_features",), sizes=True),
    Arg("LSTM(hidden_size)", lambda v: nn.LSTM(2, v),
        int_rule(1), ("hidden_size",), sizes=True),
    Arg("RNN(num_layers)", lambda v: nn.RNN(2, 2, num_layers=v),
        int_rule(1), ("num_layers",), sizes=True),
    Arg("BatchNorm1d(num_features)", lambda v: nn.BatchNorm1d(v),
        int_rule(1), ("num_features",), sizes=True),
    Arg("Embedding(num_embeddings)", lambda v: nn.Embedding(v, 2),
        int_rule(0), ("num_embeddings",), sizes=True),
    Arg("Dropout(p)", lambda v: nn.Dropout(v), prob_rule, ("dropout probability",)),
    Arg("DataLoader(batch_size)", lambda v: data.DataLoader(data.TensorDataset(_t()), batch_size=v),
        int_rule(1), ("batch_size",)),
]

VALUES = st.one_of(
    st.integers(-5, 5),
    st.integers(-2**70, 2**70),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.none(),
    st.text(max_size=3),
    st.complex_numbers(max_magnitude=10),
    st.tuples(st.integers(-4, 4), st.integers(-4, 4)),
    st.lists(st.integers(-4, 4), max_size=4),
    st.lists(st.floats(-4, 4), min_size=1, max_size=3),
    st.sampled_from([np.int64(1), np.int32(-1), np.float32(1.5), np.float64("nan"), np.bool_(True),
                     (), (1, 2, 3), [1.0, "a"], {"a": 1}, object(), b"ab", math.inf]),
)


def _check(arg: Arg, value) -> str:
    """'accepted' or 'refused'; anything else is an AssertionError saying what went wrong."""
    valid = arg.valid(value)
    try:
        result = arg.call(value)
    except NAMED as err:
        assert not valid, f"{arg.label}: valid value {value!r} was refused: {err!r}"
        message = str(err)
        assert any(name in message for name in arg.names), (
            f"{arg.label}: the error for {value!r} does not name the argument {arg.names}: "
            f"{type(err).__name__}: {message}")
        return "refused"
    except Exception as err:  # noqa: BLE001 (the point: no other exception type may escape)
        raise AssertionError(f"{arg.label}: {value!r} raised {type(err).__name__}: {err}") from err
    assert valid, f"{arg.label}: invalid value {value!r} was accepted (gave {result!r:.80})"
    if arg.reference is not None:
        expected = arg.reference(value)
        got = result.data if isinstance(result, Tensor) else result
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=f"{arg.label}({value!r})")
    return "accepted"


@pytest.mark.parametrize("arg", CALLS, ids=[a.label for a in CALLS])
@given(value=VALUES)
def test_api_arguments_are_accepted_or_refused_by_name(arg, value):
    assume(not (arg.sizes and _huge(value)))
    _check(arg, value)


def _huge(value):
    ints = _ints(value) or []
    return any(abs(int(i)) > 64 for i in ints)


@pytest.mark.parametrize("arg", CALLS, ids=[a.label for a in CALLS])
def test_api_arguments_edge_values(arg):
    """The values at the edges of each rule, for every row (hypothesis samples the rest)."""
    values = (-4, -3, -1, 0, 1, 2, 3, 4, 2**63, True, 1.0, None, "1", 1j, (1, 2), [0], np.int64(2))
    outcomes = {_check(arg, v) for v in values if not (arg.sizes and _huge(v))}
    assert outcomes == {"accepted", "refused"}, (arg.label, outcomes)  # the rule is not vacuous


def test_fuzzer_catches_a_planted_wrap_around(monkeypatch):
    row = next(a for a in CALLS if a.label == "squeeze(axis)")
    assert _check(row, 5) == "refused"

    def old_squeeze(self, axis=None):  # the behaviour before issue 8: axis % ndim
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i != axis % self.ndim))

    monkeypatch.setattr(Tensor, "squeeze", old_squeeze)
    with pytest.raises(AssertionError, match="invalid value 5 was accepted"):
        _check(row, 5)


def test_fuzzer_catches_an_unnamed_error(monkeypatch):
    row = next(a for a in CALLS if a.label == "chunk(chunks)")

    def old_chunk(self, chunks, axis=0):
        return [self[i::chunks] for i in range(self.shape[0] // chunks)]  # ZeroDivisionError at 0

    monkeypatch.setattr(Tensor, "chunk", old_chunk)
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        _check(row, 0)
