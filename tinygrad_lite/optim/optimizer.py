"""The Optimizer base class: parameter groups, lazily created per-parameter state with PyTorch's
key names, zero_grad, step(closure), state_dict / load_state_dict.

A subclass writes only its maths, in `update(p, grad, state, group)`, on numpy arrays: updates
happen in place on `p.data`, outside the graph, in the parameter's own dtype (state arrays are
made with `np.zeros_like(p.data)`, and hyper-parameters are Python floats, so float32 stays
float32).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np

from ..autograd import clear_grads, enable_grad, increment_version
from ..tensor import Tensor


def check_hyperparameter(ok: bool, message: str) -> None:
    """Raise PyTorch's `ValueError(message)` unless `ok` (written `not 0.0 <= x`, so NaN fails)."""
    if not ok:
        raise ValueError(message)


def check_nonnegative(group: dict, *keys: str) -> None:
    """PyTorch's `ValueError("Invalid <name> value: x")` for each option in `keys` below zero (or
    NaN); `eps` is named "epsilon", as PyTorch does."""
    for key in keys:
        name = "epsilon" if key == "eps" else key
        check_hyperparameter(0.0 <= group[key], f"Invalid {name} value: {group[key]}")


CHUNK = 32768  # items per block: a float32 block of Adam's 4 arrays and 2 scratches is 768 KB (L2)


def blocks(*arrays: np.ndarray) -> tuple:
    """For an update done in place block by block: (the largest block's shape, for scratch
    arrays; a list with each block's views of `arrays`, which share one shape). Blocks of CHUNK
    items of the flattened arrays when all are C-contiguous, else one block of the arrays
    themselves (e.g. a transposed parameter).

    NOTE: lists, not tuple(generator): such a tuple is made larger, then shrunk, and CPython
    keeps each freed one on its free list for tuples of the smaller size (up to 2000 of them),
    while the next call makes a new large one: 145 KiB held for good after 2000 steps
    (tracemalloc counts it, and it was part of the peak of a training run)."""
    if not all(a.flags.c_contiguous for a in arrays):
        return arrays[0].shape, [arrays]
    flat = [a.reshape(-1) for a in arrays]
    size = flat[0].size
    return (min(size, CHUNK),), [[a[i:i + CHUNK] for a in flat] for i in range(0, size, CHUNK)]


_SET_MESSAGE = ("optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead.")


