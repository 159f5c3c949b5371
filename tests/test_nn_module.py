"""nn.Module's surface: parameter/module discovery (attributes, lists, dicts, containers; PyTorch's
order), shared parameters and modules, dotted names, buffers, train/eval, zero_grad, state_dict /
load_state_dict (strict errors that change nothing, a file round trip), double()/float(), repr,
Sequential/ModuleList/ModuleDict, module scopes. PyTorch comparisons are extra."""

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_lite as tg
from tests.graph_walk import toposort
from tinygrad_lite import Tensor, gradcheck, nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.norm = nn.BatchNorm1d(width)

    def forward(self, x):
        return self.norm(self.fc(x)).relu()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(3, 4)
        self.blocks = [Block(4), Block(4)]  # a plain list
        self.heads = {"cls": nn.Linear(4, 2), "reg": nn.Linear(4, 1, bias=False)}  # a plain dict
        self.scale = nn.Parameter(Tensor.ones(1))
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        h = self.drop(h)
        return self.heads["cls"](h) * self.scale, self.heads["reg"](h)


NET_PARAMS = [
    ("scale", (1,)),
    ("stem.weight", (4, 3)), ("stem.bias", (4,)),
    ("blocks.0.fc.weight", (4, 4)), ("blocks.0.fc.bias", (4,)),
    ("blocks.0.norm.weight", (4,)), ("blocks.0.norm.bias", (4,)),
    ("blocks.1.fc.weight", (4, 4)), ("blocks.1.fc.bias", (4,)),
    ("blocks.1.norm.weight", (4,)), ("blocks.1.norm.bias", (4,)),
    ("heads.cls.weight", (2, 4)), ("heads.cls.bias", (2,)),
    ("heads.reg.weight", (1, 4)),
]


# ------------------------------------------------------------------------------- discovery ----
def test_named_parameters_walk_attributes_lists_and_dicts_with_dotted_names():
    net = Net()
    assert [(n, p.shape) for n, p in net.named_parameters()] == NET_PARAMS
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert len(list(net.parameters())) == len(NET_PARAMS)
    assert net.num_parameters() == sum(int(np.prod(s)) for _, s in NET_PARAMS)


def test_named_modules_children_and_modules():
    net = Net()
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "stem", "blocks.0", "blocks.0.fc", "blocks.0.norm", "blocks.1",
                     "blocks.1.fc", "blocks.1.norm", "heads.cls", "heads.reg", "drop"]
    assert [n for n, _ in net.named_children()] == ["stem", "blocks.0", "blocks.1", "heads.cls",
                                                    "heads.reg", "drop"]
    assert list(net.children())[0] is net.stem
    assert list(net.modules())[0] is net and len(list(net.modules())) == len(names)
    assert [n for n, _ in net.named_parameters(prefix="model")][1] == "model.stem.weight"


def test_named_parameters_without_recursion_gives_own_only():
    assert [n for n, _ in Net().named_parameters(recurse=False)] == ["scale"]


def test_parameters_in_tuples_and_nested_containers_are_found():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = (nn.Parameter(Tensor.zeros(2)), [nn.Parameter(Tensor.zeros(3))])
            self.table = {"a": {"b": nn.Parameter(Tensor.zeros(4))}}
            self.not_a_param = Tensor.zeros(5)  # a plain tensor is neither parameter nor buffer

    assert [(n, p.shape) for n, p in Odd().named_parameters()] == [
        ("pair.0", (2,)), ("pair.1.0", (3,)), ("table.a.b", (4,))]
    assert list(Odd().state_dict()) == ["pair.0", "pair.1.0", "table.a.b"]


