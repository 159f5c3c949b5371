"""Module and Parameter: PyTorch's surface (parameters, state_dict, train/eval, repr), small inside.

Parameters and sub-modules are found by walking a module's attributes, lists and dicts in the order
they were set; there is no registration step. Buffers (running statistics and the like) are the one
thing that is registered, with `register_buffer`, because a plain Tensor attribute could be either.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from ..autograd import clear_grads, increment_version, module_call
from ..tensor import Tensor, device


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

    training: bool = True  # NOTE: class defaults, so a subclass that forgets super().__init__() works

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_buffers", OrderedDict())

    def __setattr__(self, name, value):
        if (isinstance(value, Tensor) and not isinstance(value, Parameter)
                and isinstance(self.__dict__.get(name), Parameter)):
            # NOTE: a plain Tensor over a parameter would silently drop it from parameters(),
            # state_dict() and the optimizer (PyTorch refuses the same assignment)
            raise TypeError(
                f"cannot assign a Tensor to parameter {name!r} of {type(self).__name__}: wrap it "
                f"(nn.Parameter(t)) or copy the values in (self.{name}.data = t.data)"
            )
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if not (value is None or isinstance(value, Tensor)):
                raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(value).__name__}")
            buffers[name] = value
        object.__setattr__(self, name, value)

    # Calling a module runs its forward with the ops recorded inside tagged with the module, for
    # drawing graphs per module: the engine's hook, `autograd.module_call`, is the method itself.
    __call__ = module_call

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # -------------------------------------------------------------------------- discovery ----
    _internal: tuple = ()  # a container's own bookkeeping attributes (never walked)

    def _members(self):
        """(name, value) of attributes that hold parameters, modules, lists or dicts of them.

        NOTE: private names count too (`self._encoder = Linear(...)` is a child, as in PyTorch);
        skipping them once lost such parameters silently. Only the bookkeeping is left out.
        """
        internal = self._internal
        for name, value in self.__dict__.items():
            if name == "training" or name == "_buffers" or name in internal:
                continue
            yield name, value

    def _child_items(self):
        """(name, module) of every direct sub-module slot, a module held twice included."""
        for name, value in self._members():
            yield from _walk(name, value, Module)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their names (list/dict members get dotted indices), each once."""
        seen = set()
        for child_name, child in self._child_items():
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
        if "_buffers" not in self.__dict__:
            object.__setattr__(self, "_buffers", OrderedDict())
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    def named_buffers(self, prefix: str = ""):
        """(dotted name, buffer) pairs of this module and its sub-modules."""
        for mod_name, module in self.named_modules(prefix):
            for name, buf in module.__dict__.get("_buffers", {}).items():
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
        if set_to_none:
            clear_grads(list(self.parameters()))
            return
        for p in self.parameters():
            if p.grad is not None:
                p.grad = Tensor(np.zeros_like(p.grad.data))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter (freeze or unfreeze)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn) -> Module:
        """Call fn on every sub-module (children first) and then on this module, PyTorch's idiom
        for custom initialization; returns self.

        >>> from tinygrad_lite.nn import Linear, init
        >>> def zero_biases(m):
        ...     if isinstance(m, Linear):
        ...         init.zeros_(m.bias)
        >>> Sequential(Linear(2, 3), Linear(3, 1)).apply(zero_biases)[1].bias.tolist()
        [0.0]
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def double(self) -> Module:
        """Convert floating-point parameters and buffers to float64 in place (for gradcheck)."""
        return self._cast(np.float64)

    def float(self) -> Module:
        """Convert floating-point parameters and buffers to float32 in place."""
        return self._cast(np.float32)

    def to(self, *args, **kwargs) -> Module:
        """PyTorch's Module.to: to(device), to(dtype), to(device, dtype) or to(tensor); returns
        self. A floating dtype casts the floating-point parameters and buffers in place; the
        only device is the CPU, and any other is an error, not a silent no-op.

        >>> from tinygrad_lite.nn import Linear
        >>> Linear(2, 3).to("cpu", np.float64).weight.dtype
        dtype('float64')
        """
        dtype = kwargs.pop("dtype", None)
        target = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device)):
                target = a
            else:
                dtype = a
        if target is not None:
            device(target)  # refuses anything but the CPU, naming it
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={dtype}")
        return self._cast(dtype)

    def cpu(self) -> Module:
        """self (everything lives on the CPU)."""
        return self

    def _cast(self, dtype):
        for _, t in self._state_items():
            if t.data.dtype.kind == "f":
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad = None
        return self

    # ------------------------------------------------------------------------- state dict ----
    def _state_items(self, prefix: str = ""):
        """(dotted name, tensor) of every parameter and buffer, module by module (its parameters,
        then its buffers, then its children), as PyTorch orders a state dict. A parameter shared by
        two modules appears under both names, like PyTorch's (so tied weights load from it)."""
        for name, value in self._members():
            for p_name, p in _walk(name, value, Parameter):
                yield prefix + p_name, p
        for name, buf in self.__dict__.get("_buffers", {}).items():
            if buf is not None:
                yield prefix + name, buf
        for name, child in self._child_items():
            yield from child._state_items(f"{prefix}{name}.")

    def state_dict(self) -> OrderedDict:
        """Parameters and buffers by dotted name (PyTorch's names and order) as numpy arrays: copies,
        so later training does not change a saved state.

        >>> from tinygrad_lite.nn import Linear
        >>> {k: v.shape for k, v in Linear(3, 2).state_dict().items()}
        {'weight': (2, 3), 'bias': (2,)}
        """
        return OrderedDict((name, np.array(t.data)) for name, t in self._state_items())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values (numpy arrays, Tensors or numbers) into the parameters and buffers of the
        same names, cast to their dtypes. Everything is checked before anything is written, so a
        failed load changes nothing. Missing and unexpected keys are errors when strict (PyTorch's
        default); a shape mismatch always is. Returns (missing_keys, unexpected_keys).

        A PyTorch state dict loads as `model.load_state_dict({k: v.numpy() for k, v in sd.items()})`.
        """
        own = OrderedDict(self._state_items())
        given, bad_values = {}, []
        for k, v in state_dict.items():
            if k not in own:  # unexpected: only its name matters (strict=False ignores its value)
                given[k] = None
                continue
            try:
                arr = v.data if isinstance(v, Tensor) else np.asarray(v)
            except (ValueError, TypeError) as err:  # e.g. a ragged list
                bad_values.append(f"{k} ({err})")
                arr = np.zeros(tuple(own[k].shape))
            if arr.dtype.kind not in "biuf":
                bad_values.append(f"{k} (dtype {arr.dtype})")
            given[k] = arr
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        mismatched = [f"{k}: checkpoint shape {given[k].shape}, model shape {tuple(own[k].shape)}"
                      for k in own if k in given and given[k].shape != own[k].shape]
        problems = []
        if strict and missing:
            problems.append(f"Missing key(s): {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"Unexpected key(s): {', '.join(unexpected)}")
        if mismatched:
            problems.append(f"Size mismatch: {'; '.join(mismatched)}")
        if bad_values:
            problems.append(f"Not numeric: {', '.join(bad_values)}")
        if problems:
            hint = " (pass strict=False to load a subset)" if strict and (missing or unexpected) else ""
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}; nothing was changed"
                f"{hint}:\n\t" + "\n\t".join(problems)
            )
        for k, target in own.items():
            if k in given:
                target.data = given[k].astype(target.data.dtype, copy=True)
                increment_version(target)  # a graph recorded before the load refuses to backward
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

    _internal = ("_order",)

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            modules = tuple(modules[0].items())
        else:
            modules = tuple((str(i), m) for i, m in enumerate(modules))
        object.__setattr__(self, "_order", [])
        for name, module in modules:
            self._add(name, module)

    def _add(self, name, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential takes Modules, got {type(module).__name__} for {name}")
        object.__setattr__(self, name, module)
        self._order.append(module)

    def _layers(self):
        return self._order

    def forward(self, x):
        for layer in self._layers():
            x = layer(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._order[index])
        return self._order[index]

    def __len__(self):
        return len(self._layers())

    def __iter__(self):
        return iter(self._layers())

    def append(self, module: Module) -> Sequential:
        """Add a module at the end."""
        self._add(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters the parent finds (index, iterate, append like a list).

    >>> from tinygrad_lite.nn import Linear
    >>> layers = ModuleList([Linear(2, 2) for _ in range(3)])
    >>> len(layers), [n for n, _ in layers.named_parameters()][:2]
    (3, ['0.weight', '0.bias'])
    """

    _internal = ("_list",)

    def __init__(self, modules=()):
        super().__init__()
        self._list = []
        self.extend(modules)

    def _child_items(self):
        for i, m in enumerate(self._list):
            yield str(i), m

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(self._list[index])
        return self._list[index]

    def __setitem__(self, index: int, module: Module) -> None:
        self._list[index] = _check_module(module, index)

    def __len__(self):
        return len(self._list)

    def __iter__(self):
        return iter(self._list)

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end."""
        self._list.append(_check_module(module, len(self._list)))
        return self

    def extend(self, modules) -> ModuleList:
        """Add several modules at the end."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert a module before position `index`."""
        self._list.insert(index, _check_module(module, index))


