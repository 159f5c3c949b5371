"""Module and Parameter: PyTorch's surface (parameters, state_dict, train/eval, repr), small inside.

Parameters and sub-modules are found by walking a module's attributes, lists and dicts in the order
they were set; there is no registration step. Buffers (running statistics and the like) are the one
thing that is registered, with `register_buffer`, because a plain Tensor attribute could be either.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from ..autograd import module_scope
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a model parameter: it requires grad and modules find it automatically.

    >>> p = Parameter(Tensor.zeros(2))
    >>> p.requires_grad, p.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model: subclass it, set layers/parameters as attributes in
    `__init__`, and write `forward`.

    >>> from tinygrad_lite.nn import Linear
    >>> class TwoLayer(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1, self.fc2 = Linear(4, 3), Linear(3, 1)
    ...     def forward(self, x):
    ...         return self.fc2(self.fc1(x).relu())
    >>> net = TwoLayer()
    >>> [name for name, _ in net.named_parameters()]
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    >>> net.num_parameters()
    19
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_buffers", OrderedDict())

    def __setattr__(self, name, value):
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if not (value is None or isinstance(value, Tensor)):
                raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(value).__name__}")
            buffers[name] = value
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        with module_scope(self):  # tags the ops recorded inside, for drawing graphs per module
            return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # -------------------------------------------------------------------------- discovery ----
    def _members(self):
        """(name, value) of attributes that hold parameters, modules, lists or dicts of them."""
        for name, value in self.__dict__.items():
            if name.startswith("_") or name == "training":
                continue
            yield name, value

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their names (list/dict members get dotted indices)."""
        seen = set()
        for name, value in self._members():
            for child_name, child in _walk(name, value, Module):
                if id(child) not in seen:
                    seen.add(id(child))
                    yield child_name, child

    def children(self) -> Iterator[Module]:
        """Direct sub-modules."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module ("") and every sub-module, depth first, with dotted names."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, c) for n, c in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(dotted name, Parameter) pairs, each parameter once even if shared."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, value in module._members():
                for p_name, p in _walk(name, value, Parameter):
                    if id(p) not in seen:
                        seen.add(id(p))
                        yield (f"{mod_name}.{p_name}" if mod_name else p_name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (each once)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def register_buffer(self, name: str, tensor) -> None:
        """Keep a non-parameter tensor (e.g. running statistics) in state_dict."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    def named_buffers(self, prefix: str = ""):
        """(dotted name, buffer) pairs of this module and its sub-modules."""
        for mod_name, module in self.named_modules(prefix):
            for name, buf in module._buffers.items():
                if buf is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), buf

    def buffers(self):
        """Every buffer."""
        for _, b in self.named_buffers():
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """How many numbers the parameters hold (13,002 for the lesson's 784-16-16-10 MLP)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # --------------------------------------------------------------------------- training ----
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout, batch norm) on this module and every sub-module."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode; same as train(False)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor(np.zeros_like(p.grad.data))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter (freeze or unfreeze)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # ------------------------------------------------------------------------- state dict ----
    def state_dict(self) -> OrderedDict:
        """Parameters and buffers by dotted name, as numpy arrays (copies), like PyTorch's layout."""
        out = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = p.data.copy()
        for name, b in self.named_buffers():
            out[name] = b.data.copy()
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values (arrays or Tensors) into parameters and buffers. Everything is checked before
        anything is written, so a failed load changes nothing. Returns (missing, unexpected)."""
        own = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        given = {k: (v.data if isinstance(v, Tensor) else np.asarray(v)) for k, v in state_dict.items()}
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        mismatched = [f"{k}: checkpoint {given[k].shape} vs model {tuple(own[k].shape)}"
                      for k in own if k in given and given[k].shape != own[k].shape]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        if mismatched:
            problems.append(f"shape mismatch: {'; '.join(mismatched)}")
        if problems:
            raise KeyError(
                f"load_state_dict into {type(self).__name__} failed (nothing was changed): "
                + " | ".join(problems)
                + ("" if not strict else ". Pass strict=False to load a subset.")
            )
        for k, target in own.items():
            if k in given:
                target.data = given[k].astype(target.data.dtype, copy=True)
        return missing, unexpected

    # ------------------------------------------------------------------------------- repr ----
    def extra_repr(self) -> str:
        """The settings shown inside this module's repr, e.g. `in_features=784, out_features=16`."""
        return ""

    def __repr__(self):
        children = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


def _walk(name, value, kind):
    """(name, item) for every `kind` instance in value, looking into lists, tuples and dicts."""
    if isinstance(value, kind):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(f"{name}.{i}", item, kind)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(f"{name}.{key}", item, kind)


class Sequential(Module):
    """Modules applied one after the other.

    >>> from tinygrad_lite.nn import Linear, Sigmoid
    >>> model = Sequential(Linear(784, 16), Sigmoid(), Linear(16, 16), Sigmoid(), Linear(16, 10))
    >>> model.num_parameters()
    13002
    >>> model(Tensor.zeros(2, 784)).shape
    (2, 10)
    """

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            modules = tuple(modules[0].items())
        else:
            modules = tuple((str(i), m) for i, m in enumerate(modules))
        for name, module in modules:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, got {type(module).__name__} for {name}")
            object.__setattr__(self, name, module)

    def _layers(self):
        return [v for v in self.__dict__.values() if isinstance(v, Module)]

    def forward(self, x):
        for layer in self._layers():
            x = layer(x)
        return x

    def __getitem__(self, index):
        layers = self._layers()
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def __len__(self):
        return len(self._layers())

    def __iter__(self):
        return iter(self._layers())

    def append(self, module: Module) -> Sequential:
        """Add a module at the end."""
        object.__setattr__(self, str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters the parent finds (index it like a list)."""

    def __init__(self, modules=()):
        super().__init__()
        self.items = list(modules)

    def named_children(self):
        for i, m in enumerate(self.items):
            yield str(i), m

    def _members(self):
        return iter(())

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end."""
        self.items.append(module)
        return self


class ModuleDict(Module):
    """A dict of modules whose parameters the parent finds."""

    def __init__(self, modules=None):
        super().__init__()
        self.items = dict(modules or {})

    def named_children(self):
        yield from self.items.items()

    def _members(self):
        return iter(())

    def __getitem__(self, key):
        return self.items[key]

    def __setitem__(self, key, module):
        self.items[key] = module

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def keys(self):
        return self.items.keys()

    def values(self):
        return self.items.values()