def test_shared_parameter_counted_once_but_named_under_both_in_state_dict():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(3, 3, bias=False)
            self.dec = nn.Linear(3, 3, bias=False)
            self.dec.weight = self.enc.weight

        def forward(self, x):
            return self.dec(self.enc(x))

    tied = Tied()
    assert [n for n, _ in tied.named_parameters()] == ["enc.weight"]
    assert tied.num_parameters() == 9
    # PyTorch's state dict of tied weights names them twice; loading it keeps them tied
    sd = tied.state_dict()
    assert list(sd) == ["enc.weight", "dec.weight"]
    new = np.arange(9.0).reshape(3, 3)
    tied.load_state_dict({"enc.weight": new, "dec.weight": new})
    assert tied.dec.weight is tied.enc.weight
    np.testing.assert_array_equal(tied.enc.weight.data, new)
    # gradients from both uses accumulate into the one parameter
    x = Tensor(np.ones((1, 3), np.float32))
    tied(x).sum().backward()
    w = new.astype(np.float32)
    expected = np.outer(w.sum(0), np.ones(3)) + np.outer(np.ones(3), x.data[0] @ w.T)
    np.testing.assert_allclose(tied.enc.weight.grad.data, expected, rtol=1e-6)


def test_shared_module_counted_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.Tanh(), shared)
    assert seq.num_parameters() == 6
    assert len(list(seq.parameters())) == 2
    x = Tensor(np.ones((1, 2), np.float32))
    w, b = shared.weight.data, shared.bias.data
    np.testing.assert_allclose(seq(x).data, np.tanh(x.data @ w.T + b) @ w.T + b, rtol=1e-6)


def test_mlp_784_16_16_10_has_13002_parameters():
    mlp = nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                        nn.Linear(16, 10))
    assert mlp.num_parameters() == 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10 == 13002
    assert mlp(Tensor.zeros(5, 784)).shape == (5, 10)


def test_num_parameters_trainable_only_skips_frozen():
    net = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    net[0].requires_grad_(False)
    assert net.num_parameters() == 23
    assert net.num_parameters(trainable_only=True) == 8


def test_buffers_are_named_and_in_state_dict():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == [
        "blocks.0.norm.running_mean", "blocks.0.norm.running_var",
        "blocks.0.norm.num_batches_tracked", "blocks.1.norm.running_mean",
        "blocks.1.norm.running_var", "blocks.1.norm.num_batches_tracked"]
    assert len(list(net.buffers())) == 6


def test_buffer_must_stay_a_tensor():
    bn = nn.BatchNorm1d(2)
    with pytest.raises(TypeError, match="running_mean"):
        bn.running_mean = [0.0, 0.0]
    bn.running_mean = Tensor([1.0, 2.0])
    assert bn.state_dict()["running_mean"].tolist() == [1.0, 2.0]


def test_register_buffer_on_a_custom_module():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", np.zeros(2, np.int64))
            self.w = nn.Parameter(Tensor.ones(2))

    m = WithBuffer()
    assert isinstance(m.count, Tensor) and list(m.state_dict()) == ["w", "count"]
    assert [n for n, _ in m.named_parameters()] == ["w"]


# ---------------------------------------------------------------------------------- calling ----
def test_call_runs_forward_inside_the_module_scope():
    net = Net()
    out, _ = net(Tensor(np.ones((3, 3), np.float32)))
    scope = out._ctx.scope  # the last op (the Mul by scale) ran in net, outside any child
    assert scope == (net,)
    inner = net.stem(Tensor(np.ones((1, 3), np.float32)))
    assert inner._ctx.scope == (net.stem,)
    assert tg.autograd.STATE.scope is None  # restored after the calls


def test_scope_is_restored_after_an_error():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError):
        lin(Tensor.zeros(1, 5))
    assert tg.autograd.STATE.scope is None


def test_forward_not_defined_names_the_class():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty"):
        Empty()(Tensor.zeros(1))


def test_subclass_that_forgets_super_init_still_finds_parameters():
    class Forgetful(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x)

    m = Forgetful()
    assert m.training and m.num_parameters() == 6
    assert not m.eval().training and not m.fc.training


# ---------------------------------------------------------------------------- train / eval ----
def test_train_and_eval_are_recursive_through_lists_and_dicts():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.blocks[1].norm.training and not net.heads["cls"].training


def test_eval_switches_dropout_and_batch_norm_behaviour():
    net = Net()
    x = Tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32))
    net(x)
    before = net.blocks[0].norm.running_mean.data.copy()
    net.eval()
    a, b = net(x)[0].data, net(x)[0].data
    np.testing.assert_array_equal(a, b)  # no dropout noise, running statistics fixed
    np.testing.assert_array_equal(net.blocks[0].norm.running_mean.data, before)


