"""gradcheck / gradgradcheck: analytic gradients against float64 central differences.

Both scalarize the function with a random upstream gradient u (L(x) = sum(u * f(x))), so every
output element is checked at once. Small inputs get the full numeric gradient (one pair of
evaluations per element); large ones get random-direction checks (dL/dt of L(x + t v) against
<grad, v>), which catch a wrong backward just as surely at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .functional import grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """An analytic gradient disagrees with the numeric one; the message names the input, the worst
    element and both values."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return [out] if isinstance(out, Tensor) else [o for o in out if isinstance(o, Tensor)]


def _validate(inputs):
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {t.dtype}; finite differences need float64 "
                "inputs. Pass Tensor(x, dtype='float64', requires_grad=True) (or call .double())."
            )
    return inputs


def gradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, *, max_full: int = 64, n_directions: int = 4,
              seed: int = 0) -> bool:
    """Check fn's backward against central differences; raise GradcheckError or return True.

    Inputs that require grad must be float64. Inputs with at most `max_full` elements get their
    full numeric gradient; larger ones `n_directions` random directional checks.

    >>> x = Tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    >>> gradcheck(lambda t: (t * t.sin()).sum(), [x])
    True
    """
    inputs = _validate(inputs)
    rng = np.random.default_rng(seed)
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    outs = _outputs(fn, inputs)
    ups = [rng.standard_normal(o.shape) for o in outs]

    def loss_value():
        # NOTE: not under no_grad(): fn may itself differentiate (gradgradcheck's fn does)
        return sum(float(np.sum(u * o.data)) for u, o in zip(ups, _outputs(fn, inputs)))

    live = [(o, u) for o, u in zip(outs, ups) if o.requires_grad]
    if live:
        analytic = grad([o for o, _ in live], diff, grad_outputs=[Tensor(u) for _, u in live],
                        allow_unused=True)
    else:
        analytic = [None] * len(diff)
    analytic = [np.zeros(t.shape) if g is None else g.data.astype(np.float64) for g, t in
                zip(analytic, diff)]

    for t, ga in zip(diff, analytic):
        index = next(i for i, s in enumerate(inputs) if s is t)
        original = t.data.copy()
        try:
            if t.size <= max_full:
                numeric = np.zeros(t.shape)
                for j in range(t.size):
                    t.data = original.copy()
                    t.data.reshape(-1)[j] += eps
                    plus = loss_value()
                    t.data = original.copy()
                    t.data.reshape(-1)[j] -= eps
                    minus = loss_value()
                    numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
                _compare(index, t.shape, ga, numeric, atol, rtol)
            else:
                for _ in range(n_directions):
                    v = rng.standard_normal(t.shape)
                    v /= np.linalg.norm(v)
                    t.data = original + eps * v
                    plus = loss_value()
                    t.data = original - eps * v
                    minus = loss_value()
                    numeric = (plus - minus) / (2 * eps)
                    analytic_dir = float(np.sum(ga * v))
                    if not np.isclose(analytic_dir, numeric, atol=atol, rtol=rtol):
                        raise GradcheckError(
                            f"gradcheck failed for input {index} (shape {t.shape}): along a random "
                            f"direction the analytic derivative is {analytic_dir:.6g} but the "
                            f"numeric one is {numeric:.6g}"
                        )
        finally:
            t.data = original
    return True


def _compare(index, shape, analytic, numeric, atol, rtol):
    err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if err.size and (np.nanmax(err) > 0 or not np.all(np.isfinite(analytic))):
        bad = np.where(np.isfinite(analytic), err, np.inf)
        j = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), shape)) if shape else ()
        raise GradcheckError(
            f"gradcheck failed for input {index} (shape {shape}): worst element {j}: analytic "
            f"{analytic[j]:.6g}, numeric {numeric[j]:.6g} (atol={atol}, rtol={rtol})"
        )


def gradgradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, *, seed: int = 0, **kwargs) -> bool:
    """Check second derivatives: gradcheck applied to x -> d/dx sum(u * fn(x)) (built with
    create_graph=True), with a fixed random u.

    >>> x = Tensor([0.5, 1.5], dtype="float64", requires_grad=True)
    >>> gradgradcheck(lambda t: t.exp() * t, [x])
    True
    """
    inputs = _validate(inputs)
    rng = np.random.default_rng(seed + 1)
    outs = _outputs(fn, inputs)
    ups = [Tensor(rng.standard_normal(o.shape)) for o in outs]
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]

    def first_derivative(*xs):
        outs = _outputs(fn, xs)
        live = [(o, u) for o, u in zip(outs, ups) if o.requires_grad]
        wrt = [t for t in xs if isinstance(t, Tensor) and t.requires_grad]
        if not live:
            return tuple(Tensor(np.zeros(t.shape)) for t in wrt)
        gs = grad([o for o, _ in live], wrt, grad_outputs=[u for _, u in live],
                  create_graph=True, allow_unused=True)
        return tuple(Tensor(np.zeros(t.shape)) if g is None else g for g, t in zip(gs, wrt))

    if not diff:
        raise ValueError("gradgradcheck: no input requires grad")
    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed, **kwargs)
