"""gradcheck / gradgradcheck themselves: they pass on correct ops, catch planted errors with a
message that names the input, the element and both values, and refuse float32."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lite import Function, GradcheckError, Tensor, gradcheck, gradgradcheck


def leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


class SinWithWrongSecondDerivative(Function):
    @staticmethod
    def forward(ctx, x):
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.inputs
        cos = Tensor(np.cos(x.data))  # a constant: correct first derivative, no second derivative
        return grad * cos


class OffByOneElement(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        scale = np.full(grad.shape, 2.0)
        scale.reshape(-1)[-1] = 2.5  # wrong for the last element only
        return grad * scale


def test_gradcheck_passes_on_a_correct_function():
    assert gradcheck(lambda a, b: (a * b.exp()).sum(axis=0), [leaf([[1.0, 2.0]]), leaf([0.5, -1.0])])


def test_gradcheck_reports_input_element_and_values():
    x = leaf(np.zeros((2, 3)))
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda t: OffByOneElement.apply(t), [x])
    message = str(err.value)
    assert "input 0" in message and "(1, 2)" in message and "analytic" in message
    assert "numeric" in message


def test_gradcheck_large_inputs_use_random_directions_and_still_catch_errors():
    x = leaf(np.linspace(-1, 1, 200))
    assert gradcheck(lambda t: t.tanh() * t, [x])
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(lambda t: OffByOneElement.apply(t), [leaf(np.ones(300))])


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = leaf([0.3, 1.1])
    assert gradcheck(lambda t: SinWithWrongSecondDerivative.apply(t), [x])
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: SinWithWrongSecondDerivative.apply(t), [x])
    assert gradgradcheck(lambda t: t.sin(), [x])


def test_gradcheck_refuses_float32_inputs():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [Tensor([1.0], requires_grad=True)])


def test_gradcheck_restores_the_input_values():
    x = leaf([0.25, 0.5])
    gradcheck(lambda t: t ** 3, [x])
    assert x.tolist() == [0.25, 0.5]


def test_gradcheck_handles_several_inputs_and_outputs():
    a, b = leaf([1.0, 2.0]), leaf([3.0])
    assert gradcheck(lambda x, y: (x * y, (x + y).sin()), [a, b])
    assert gradgradcheck(lambda x, y: (x * y * y, x.exp()), [a, b])


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, [Tensor(np.ones(2))])
