"""Newton's method with the framework's own gradient and Hessian, and its Hessian-free cousin.

Both need `step(closure)`: the closure computes and returns the loss. It need not call backward;
if it does (PyTorch's habit: `opt.zero_grad(); loss.backward(); return loss`), it runs under
`autograd.keep_graphs()`, so that backward keeps the graph for Newton's own double
differentiation (Newton never reads `.grad`).

Every parameter is treated as one flat vector theta (the groups' parameters concatenated in
order); each group may set its own lr (the step of its slice) and damping (its diagonal).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import numpy as np

from ..autograd import enable_grad, increment_version, keep_graphs
from ..functional import grad as autograd_grad
from ..tensor import Tensor
from .optimizer import Optimizer, check_hyperparameter, check_nonnegative

DEFAULT_MAX_PARAMS = 2000  # a 2000 x 2000 float64 Hessian is 32 MB, and costs 2000 backward passes


def _flat(arrays, params) -> np.ndarray:
    """One float64 vector from per-parameter gradients (zeros where a parameter is unused)."""
    return np.concatenate([(np.zeros(p.size) if a is None else a.data.reshape(-1)) for a, p in
                           zip(arrays, params)]).astype(np.float64, copy=False)


class _SecondOrder(Optimizer):
    """The common part: the closure's loss, its flat gradient as a graph, and the update."""

    def _validate(self, group):
        super()._validate(group)
        check_nonnegative(group, "damping")

    def _params(self) -> list:
        return [p for group in self.param_groups for p in group["params"]]

    def _per_coordinate(self, key: str) -> np.ndarray:
        """A group option spread over the flat parameter vector."""
        return np.concatenate([np.full(p.size, float(group[key]))
                               for group in self.param_groups for p in group["params"]])

    def _loss_and_gradient(self, closure):
        """(loss, params, g): g is the flat gradient, a Tensor whose graph can be differentiated
        again (None when the loss is linear in the parameters: then the Hessian is zero)."""
        name = type(self).__name__
        if closure is None:
            raise RuntimeError(
                f"{name}.step needs a closure that computes and returns the loss, e.g. "
                f"opt.step(lambda: loss_fn(model(x), y)); it may call backward() or not"
            )
        with enable_grad(), keep_graphs():
            loss = closure()
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise TypeError(f"{name}: the closure must return the scalar loss as a Tensor, got "
                            f"{type(loss).__name__}{getattr(loss, 'shape', '')}")
        if not loss.requires_grad:
            raise RuntimeError(f"{name}: the closure's loss does not depend on the parameters "
                               "(was it computed under no_grad, or from detached tensors?)")
        params = self._params()
        with enable_grad():
            grads = autograd_grad(loss, params, create_graph=True, allow_unused=True)
        pieces = [(g if g is not None else Tensor(np.zeros(p.shape, dtype=p.dtype))).reshape(-1)
                  for g, p in zip(grads, params)]
        flat = Tensor.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        if not np.all(np.isfinite(flat.data)):
            raise FloatingPointError(f"{name}: the gradient is not finite at the current parameters")
        return loss, params, flat

    def _apply(self, params, direction: np.ndarray, loss):
        """theta <- theta - lr * direction, slice by slice; records step and direction."""
        step = self._per_coordinate("lr") * direction
        offset = 0
        for p in params:
            d = direction[offset:offset + p.size].reshape(p.shape)
            p.data -= step[offset:offset + p.size].reshape(p.shape).astype(p.dtype, copy=False)
            increment_version(p)  # graphs recorded before the step refuse to backward (as in PyTorch)
            offset += p.size
            state = self.state[p]
            state["step"] = state.get("step", 0) + 1
            state["direction"] = d.astype(p.dtype)
        return loss


