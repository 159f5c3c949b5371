"""Newton's method with the framework's own gradient and Hessian, and its Hessian-free cousin.

Both need `step(closure)`: the closure computes and returns the loss. It need not call backward;
if it does (PyTorch's habit: `opt.zero_grad(); loss.backward(); return loss`), it runs under
`autograd.keep_graphs()`, so the graph survives for Newton's own double differentiation.
"""

from __future__ import annotations

import numpy as np

from ..autograd import enable_grad, keep_graphs
from ..functional import grad as autograd_grad
from ..tensor import Tensor
from .optimizer import Optimizer

DEFAULT_MAX_PARAMS = 2000  # a 2000 x 2000 float64 Hessian is 32 MB and 2000 backward passes


class _SecondOrder(Optimizer):
    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def _loss_and_gradient(self, closure):
        if closure is None:
            raise RuntimeError(
                f"{type(self).__name__}.step needs a closure that computes and returns the loss: "
                "opt.step(lambda: loss_fn(model(x), y))"
            )
        with enable_grad(), keep_graphs():
            loss = closure()
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise TypeError(f"{type(self).__name__}: the closure must return the scalar loss Tensor")
        params = self._params()
        with enable_grad():
            grads = autograd_grad(loss, params, create_graph=True, allow_unused=True)
        grads = [g if g is not None else Tensor(np.zeros(p.shape, dtype=p.dtype))
                 for g, p in zip(grads, params)]
        flat = Tensor.concatenate([g.reshape(-1) for g in grads]) if grads else None
        return loss, params, flat

    def _apply(self, params, direction, lr, loss):
        offset = 0
        for p in params:
            d = direction[offset:offset + p.size].reshape(p.shape)
            offset += p.size
            p.data -= (lr * d).astype(p.dtype)
            state = self.state.setdefault(p, {"step": 0})
            state["step"] += 1
            state["direction"] = d.copy()
        return loss


class Newton(_SecondOrder):
    """Full Newton steps: theta <- theta - lr * (H + damping I)^-1 g, with g and the Hessian H of
    the closure's loss with respect to all parameters (flattened) computed by the framework
    (grad with create_graph=True, then one backward pass per Hessian row).

    Refuses models with more than `max_params` parameters (the Hessian has max_params^2 entries);
    use NewtonCG there.
    """

    def __init__(self, params, lr: float = 1.0, damping: float = 0.0,
                 max_params: int = DEFAULT_MAX_PARAMS):
        if damping < 0.0:
            raise ValueError(f"Invalid damping value: {damping}")
        super().__init__(params, dict(lr=lr, damping=damping))
        n = sum(p.size for p in self._params())
        if n > max_params:
            raise ValueError(
                f"Newton: the model has {n} parameters, so its Hessian would have {n}^2 = {n * n:,} "
                f"entries (more than max_params={max_params} allows). Use optim.NewtonCG, which "
                "needs only Hessian-vector products, or raise max_params."
            )
        self.max_params = max_params

    def hessian(self, closure):
        """(loss, gradient, Hessian) at the current parameters, as float64 numpy arrays."""
        loss, params, g = self._loss_and_gradient(closure)
        n = g.size
        rows = np.zeros((n, n))
        with enable_grad():
            for i in range(n):
                row = autograd_grad(g[i], params, retain_graph=True, allow_unused=True)
                rows[i] = np.concatenate([
                    (r.data if r is not None else np.zeros(p.shape)).reshape(-1)
                    for r, p in zip(row, params)
                ])
        return loss, g.data.astype(np.float64), (rows + rows.T) / 2  # symmetric up to rounding

    def step(self, closure=None):
        loss, g, h = self.hessian(closure)
        group = self.param_groups[0]
        h = h + group["damping"] * np.eye(len(g))
        try:
            direction = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            # singular Hessian: the least-squares (minimum-norm) Newton direction
            direction = np.linalg.lstsq(h, g, rcond=None)[0]
        return self._apply(self._params(), direction, group["lr"], loss)


class NewtonCG(_SecondOrder):
    """Hessian-free Newton: solves (H + damping I) d = g by conjugate gradient, with each H v a
    Hessian-vector product (a second backward pass through the gradient), so the Hessian is never
    formed. Stops after cg_iters iterations, at residual norm <= tol, or at negative curvature."""

    def __init__(self, params, lr: float = 1.0, cg_iters: int = 50, damping: float = 0.0,
                 tol: float = 1e-10):
        if cg_iters < 1:
            raise ValueError(f"Invalid cg_iters value: {cg_iters}")
        if damping < 0.0:
            raise ValueError(f"Invalid damping value: {damping}")
        super().__init__(params, dict(lr=lr, cg_iters=cg_iters, damping=damping, tol=tol))

    def step(self, closure=None):
        loss, params, g = self._loss_and_gradient(closure)
        group = self.param_groups[0]
        damping = group["damping"]

        def hv(v):
            with enable_grad():
                prods = autograd_grad((g * Tensor(v.astype(g.dtype))).sum(), params,
                                      retain_graph=True, allow_unused=True)
            flat = np.concatenate([(r.data if r is not None else np.zeros(p.shape)).reshape(-1)
                                   for r, p in zip(prods, params)]).astype(np.float64)
            return flat + damping * v

        b = g.data.astype(np.float64)
        x = np.zeros_like(b)
        r = b.copy()
        d = r.copy()
        rs = r @ r
        iters = 0
        for iters in range(1, group["cg_iters"] + 1):
            if np.sqrt(rs) <= group["tol"]:
                iters -= 1
                break
            hd = hv(d)
            curvature = d @ hd
            if curvature <= 0:  # negative curvature: stop (fall back to the gradient at first)
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
        return self._apply(params, x, group["lr"], loss)
