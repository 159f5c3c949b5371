"""nn.utils against PyTorch's torch.nn.utils: gradient clipping by norm (every norm type, float32
and float64, non-finite norms) and by value, parameter vectors both ways; what they refuse; and
that vector_to_parameters is announced to the engine (an older graph refuses to backward)."""

import math

import numpy as np
import pytest

from tinygrad_lite import Tensor, nn
from tinygrad_lite.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

RNG = np.random.default_rng(7)


def _pair(dtype, scale=1.0):
    """Our parameters and PyTorch's, with the same gradients (one parameter without a grad)."""
    torch = pytest.importorskip("torch")
    shapes = [(3, 2), (4,), (), (2, 2)]
    grads = [(RNG.standard_normal(s) * scale).astype(dtype) for s in shapes]
    ours = [Tensor(np.zeros(s, dtype), requires_grad=True) for s in shapes]
    theirs = [torch.zeros(s, dtype=torch.float64 if dtype == np.float64 else torch.float32,
                          requires_grad=True) for s in shapes]
    for i, (o, t, g) in enumerate(zip(ours, theirs, grads)):
        if i != 1:  # the second parameter has no gradient: skipped by both
            o.grad, t.grad = Tensor(g.copy()), torch.tensor(g.copy())
    return torch, ours, theirs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf, 0.5])
@pytest.mark.parametrize("max_norm", [0.3, 100.0])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    torch, ours, theirs = _pair(dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert total.dtype == dtype and total.shape == ()
    np.testing.assert_allclose(total.data, ref.numpy(), rtol=rtol)
    for o, t in zip(ours, theirs):
        assert (o.grad is None) == (t.grad is None)
        if o.grad is not None:
            assert o.grad.dtype == dtype
            np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=rtol, atol=1e-7)


def test_clip_grad_norm_scales_to_max_norm_and_leaves_small_gradients_alone():
    w = Tensor(np.zeros(2), requires_grad=True)
    w.grad = Tensor(np.array([30.0, 40.0]))
    old = w.grad
    assert clip_grad_norm_(w, 5.0).item() == pytest.approx(50.0)  # a single Tensor is accepted
    np.testing.assert_allclose(w.grad.data, [3.0, 4.0], rtol=1e-6)
    np.testing.assert_array_equal(old.data, [30.0, 40.0])  # the old gradient was not written into
    clip_grad_norm_(w, 100.0)
    np.testing.assert_allclose(w.grad.data, [3.0, 4.0], rtol=1e-6)


def test_clip_grad_norm_nonfinite():
    w = Tensor(np.zeros(2), requires_grad=True)
    w.grad = Tensor(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(w.grad.data, [np.inf, 1.0])  # unchanged after the refusal
    w.grad = Tensor(np.array([np.nan, 1.0]))
    assert math.isnan(clip_grad_norm_([w], 1.0).item())  # as PyTorch: NaN spreads, visibly
    assert np.isnan(w.grad.data).all()


def test_clip_grad_norm_of_nothing_is_zero():
    assert clip_grad_norm_([], 1.0).item() == 0.0
    assert clip_grad_norm_([Tensor([1.0], requires_grad=True)], 1.0).item() == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_value_matches_torch(dtype):
    torch, ours, theirs = _pair(dtype, scale=2.0)
    assert clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for o, t in zip(ours, theirs):
        if o.grad is not None:
            assert o.grad.dtype == dtype
            np.testing.assert_array_equal(o.grad.data, t.grad.numpy())
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(ours, -1.0)


def test_parameters_to_vector_matches_torch_and_differentiates():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    tmodel.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    vec = parameters_to_vector(model.parameters())
    np.testing.assert_array_equal(vec.data, torch.nn.utils.parameters_to_vector(
        tmodel.parameters()).detach().numpy())
    weights = Tensor(RNG.standard_normal(vec.shape))
    (vec * weights).sum().backward()
    offset = 0
    for p in model.parameters():
        np.testing.assert_array_equal(p.grad.data, weights.data[offset:offset + p.size].reshape(
            p.shape).astype(p.dtype))
        offset += p.size


def test_vector_to_parameters_round_trips_and_matches_torch():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    values = RNG.standard_normal(11)
    vector_to_parameters(Tensor(values), model.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(values, dtype=torch.float32),
                                        tmodel.parameters())
    for (name, p), t in zip(model.named_parameters(), tmodel.parameters()):
        assert p.dtype == np.float32, name  # cast to the parameter's dtype
        np.testing.assert_array_equal(p.data, t.detach().numpy(), err_msg=name)
    np.testing.assert_array_equal(parameters_to_vector(model.parameters()).data,
                                  values.astype(np.float32))


def test_vector_to_parameters_is_announced_to_the_engine():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    vector_to_parameters(Tensor(np.array([5.0, 6.0])), [w])
    with pytest.raises(RuntimeError, match="modified|changed|in place|in-place"):
        loss.backward()
    w.grad = None
    (w * w).sum().backward()  # a graph recorded after the write uses the new values
    np.testing.assert_array_equal(w.grad.data, [10.0, 12.0])


def test_vector_to_parameters_refuses_what_does_not_fit():
    w = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(TypeError, match="expected a Tensor"):
        vector_to_parameters(np.zeros(3), [w])
    with pytest.raises(ValueError, match="4 elements.*3"):
        vector_to_parameters(Tensor(np.zeros(4)), [w])
    with pytest.raises(ValueError, match="1-D"):
        vector_to_parameters(Tensor(np.zeros((3, 1))), [w])
    with pytest.raises(TypeError, match="expected Tensors"):
        parameters_to_vector([np.zeros(3)])
    np.testing.assert_array_equal(w.data, np.zeros(3))