# --------------------------------------------------------------------------------- zero_grad ----
def test_zero_grad_clears_every_parameter():
    net = Net()
    out, reg = net(Tensor(np.ones((4, 3), np.float32)))
    (out.sum() + reg.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_gradients_accumulate_until_zero_grad():
    lin = nn.Linear(2, 1)
    x = Tensor(np.array([[1.0, 2.0]], np.float32))
    lin(x).sum().backward()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.data, [[2.0, 4.0]])
    lin.zero_grad()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.data, [[1.0, 2.0]])


def test_requires_grad_false_freezes_a_submodule():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    net[0].requires_grad_(False)
    net(Tensor(np.ones((1, 2), np.float32))).sum().backward()
    assert net[0].weight.grad is None and net[1].weight.grad is not None


# ------------------------------------------------------------------------------- state dict ----
def test_state_dict_order_names_and_copies():
    net = Net()
    sd = net.state_dict()
    assert list(sd)[:3] == ["scale", "stem.weight", "stem.bias"]
    assert list(sd)[3:10] == ["blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.0.norm.weight",
                              "blocks.0.norm.bias", "blocks.0.norm.running_mean",
                              "blocks.0.norm.running_var", "blocks.0.norm.num_batches_tracked"]
    assert all(type(v) is np.ndarray for v in sd.values())
    sd["stem.weight"][...] = 123.0  # a copy: the model is untouched
    assert not np.any(net.stem.weight.data == 123.0)
    assert sd["blocks.0.norm.num_batches_tracked"].dtype == np.int64


def test_load_state_dict_round_trip_restores_outputs():
    src, dst = Net().eval(), Net().eval()
    x = Tensor(np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32))
    result = dst.load_state_dict(src.state_dict())
    assert tuple(result) == ([], [])
    np.testing.assert_array_equal(dst(x)[0].data, src(x)[0].data)


def test_load_state_dict_accepts_tensors_and_keeps_the_model_dtype():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": Tensor(np.ones((2, 2))), "bias": np.zeros(2, np.float64)})
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    assert lin.weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    lin.double()
    lin.load_state_dict({"weight": np.full((2, 2), 0.1, np.float32), "bias": [1, 2]})
    assert lin.weight.dtype == np.float64 and lin.bias.tolist() == [1.0, 2.0]


def test_load_state_dict_does_not_alias_the_given_arrays():
    lin = nn.Linear(2, 2)
    w = np.ones((2, 2), np.float32)
    lin.load_state_dict({"weight": w, "bias": np.zeros(2, np.float32)})
    w[0, 0] = 5.0
    assert lin.weight.data[0, 0] == 1.0


def _snapshot(module):
    return {k: v.copy() for k, v in module.state_dict().items()}


def _assert_unchanged(module, snap):
    for k, v in module.state_dict().items():
        np.testing.assert_array_equal(v, snap[k], err_msg=k)


def test_load_state_dict_missing_keys_named_and_nothing_changed():
    net, other = Net(), Net()
    snap = _snapshot(net)
    sd = other.state_dict()
    del sd["stem.bias"], sd["blocks.1.norm.running_var"]
    with pytest.raises(RuntimeError, match="stem.bias") as info:
        net.load_state_dict(sd)
    assert "blocks.1.norm.running_var" in str(info.value) and "issing" in str(info.value)
    _assert_unchanged(net, snap)


def test_load_state_dict_unexpected_keys_named_and_nothing_changed():
    net = Net()
    snap = _snapshot(net)
    sd = Net().state_dict()
    sd["head.extra"] = np.zeros(3)
    with pytest.raises(RuntimeError, match=r"(?i)unexpected.*head\.extra"):
        net.load_state_dict(sd)
    _assert_unchanged(net, snap)


