"""Generic layer and loss tests driven by tests/layer_table.py: forward equals the numpy reference
(float64 and float32, dtype kept), the same values and gradients as PyTorch (where installed),
gradcheck and gradgradcheck for every float input and parameter, and every public layer and loss
has a row."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, gradcheck, gradgradcheck, nn
from tinygrad_lite.nn import losses

from .layer_table import LAYERS, NOT_LAYERS, LayerSpec

IDS = [row.name for row in LAYERS]


def _build(row: LayerSpec, dtype=np.float64):
    """The layer (cast to dtype, in the row's mode) or the function."""
    if row.fn is not None:
        return getattr(F, row.fn)
    layer = getattr(nn, row.ctor)(*row.args, **row.kwargs)
    if row.setup is not None:
        row.setup(layer)
    layer = layer.double() if dtype == np.float64 else layer.float()
    return layer.eval() if row.eval else layer


def _call(row: LayerSpec, layer, *tensors):
    if row.call is not None:
        return row.call(layer, *tensors)
    if row.fn is not None:
        return layer(*tensors, **row.kwargs)
    return layer(*tensors)


def _flat(out):
    """A layer's outputs as a flat tuple (RNN/LSTM return nested tuples)."""
    if isinstance(out, (tuple, list)):
        return tuple(o for part in out for o in _flat(part))
    return (out,)


def _arrays(row: LayerSpec, seed=0):
    rng = np.random.default_rng(seed)
    return [np.asarray(make(rng)) for make in row.inputs]


def _state(layer):
    if not hasattr(layer, "state_dict"):
        return {}
    return {k: v.astype(np.float64) if v.dtype.kind == "f" else v
            for k, v in layer.state_dict().items()}


def _differentiable(row: LayerSpec, layer, arrays):
    """fn(*float tensors, *parameters) -> outputs, and those tensors (float64, requiring grad);
    integer inputs (class indices) are held constant."""
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    tensors = [Tensor(a) if a.dtype.kind != "f" else None for a in arrays]
    params = list(layer.parameters()) if hasattr(layer, "parameters") else []

    def fn(*xs):
        args = list(tensors)
        for i, x in zip(floats, xs):
            args[i] = x
        return _flat(_call(row, layer, *args))

    return fn, [Tensor(arrays[i], requires_grad=True) for i in floats] + params


@pytest.mark.parametrize("row", LAYERS, ids=IDS)
def test_layer_forward_matches_reference_in_float64_and_float32(row):
    arrays = _arrays(row)
    layer = _build(row, np.float64)
    expected = _flat(row.ref(_state(layer), *arrays))
    out = _flat(_call(row, layer, *[Tensor(a) for a in arrays]))
    assert len(out) == len(expected)
    for o, e in zip(out, expected):
        assert o.dtype == np.float64 and o.shape == np.shape(e)
        np.testing.assert_allclose(o.data, e, rtol=1e-10, atol=1e-12)
    layer32 = _build(row, np.float32)
    state32 = _state(layer32)  # float32 parameters, in float64 for the reference
    expected32 = _flat(row.ref(state32, *arrays))
    inputs32 = [Tensor(a.astype(np.float32) if a.dtype.kind == "f" else a) for a in arrays]
    for o, e in zip(_flat(_call(row, layer32, *inputs32)), expected32):
        assert o.dtype == np.float32, f"{row.name} promoted float32 to {o.dtype}"
        np.testing.assert_allclose(o.data, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("row", LAYERS, ids=IDS)
def test_layer_gradcheck(row):
    fn, inputs = _differentiable(row, _build(row), _arrays(row))
    assert inputs, f"{row.name}: nothing to differentiate"
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("row", [r for r in LAYERS if r.gradgrad],
                         ids=[r.name for r in LAYERS if r.gradgrad])
def test_layer_gradgradcheck(row):
    fn, inputs = _differentiable(row, _build(row), _arrays(row))
    assert gradgradcheck(fn, inputs)


TORCH_ROWS = [r for r in LAYERS if r.torch]


@pytest.mark.parametrize("row", TORCH_ROWS, ids=[r.name for r in TORCH_ROWS])
def test_layer_matches_torch_values_and_gradients(row):
    torch = pytest.importorskip("torch")
    arrays = _arrays(row, seed=1)
    layer = _build(row, np.float64)
    kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in row.kwargs.items()}
    if row.fn is not None:
        theirs = getattr(torch.nn.functional, row.fn)
        tcall = (lambda f, *xs: f(*xs, **kwargs)) if row.call is None else row.call
    else:
        theirs = getattr(torch.nn, row.ctor)(*row.args, **kwargs).double()
        # NOTE: not strict: PyTorch's losses keep `weight`/`pos_weight` as buffers, ours as options
        loaded = theirs.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()},
                                        strict=False)
        assert not loaded.unexpected_keys
        assert set(loaded.missing_keys) <= {"weight", "pos_weight"}
        theirs.train(layer.training)
        tcall = row.call or (lambda m, *xs: m(*xs))
    ours_in = [Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    torch_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ours, ref = _flat(_call(row, layer, *ours_in)), _flat(tcall(theirs, *torch_in))
    rng = np.random.default_rng(2)
    total, ttotal = None, None
    for o, t in zip(ours, ref, strict=True):
        np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
        up = rng.standard_normal(o.shape)
        term, tterm = (o * Tensor(up)).sum(), (t * torch.tensor(up)).sum()
        total, ttotal = (term, tterm) if total is None else (total + term, ttotal + tterm)
    total.backward()
    ttotal.backward()
    for o, t in zip(ours_in, torch_in):
        if t.requires_grad:
            np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)
    if row.ctor is not None:
        for name, p in layer.named_parameters():
            np.testing.assert_allclose(p.grad.data, theirs.get_parameter(name).grad.numpy(),
                                       rtol=1e-9, atol=1e-12, err_msg=name)


def test_layer_table_covers_every_public_layer_and_loss():
    covered = {r.ctor for r in LAYERS} | {r.fn for r in LAYERS} | {c for r in LAYERS for c in r.covers}
    layers = {name for name in nn.__all__ if name not in NOT_LAYERS}
    loss_functions = {name for name, obj in vars(losses).items()
                      if inspect.isfunction(obj) and not name.startswith("_")
                      and obj.__module__ == losses.__name__}
    missing = sorted((layers | loss_functions) - covered)
    assert not missing, f"public layers/losses without a row in tests/layer_table.py: {missing}"


def test_layer_table_checks_can_fail():
    """A planted wrong reference and a planted wrong gradient are both caught."""
    row = next(r for r in LAYERS if r.name == "linear")
    layer, arrays = _build(row), _arrays(row)
    wrong = row.ref(_state(layer), *arrays) + 1e-6
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(_call(row, layer, Tensor(arrays[0])).data, wrong, rtol=1e-10,
                                   atol=1e-12)

    def leaky_weight(x, w, b):  # the weight's contribution computed from a detached copy
        return x @ w.detach().T + b + (x @ w.T) * 0.0

    from tinygrad_lite import GradcheckError

    with pytest.raises(GradcheckError):
        gradcheck(leaky_weight, [Tensor(arrays[0], requires_grad=True), layer.weight, layer.bias])
