"""L-BFGS, PyTorch's algorithm (after minFunc): a quasi-Newton method that builds its inverse-Hessian
approximation from the last `history_size` steps and gradient changes, optionally with a line search
satisfying the strong Wolfe conditions. Beside Newton (exact Hessian, small models) it needs only
gradients, so it scales to any model that fits a full-batch closure.

Like PyTorch's, one `step(closure)` runs up to `max_iter` iterations; all parameters form one flat
vector (one parameter group); the state has PyTorch's keys (`func_evals`, `n_iter`, `d`, `t`,
`old_dirs`, `old_stps`, `ro`, `H_diag`, `prev_flat_grad`, `prev_loss`, `al`), kept on the first
parameter. The maths runs on numpy vectors in the parameters' dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..autograd import enable_grad, increment_version
from ..functional import grad as autograd_grad
from ..tensor import Tensor
from .optimizer import Optimizer, check_hyperparameter

_FLAT_STATE = ("d", "prev_flat_grad")  # flat vectors: not shaped like the first parameter


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to
    the bounds (default: between x1 and x2); their midpoint if the cubic has no minimum."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Line search along d from x for a step t meeting the strong Wolfe conditions
    (f(x + t d) <= f + c1 t gtd and |g(x + t d) . d| <= c2 |gtd|): bracketing, then zoom by cubic
    interpolation. Returns (f_new, g_new, t, evaluations)."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

    if ls_iter == max_ls:  # out of evaluations while bracketing
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point meets the conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # NOTE: a trial too close to the bracket's ends twice running (or outside it) is moved
        # to 10% of its width inside, so the bracket keeps shrinking
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # not enough decrease, or above the lowest point: the new high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # the Wolfe conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old low end becomes the high end
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    """L-BFGS with PyTorch's options and results: lr (the step, or the line search's first
    trial), max_iter iterations per step, max_eval closure calls (default max_iter * 5 // 4),
    stopping when the largest gradient entry is <= tolerance_grad or a step or loss change is
    below tolerance_change; history_size pairs kept; line_search_fn None (fixed steps) or
    "strong_wolfe".

    `step(closure)` needs the closure, which re-evaluates the loss. PyTorch's habit
    (`opt.zero_grad(); loss = f(); loss.backward(); return loss`) works; so does a closure that
    only returns the loss: L-BFGS clears the gradients before each call and, if the closure left
    them all None, differentiates the returned loss itself (so forgetting zero_grad cannot
    silently accumulate stale gradients).

    >>> from tinygrad_lite import Tensor
    >>> w = Tensor([0.0, 0.0], requires_grad=True)
    >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
    >>> _ = opt.step(lambda: ((w - Tensor([1.0, 2.0])) ** 2).sum())
    >>> [round(v, 6) for v in w.tolist()]
    [1.0, 2.0]
    """

    def __init__(self, params: Iterable, lr: float = 1.0, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._dtype = np.result_type(*[p.dtype for p in self._params])

    def _validate(self, group):
        super()._validate(group)
        for key in ("max_iter", "max_eval", "history_size"):
            check_hyperparameter(isinstance(group[key], (int, np.integer)) and group[key] >= 1,
                                 f"Invalid {key} value: {group[key]} (a positive integer)")
        check_hyperparameter(group["line_search_fn"] in (None, "strong_wolfe"),
                             f"only 'strong_wolfe' is supported, got "
                             f"line_search_fn={group['line_search_fn']!r}")

    def add_param_group(self, param_group: dict) -> None:
        """Refused after construction: L-BFGS has one parameter group (as in PyTorch)."""
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _numel(self) -> int:
        return sum(p.size for p in self._params)

    # ------------------------------------------------------------ the flat parameter vector ----
    def _evaluate(self, closure: Callable) -> tuple:
        """(loss Tensor, loss as a float, flat gradient) at the current parameters."""
        for p in self._params:
            p.grad = None
        with enable_grad():
            loss = closure()
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise TypeError(f"LBFGS: the closure must return the scalar loss as a Tensor, got "
                            f"{type(loss).__name__}{getattr(loss, 'shape', '')}")
        grads = [p.grad for p in self._params]
        if all(g is None for g in grads):  # the closure did not call backward: do it here
            if not loss.requires_grad:
                raise RuntimeError("LBFGS: the closure's loss does not depend on the parameters "
                                   "(was it computed under no_grad, or from detached tensors?)")
            with enable_grad():
                grads = autograd_grad(loss, self._params, allow_unused=True)
        flat = np.concatenate([np.zeros(p.size, self._dtype) if g is None
                               else g.data.reshape(-1).astype(self._dtype, copy=False)
                               for g, p in zip(grads, self._params)])
        return loss, float(loss.item()), flat

    def _add_grad(self, step_size, update: np.ndarray) -> None:
        """theta <- theta + step_size * update, announced to the engine."""
        offset = 0
        for p in self._params:
            p.data += (step_size * update[offset:offset + p.size]).reshape(p.shape).astype(
                p.dtype, copy=False)
            increment_version(p)
            offset += p.size

    def _set_param(self, values: list) -> None:
        for p, v in zip(self._params, values):
            p.data[...] = v
            increment_version(p)

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        _, loss, flat_grad = self._evaluate(closure)
        self._set_param(x)
        return loss, flat_grad

    # ----------------------------------------------------------------------------- the step ----
    def step(self, closure: Callable | None = None):  # noqa: C901 (PyTorch's algorithm, whole)
        """Up to max_iter L-BFGS iterations; returns the closure's loss at the starting point."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the model and "
                               "returns the loss, e.g. opt.step(lambda: loss_fn(model(x), y))")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss, flat_grad = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        if np.abs(flat_grad).max(initial=0.0) <= tolerance_grad:
            return orig_loss  # already optimal

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the direction: steepest descent first, then the two-loop recursion
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # NOTE: only pairs with positive curvature keep H positive definite
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = r = q * h_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction any more
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = [p.data.copy() for p in self._params]

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # NOTE: PyTorch skips the evaluation after the last one
                    _, loss, flat_grad = self._evaluate(closure)
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:  # the step is too small
                break
            if abs(loss - prev_loss) < tolerance_change:  # the loss no longer changes
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    # ------------------------------------------------------------------------- state dict ----
    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what state_dict() returned; the flat vectors (`d`, `prev_flat_grad`) must have
        one entry per parameter element. Nothing changes unless all of it fits."""
        entries = state_dict.get("state") if isinstance(state_dict, dict) else None
        flat: dict = {}
        if isinstance(entries, dict):
            stripped = {}
            for key, entry in entries.items():
                if isinstance(entry, dict):
                    flat[key] = {k: v for k, v in entry.items() if k in _FLAT_STATE}
                    entry = {k: v for k, v in entry.items() if k not in _FLAT_STATE}
                stripped[key] = entry
            state_dict = {**state_dict, "state": stripped}
        n = self._numel()
        for vectors in flat.values():
            for name, v in vectors.items():
                if v is not None and np.shape(v) != (n,):
                    raise ValueError(f"loaded LBFGS state {name!r} has shape {np.shape(v)}, but "
                                     f"the parameters have {n} elements in all")
        super().load_state_dict(state_dict)
        params = {i: p for i, p in enumerate(self._params)}
        for key, vectors in flat.items():
            entry = self.state[params[int(key)]]
            for name, v in vectors.items():
                entry[name] = None if v is None else np.array(v, dtype=self._dtype)