def test_load_state_dict_shape_mismatch_names_key_and_both_shapes_and_changes_nothing():
    net = Net()
    snap = _snapshot(net)
    sd = Net().state_dict()
    sd["heads.cls.weight"] = np.zeros((3, 4), np.float32)
    with pytest.raises(RuntimeError, match=r"heads\.cls\.weight.*\(3, 4\).*\(2, 4\)"):
        net.load_state_dict(sd)
    _assert_unchanged(net, snap)
    # a shape mismatch is an error even when not strict (as in PyTorch)
    with pytest.raises(RuntimeError, match=r"heads\.cls\.weight"):
        net.load_state_dict(sd, strict=False)
    _assert_unchanged(net, snap)


def test_load_state_dict_non_numeric_value_is_refused_before_writing():
    lin = nn.Linear(2, 2)
    snap = _snapshot(lin)
    with pytest.raises(RuntimeError, match="bias"):
        lin.load_state_dict({"weight": np.zeros((2, 2)), "bias": np.array(["a", "b"])})
    _assert_unchanged(lin, snap)


def test_load_state_dict_not_strict_loads_the_overlap_and_reports_the_rest():
    net = Net()
    sd = {"stem.weight": np.full((4, 3), 0.5, np.float32), "unknown": np.zeros(1)}
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert unexpected == ["unknown"]
    assert "stem.weight" not in missing and "stem.bias" in missing
    assert len(missing) == len(net.state_dict()) - 1
    np.testing.assert_array_equal(net.stem.weight.data, 0.5)


# ------------------------------------------------------------------------------------ dtype ----
def test_double_and_float_cast_parameters_and_float_buffers_only():
    net = Net()
    assert net.double() is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    norm = net.blocks[0].norm
    assert norm.running_mean.dtype == np.float64 and norm.num_batches_tracked.dtype == np.int64
    out, _ = net(Tensor(np.ones((2, 3))))
    assert out.dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert norm.running_var.dtype == np.float32


def test_double_model_passes_gradcheck_for_input_and_every_parameter():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = Tensor(np.random.default_rng(2).standard_normal((2, 3)), requires_grad=True)
    params = list(model.parameters())
    assert gradcheck(lambda inp, *ps: model(inp), [x, *params])


def test_gradcheck_catches_a_wrong_parameter_gradient():
    # the harness can fail: a model whose forward uses the weight's data as a constant
    lin = nn.Linear(2, 2).double()

    def broken(inp, w):
        return inp @ Tensor(w.data).T + inp @ w.T * 0.5

    x = Tensor(np.ones((1, 2)), requires_grad=True)
    with pytest.raises(tg.GradcheckError):
        gradcheck(broken, [x, lin.weight])


# ------------------------------------------------------------------------------------- repr ----
def test_repr_of_a_nested_model_is_pytorch_like():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Sequential(nn.Linear(4 * 14 * 14, 10), nn.Dropout(0.25)),
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (1): ReLU()\n"
        "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0)\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  (4): Sequential(\n"
        "    (0): Linear(in_features=784, out_features=10, bias=True)\n"
        "    (1): Dropout(p=0.25)\n"
        "  )\n"
        ")"
    )


def test_repr_of_a_custom_module_names_attributes():
    text = repr(Net())
    assert text.startswith("Net(\n  (stem): Linear(in_features=3, out_features=4, bias=True)\n")
    assert "  (blocks.0): Block(\n    (fc): Linear(in_features=4, out_features=4, bias=True)" in text
    assert "(heads.reg): Linear(in_features=4, out_features=1, bias=False)" in text
    assert text.endswith("  (drop): Dropout(p=0.5)\n)")