class Optimizer:
    """Base class: `Optimizer(params, defaults)`; params is an iterable of Tensors or of dicts
    (parameter groups) whose options override the defaults for their parameters.

    >>> from tinygrad_lite import Tensor
    >>> from tinygrad_lite.optim import SGD
    >>> w, b = Tensor([1.0], requires_grad=True), Tensor([0.0], requires_grad=True)
    >>> opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> [g["lr"] for g in opt.param_groups]
    [0.1, 0.5]
    """

    def __init__(self, params: Iterable, defaults: dict):
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.state: defaultdict = defaultdict(dict)  # parameter Tensor -> its state (identity keys)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor (wrap it in a list: [w])")
        if isinstance(params, set):
            raise TypeError(_SET_MESSAGE)
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a different lr)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise ValueError("a parameter group needs a 'params' entry")
        params = group["params"]
        if isinstance(params, set):
            raise TypeError(_SET_MESSAGE)
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.requires_grad:
                raise ValueError(f"optimizing a parameter (shape {p.shape}) that doesn't require "
                                 "gradients: create it with requires_grad=True")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (one made by an operation); "
                                 "optimize the leaf it was computed from")
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError("a parameter group contains the same parameter more than once")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        for key, value in group.items():  # NOTE: np.float64(1e-3) * a float32 array is float64
            if isinstance(value, np.generic):  # (numpy 2), so numpy scalars become Python ones
                group[key] = value.item()
            elif isinstance(value, tuple) and any(isinstance(v, np.generic) for v in value):
                group[key] = tuple(v.item() if isinstance(v, np.generic) else v for v in value)
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict) -> None:
        """Check a group's (or the defaults') hyper-parameters with PyTorch's messages; subclasses
        with more options override it (calling this first, as PyTorch checks lr first)."""
        check_hyperparameter(0.0 <= group["lr"], f"Invalid learning rate: {group['lr']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: None by default, else a zero array of its shape."""
        for group in self.param_groups:
            if set_to_none:
                clear_grads(group["params"])
                continue
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = Tensor(np.zeros_like(p.grad.data))

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient (those whose grad is None are
        skipped); the closure, if given, is called first under enable_grad and its loss returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        state, update = self.state, self.update
        for group in self.param_groups:
            updated = []
            for p in group["params"]:
                grad = p.grad
                if grad is not None:  # (its shape was checked where it was assigned)
                    update(p, grad.data, state[p], group)
                    updated.append(p)
            # bump the versions, as PyTorch's in-place updates do: a graph recorded before this
            # step then refuses to backward (it would use the new values)
            increment_version(*updated)
        return loss

    def update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        """Update p.data in place from its gradient array; `state` persists between steps."""
        raise NotImplementedError(f"{type(self).__name__} must implement update(p, grad, state, group)")

    # ------------------------------------------------------- helpers for update() in subclasses ----
    def _direction(self, p: Tensor, grad: np.ndarray, group: dict) -> np.ndarray:
        """The gradient an update follows: negated when the group maximizes, then weight decay
        applied by `_decay` (a new array: the parameter's .grad is never changed)."""
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            grad = self._decay(p, grad, group)
        return grad

    def _decay(self, p: Tensor, grad: np.ndarray, group: dict) -> np.ndarray:
        """L2 weight decay, folded into the gradient (AdamW overrides it: decoupled decay)."""
        return grad + group["weight_decay"] * p.data

    @staticmethod
    def _init_state(state: dict, p: Tensor, *buffers: str) -> None:
        """A parameter's state on its first step: `step` 0 and zero arrays of its shape and dtype."""
        state["step"] = 0
        for name in buffers:
            state[name] = np.zeros_like(p.data)

    # ------------------------------------------------------------------------- state dict ----
    def state_dict(self) -> dict:
        """PyTorch's layout: {"state": {index: {...}}, "param_groups": [{..., "params": [index]}]},
        parameters numbered in group order; arrays are copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else
                                               copy.deepcopy(v)) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what state_dict() returned (for the same parameters, in the same order); the
        arrays are copied, in each parameter's dtype. Nothing changes unless all of it fits."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            got = (f"keys {sorted(map(str, state_dict))}" if isinstance(state_dict, dict)
                   else f"a {type(state_dict).__name__}")
            raise ValueError("load_state_dict: state_dict must be a dict with 'state' and "
                             f"'param_groups' (what Optimizer.state_dict() returns), got {got}")
        groups, loaded = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not all(
                isinstance(g, dict) and isinstance(g.get("params"), (list, tuple)) for g in groups):
            raise ValueError("load_state_dict: param_groups must be a list of dicts, each with a "
                             "'params' list of parameter indices")
        if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
            raise ValueError("load_state_dict: state must be a dict {parameter index: dict of "
                             "state}")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(groups)}) than this optimizer ({len(self.param_groups)})")
        for i, (mine, theirs) in enumerate(zip(self.param_groups, groups)):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match "
                                 f"the size of optimizer's group: group {i} has "
                                 f"{len(theirs['params'])} parameters there, "
                                 f"{len(mine['params'])} here")
        params = {i: p for mine, theirs in zip(self.param_groups, groups)
                  for i, p in zip(theirs["params"], mine["params"])}
        new_state: defaultdict = defaultdict(dict)
        for key, values in loaded.items():
            try:
                p = params[int(key)]
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"load_state_dict: state has an entry for parameter {key!r}, but "
                                 f"param_groups number the parameters {sorted(params)}") from None
            entry = {}
            for k, v in values.items():
                if isinstance(v, np.ndarray):
                    if v.shape != p.shape:
                        raise ValueError(f"loaded state {k!r} of parameter {key} has shape "
                                         f"{v.shape}, but the parameter has shape {p.shape}")
                    v = np.array(v, dtype=p.dtype if v.dtype.kind == "f" else v.dtype)
                else:
                    v = copy.deepcopy(v)
                entry[k] = v
            new_state[p] = entry
        for mine, theirs in zip(self.param_groups, groups):
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"