class Newton(_SecondOrder):
    """Full Newton steps: theta <- theta - lr * (H + damping I)^-1 g, with the gradient g and the
    Hessian H of the closure's loss with respect to all parameters (flattened) computed by the
    framework: grad with create_graph=True, then one backward pass per Hessian row.

    Refuses models with more than `max_params` parameters (the Hessian has max_params^2 entries);
    use NewtonCG there. A singular H falls back to the least-squares (minimum-norm) direction,
    with a warning suggesting damping. At a non-convex point the step heads for the stationary
    point Newton's model predicts, which may be a saddle: add damping.

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([0.0, 0.0], requires_grad=True)
    >>> opt = Newton([w])
    >>> _ = opt.step(lambda: ((w - Tensor([1.0, 2.0])) ** 2).sum() * 3.0)  # a quadratic: one step
    >>> w.tolist()
    [1.0, 2.0]
    """

    def __init__(self, params: Iterable, lr: float = 1.0, damping: float = 0.0,
                 max_params: int = DEFAULT_MAX_PARAMS):
        super().__init__(params, dict(lr=lr, damping=damping))
        self.max_params = max_params
        self._check_size()

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (and check the total stays within max_params)."""
        super().add_param_group(param_group)
        if hasattr(self, "max_params"):
            self._check_size()

    def _check_size(self):
        n = sum(p.size for p in self._params())
        if n > self.max_params:
            raise ValueError(
                f"Newton: the model has {n:,} parameters, so its Hessian would have {n:,}^2 = "
                f"{n * n:,} entries and take {n:,} backward passes (max_params={self.max_params:,}). "
                "Use optim.NewtonCG, which needs only Hessian-vector products, or raise max_params."
            )

    def hessian(self, closure: Callable) -> tuple:
        """(loss, gradient, Hessian) at the current parameters: the gradient and the Hessian of
        the flattened parameters as float64 numpy arrays."""
        loss, params, g = self._loss_and_gradient(closure)
        n = g.size
        h = np.zeros((n, n))
        if g.requires_grad:  # else the loss is linear in the parameters: H = 0
            with enable_grad():
                for i in range(n):
                    row = autograd_grad(g[i], params, retain_graph=True, allow_unused=True)
                    h[i] = _flat(row, params)
            h = (h + h.T) / 2  # symmetric up to rounding; make it exactly so
        return loss, g.data.astype(np.float64), h

    def step(self, closure: Callable | None = None):
        """One Newton step; returns the closure's loss (before the step)."""
        loss, g, h = self.hessian(closure)
        h[np.diag_indices_from(h)] += self._per_coordinate("damping")
        if not np.all(np.isfinite(h)):
            raise FloatingPointError("Newton: the Hessian is not finite at the current parameters")
        try:
            direction = np.linalg.solve(h, g)
            ok = np.all(np.isfinite(direction))
        except np.linalg.LinAlgError:
            ok = False
        if not ok:
            warnings.warn("Newton: the Hessian is singular; taking the least-squares (minimum-norm) "
                          "direction. Pass damping > 0 (e.g. 1e-4) for a well-posed step.",
                          RuntimeWarning, stacklevel=2)
            direction = np.linalg.lstsq(h, g, rcond=None)[0]
        return self._apply(self._params(), direction, loss)


class NewtonCG(_SecondOrder):
    """Hessian-free Newton: solves (H + damping I) d = g by conjugate gradient, each H v being a
    Hessian-vector product (a second backward pass, the gradient of g . v), so the Hessian is
    never formed and any model size works. CG stops after cg_iters iterations, at residual norm
    <= tol * |g| (relative, so the method does not depend on the loss's scale, as Newton's
    does not), or on negative curvature (then it keeps the direction found so far, or -g at
    first).

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([0.0, 0.0], requires_grad=True)
    >>> opt = NewtonCG([w])
    >>> _ = opt.step(lambda: ((w - Tensor([1.0, 2.0])) ** 2).sum() * 3.0)
    >>> [round(v, 5) for v in w.tolist()], opt.cg_iterations
    ([1.0, 2.0], 1)
    """

    def __init__(self, params: Iterable, lr: float = 1.0, cg_iters: int = 50,
                 damping: float = 0.0, tol: float = 1e-10):
        if cg_iters < 1:
            raise ValueError(f"Invalid cg_iters value: {cg_iters}")
        check_hyperparameter(0.0 <= tol, f"Invalid tol value: {tol}")
        self.cg_iters, self.tol = cg_iters, tol
        self.cg_iterations = 0  # how many CG iterations the last step used
        super().__init__(params, dict(lr=lr, damping=damping))

    def step(self, closure: Callable | None = None):
        """One truncated Newton step; returns the closure's loss (before the step)."""
        loss, params, g = self._loss_and_gradient(closure)
        damping = self._per_coordinate("damping")

        def hv(v: np.ndarray) -> np.ndarray:
            if not g.requires_grad:  # linear loss: H = 0
                return damping * v
            with enable_grad():
                prods = autograd_grad((g * Tensor(v.astype(g.dtype))).sum(), params,
                                      retain_graph=True, allow_unused=True)
            return _flat(prods, params) + damping * v

        b = g.data.astype(np.float64)
        x = np.zeros_like(b)
        r = b.copy()  # residual b - A x
        d = r.copy()
        rs = r @ r
        iters = 0
        # NOTE: a relative tolerance: an absolute one would make a loss times 1e-12 (or a mean
        # near the optimum) stop CG before its first iteration, and the step would be zero
        stop = self.tol * np.sqrt(rs)
        while iters < self.cg_iters and np.sqrt(rs) > stop:
            hd = hv(d)
            curvature = d @ hd
            iters += 1
            if curvature <= 0:  # negative curvature: Newton's model has no minimum along d
                if not x.any():
                    x = b.copy()
                break
            alpha = rs / curvature
            x += alpha * d
            r -= alpha * hd
            rs_new = r @ r
            d = r + (rs_new / rs) * d
            rs = rs_new
        self.cg_iterations = iters
        return self._apply(params, x, loss)