def test_parameter_is_a_leaf_tensor_that_requires_grad_and_owns_its_data():
    arr = np.zeros(3, np.float32)
    p = nn.Parameter(arr)
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    p.data[0] = 1.0
    assert arr[0] == 0.0
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert nn.Parameter(Tensor([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert not nn.Parameter(Tensor([1.0]), requires_grad=False).requires_grad
    assert type(p * 2) is Tensor  # results of ops are plain tensors, not parameters


# ------------------------------------------------------------------------------ containers ----
def test_sequential_indexing_slicing_append_and_named_layers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and list(seq)[1] is seq[1]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    seq.append(nn.Sigmoid())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    x = Tensor(np.ones((1, 2), np.float32))
    expected = 1 / (1 + np.exp(-(np.maximum(x.data @ seq[0].weight.data.T + seq[0].bias.data, 0)
                                 @ seq[2].weight.data.T + seq[2].bias.data)))
    np.testing.assert_allclose(seq(x).data, expected, rtol=1e-6)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert named.fc is named[0]
    with pytest.raises(TypeError, match="Module"):
        nn.Sequential(nn.Linear(2, 2), lambda x: x)


def test_module_list_behaves_like_a_list_of_registered_modules():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    layers.append(nn.Linear(2, 3))
    layers.extend([nn.ReLU()])
    layers.insert(0, nn.Linear(1, 2))
    assert len(layers) == 5 and layers[0].in_features == 1 and isinstance(layers[-1], nn.ReLU)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = layers

    assert [n for n, _ in Holder().named_parameters()][-2:] == ["layers.3.weight", "layers.3.bias"]
    with pytest.raises(TypeError, match="Module"):
        layers.append("not a module")


def test_module_dict_behaves_like_a_dict_of_registered_modules():
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    assert list(heads) == ["a", "b"] and "b" in heads and len(heads) == 2
    assert [k for k, _ in heads.items()] == ["a", "b"]
    assert [m.out_features for m in heads.values()] == [1, 3]
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    del heads["a"]
    assert list(heads.keys()) == ["b"]
    with pytest.raises(TypeError, match="Module"):
        heads["c"] = 3


def test_private_attributes_holding_modules_and_parameters_are_found():
    # as in PyTorch: `self._encoder = Linear(...)` is a child; it was once skipped silently
    class Private(nn.Module):
        def __init__(self):
            super().__init__()
            self._encoder = nn.Linear(2, 3)
            self._gain = nn.Parameter(Tensor.ones(1))
            self._cache = Tensor.zeros(4)  # a plain tensor: neither parameter nor buffer

        def forward(self, x):
            return self._encoder(x) * self._gain

    m = Private()
    assert [n for n, _ in m.named_parameters()] == ["_gain", "_encoder.weight", "_encoder.bias"]
    assert m.num_parameters() == 10 and list(m.state_dict())[0] == "_gain"
    assert [n for n, _ in m.named_children()] == ["_encoder"]
    assert not m.eval()._encoder.training
    # the containers' own bookkeeping is not mistaken for children
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in nn.ModuleList([nn.ReLU()]).named_modules()] == ["", "0"]
    assert [n for n, _ in nn.ModuleDict({"a": nn.ReLU()}).named_modules()] == ["", "a"]


def test_load_state_dict_not_strict_ignores_the_values_of_unexpected_keys():
    # a checkpoint with metadata next to the weights (it once failed with "Not numeric")
    lin = nn.Linear(2, 2)
    sd = dict(nn.Linear(2, 2).state_dict(), note="trained 3 epochs", history={"loss": [1.0]})
    missing, unexpected = lin.load_state_dict(sd, strict=False)
    assert missing == [] and unexpected == ["note", "history"]
    np.testing.assert_array_equal(lin.weight.data, sd["weight"])
    with pytest.raises(RuntimeError, match=r"(?i)unexpected.*note"):
        lin.load_state_dict(sd)


def test_load_state_dict_ragged_value_is_a_named_error_that_changes_nothing():
    lin = nn.Linear(2, 2)
    snap = _snapshot(lin)
    with pytest.raises(RuntimeError, match="weight"):
        lin.load_state_dict({"weight": [[1.0, 2.0], [3.0]], "bias": np.zeros(2)})
    _assert_unchanged(lin, snap)


def test_apply_visits_every_module_children_first_and_returns_self():
    net = Net()
    visited = []
    assert net.apply(visited.append) is net
    names = {id(m): n for n, m in net.named_modules()}
    assert [names[id(m)] for m in visited] == [
        "stem", "blocks.0.fc", "blocks.0.norm", "blocks.0", "blocks.1.fc", "blocks.1.norm",
        "blocks.1", "heads.cls", "heads.reg", "drop", ""]

    def init_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)

    net.apply(init_linear)
    assert np.all(net.heads["reg"].weight.data == 1) and np.all(net.blocks[1].fc.weight.data == 1)


def test_assigning_a_plain_tensor_over_a_parameter_is_refused():
    # it would silently drop the parameter from parameters(), state_dict() and the optimizer
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"'weight'.*Parameter"):
        lin.weight = Tensor.zeros(2, 2)
    assert isinstance(lin.weight, nn.Parameter) and lin.num_parameters() == 6
    lin.weight = nn.Parameter(Tensor.zeros(2, 2))  # a Parameter (or None) is fine
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    lin.bias = None
    assert lin.num_parameters() == 4