class ModuleDict(Module):
    """A dict of modules whose parameters the parent finds (keys in insertion order).

    >>> from tinygrad_lite.nn import Linear
    >>> heads = ModuleDict({"a": Linear(2, 1), "b": Linear(2, 3)})
    >>> list(heads.keys()), heads["b"].out_features
    (['a', 'b'], 3)
    """

    _internal = ("_dict",)

    def __init__(self, modules=None):
        super().__init__()
        self._dict = {}
        self.update(modules or {})

    def _child_items(self):
        yield from self._dict.items()

    def __getitem__(self, key: str) -> Module:
        return self._dict[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self._dict[str(key)] = _check_module(module, key)

    def __delitem__(self, key: str) -> None:
        del self._dict[key]

    def __contains__(self, key) -> bool:
        return key in self._dict

    def __len__(self):
        return len(self._dict)

    def __iter__(self):
        return iter(self._dict)

    def keys(self):
        """The names."""
        return self._dict.keys()

    def values(self):
        """The modules."""
        return self._dict.values()

    def items(self):
        """(name, module) pairs."""
        return self._dict.items()

    def update(self, modules) -> None:
        """Add or replace modules from a dict or (name, module) pairs."""
        pairs = modules.items() if isinstance(modules, dict) else modules
        for k, m in pairs:
            self[k] = m


def _check_module(module, where):
    if not isinstance(module, Module):
        raise TypeError(f"expected a Module at {where!r}, got {type(module).__name__}")
    return module