# ------------------------------------------------ the MLP, PyTorch's order, files, scopes ----
def mlp():
    return nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                         nn.Linear(16, 10))


class ScaledBlock(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.scale = nn.Parameter(Tensor.ones(n))

    def forward(self, x):
        return self.fc(x) * self.scale


class ListNet(nn.Module):
    """Parameters reached through a direct attribute, a list, a dict and a nested module."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.blocks = [ScaledBlock(4), ScaledBlock(4)]
        self.heads = {"a": nn.Linear(4, 2), "b": nn.Linear(4, 1, bias=False)}
        self.extra = [nn.Parameter(Tensor.zeros(2)), {"deep": nn.Parameter(Tensor.zeros(1))}]
        self.not_a_param = Tensor.ones(3)  # a plain tensor is neither parameter nor buffer
        self.name = "net"

    def forward(self, x):
        h = self.first(x)
        for b in self.blocks:
            h = b(h)
        return self.heads["a"](h), self.heads["b"](h)


def test_named_parameters_walks_attributes_lists_dicts_in_definition_order():
    names = [n for n, _ in ListNet().named_parameters()]
    # PyTorch's order: module by module (pre-order), each module's own parameters first
    assert names == [
        "extra.0", "extra.1.deep",  # Net's own (in a list, and a dict inside it)
        "first.weight", "first.bias",
        "blocks.0.scale", "blocks.0.fc.weight", "blocks.0.fc.bias",
        "blocks.1.scale", "blocks.1.fc.weight", "blocks.1.fc.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight",
    ]


def test_named_parameters_names_match_the_state_dict_and_cover_every_parameter():
    net = ListNet()
    params = dict(net.named_parameters())
    assert set(params) == set(net.state_dict())
    assert len(params) == 13
    assert params["blocks.1.fc.weight"] is net.blocks[1].fc.weight
    assert params["heads.b.weight"] is net.heads["b"].weight
    assert params["extra.1.deep"] is net.extra[1]["deep"]
    assert [p for p in net.parameters()] == list(params.values())


def test_shared_parameter_and_module_are_counted_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(4, 4)
            self.dec = nn.Linear(4, 4)
            self.dec.weight = self.enc.weight  # tied weights
            self.again = self.enc  # the same module twice

    m = Tied()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["enc.weight", "enc.bias", "dec.bias"]
    assert m.num_parameters() == 16 + 4 + 4
    assert [n for n, _ in m.named_modules()] == ["", "enc", "dec"]
    # like PyTorch, the state dict names a tied tensor under every name it has
    assert list(m.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias",
                                    "again.weight", "again.bias"]


def test_buffers_are_registered_named_and_in_the_state_dict():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.register_buffer("count", Tensor(np.zeros((), np.int64)))
            self.register_buffer("nothing", None)

    m = nn.Sequential(WithBuffer(), nn.BatchNorm1d(2))
    assert [n for n, _ in m.named_buffers()] == [
        "0.count", "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert len(list(m.buffers())) == 4
    # PyTorch's order: a module's parameters, its buffers, then its children
    assert list(m.state_dict()) == ["0.count", "0.fc.weight", "0.fc.bias", "1.weight", "1.bias",
                                    "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert not any(b.requires_grad for b in m.buffers())
    assert "count" not in [n for n, _ in m.named_parameters()]
    # assigning a new tensor to a buffer's name updates the registered buffer
    m[0].count = Tensor(np.array(5))
    assert m.state_dict()["0.count"] == 5
    with pytest.raises(TypeError, match="buffer 'count'"):
        m[0].count = 3


def test_requires_grad_freezes_every_parameter():
    model = mlp().requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    assert not model(Tensor.ones(1, 784)).requires_grad


def test_state_dict_holds_copies_as_numpy_arrays():
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == ["weight", "bias"]
    assert all(type(v) is np.ndarray for v in sd.values())
    before = sd["weight"].copy()
    lin.weight.data += 1.0
    np.testing.assert_array_equal(sd["weight"], before)


def test_state_dict_round_trip_through_a_file(tmp_path):
    tg.manual_seed(1)
    a = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    a(Tensor(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)))  # move stats
    a.eval()
    b = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2)).eval()
    x = Tensor(np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))
    assert not np.allclose(a(x).data, b(x).data)
    tg.save(a.state_dict(), tmp_path / "model.npz")
    missing, unexpected = b.load_state_dict(tg.load(tmp_path / "model.npz"))
    assert missing == [] and unexpected == []
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert int(b[1].num_batches_tracked.data) == 1


def test_load_state_dict_missing_key_is_named_and_changes_nothing():
    model = mlp()
    before = _snapshot_of(model)
    sd = {k: v + 1 for k, v in mlp().state_dict().items()}
    del sd["2.bias"]
    with pytest.raises(RuntimeError, match=r"Missing key\(s\): 2\.bias") as err:
        model.load_state_dict(sd)
    assert "nothing was changed" in str(err.value)
    assert _same_values(_snapshot_of(model), before)


def test_load_state_dict_reports_every_problem_at_once():
    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict({"weight": np.zeros((3, 3)), "extra": np.zeros(1)})
    text = str(err.value)
    assert "Missing key(s): bias" in text and "Unexpected key(s): extra" in text
    assert "weight: checkpoint shape (3, 3)" in text


def test_load_state_dict_keeps_parameter_objects_for_optimizers():
    model = nn.Linear(2, 2)
    w = model.weight
    model.load_state_dict(nn.Linear(2, 2).state_dict())
    assert model.weight is w and model.weight.requires_grad


def test_repr_of_the_mlp_is_pytorchs():
    assert repr(mlp()) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=16, bias=True)\n"
        "  (1): Sigmoid()\n"
        "  (2): Linear(in_features=16, out_features=16, bias=True)\n"
        "  (3): Sigmoid()\n"
        "  (4): Linear(in_features=16, out_features=10, bias=True)\n"
        ")"
    )


def test_sequential_forward_equals_the_hand_written_composition():
    model = mlp()
    x = Tensor(np.random.default_rng(0).random((3, 784)).astype(np.float32))
    h = x.data
    for i in (0, 2, 4):
        h = h @ model[i].weight.data.T + model[i].bias.data
        if i < 4:
            h = 1 / (1 + np.exp(-h))
    np.testing.assert_allclose(model(x).data, h, rtol=1e-5, atol=1e-6)


def test_call_records_ops_inside_the_module_scope():
    inner = nn.Linear(2, 2)

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x).sigmoid()

    outer = Outer()
    out = outer(Tensor.ones(1, 2))
    assert out._ctx.scope == (outer,)  # the sigmoid
    matmul = [n._ctx for n in toposort([out]) if n._ctx is not None and n._ctx.name == "MatMul"]
    assert matmul[0].scope == (outer, inner)
    assert (Tensor.ones(1, 2, requires_grad=True) * 2)._ctx.scope is None  # outside any module


def test_module_layer_records_no_more_ops_than_raw_tensor_code():
    model = mlp()
    x = Tensor.ones(4, 784)
    h = x
    for i in (0, 2, 4):
        h = h @ model[i].weight.T + model[i].bias
        if i < 4:
            h = h.sigmoid()
    assert len(toposort([model(x)])) <= len(toposort([h]))


def _snapshot_of(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _same_values(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# -------------------------------------------------------------------------- PyTorch (extra) ----
def test_torch_sequential_state_dict_loads_and_gives_the_same_outputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(784, 16), torch.nn.Sigmoid(), torch.nn.Linear(16, 16),
                             torch.nn.Sigmoid(), torch.nn.Linear(16, 10))
    model = mlp()
    model.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert list(model.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    np.testing.assert_allclose(model(Tensor(x)).data, tm(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
