"""nn.Module and friends: parameter discovery (attributes, lists, dicts, nesting, sharing), names,
buffers, train/eval, zero_grad, state_dict / load_state_dict (strict errors, atomic failure),
repr, Sequential / ModuleList / ModuleDict, module scopes. PyTorch comparisons are extra."""

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn
from tests.graph_walk import toposort


def mlp():
    return nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(),
                         nn.Linear(16, 10))


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.scale = nn.Parameter(Tensor.ones(n))

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    """Parameters reached through a direct attribute, a list, a dict and a nested module."""

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.blocks = [Block(4), Block(4)]
        self.heads = {"a": nn.Linear(4, 2), "b": nn.Linear(4, 1, bias=False)}
        self.extra = [nn.Parameter(Tensor.zeros(2)), {"deep": nn.Parameter(Tensor.zeros(1))}]
        self.not_a_param = Tensor.ones(3)  # a plain tensor is neither parameter nor buffer
        self.name = "net"

    def forward(self, x):
        h = self.first(x)
        for b in self.blocks:
            h = b(h)
        return self.heads["a"](h), self.heads["b"](h)


# -------------------------------------------------------------------------------- Parameter ----
def test_parameter_requires_grad_and_ops_give_plain_tensors():
    p = nn.Parameter(Tensor([1.0, 2.0]))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    q = p * 2 + 1
    assert type(q) is Tensor and not isinstance(q, nn.Parameter)
    assert nn.Parameter(Tensor([1.0]), requires_grad=False).requires_grad is False
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")


def test_parameter_copies_the_array_it_is_given():
    a = np.ones(3, np.float32)
    p = nn.Parameter(a)
    p.data[0] = 5.0
    assert a[0] == 1.0


# ---------------------------------------------------------------------------------- discovery ----
def test_named_parameters_walks_attributes_lists_dicts_in_definition_order():
    names = [n for n, _ in Net().named_parameters()]
    # PyTorch's order: module by module (pre-order), each module's own parameters first
    assert names == [
        "extra.0", "extra.1.deep",  # Net's own (in a list, and a dict inside it)
        "first.weight", "first.bias",
        "blocks.0.scale", "blocks.0.fc.weight", "blocks.0.fc.bias",
        "blocks.1.scale", "blocks.1.fc.weight", "blocks.1.fc.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight",
    ]


def test_named_parameters_names_match_the_state_dict_and_cover_every_parameter():
    net = Net()
    params = dict(net.named_parameters())
    assert set(params) == set(net.state_dict())
    assert len(params) == 13
    assert params["blocks.1.fc.weight"] is net.blocks[1].fc.weight
    assert params["heads.b.weight"] is net.heads["b"].weight
    assert params["extra.1.deep"] is net.extra[1]["deep"]
    assert [p for p in net.parameters()] == list(params.values())


def test_named_modules_children_and_modules_like_pytorch():
    net = Net()
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "first", "blocks.0", "blocks.0.fc", "blocks.1", "blocks.1.fc", "heads.a",
                     "heads.b"]
    assert dict(net.named_modules())[""] is net
    assert [n for n, _ in net.named_children()] == ["first", "blocks.0", "blocks.1", "heads.a",
                                                     "heads.b"]
    assert list(net.children())[1] is net.blocks[0]
    assert len(list(net.modules())) == 8


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


def test_num_parameters_of_the_lessons_mlp_is_13002():
    model = mlp()
    assert model.num_parameters() == 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10 == 13002
    model[0].weight.requires_grad_(False)
    assert model.num_parameters(trainable_only=True) == 13002 - 784 * 16


def test_module_without_super_init_still_finds_parameters():
    class Lazy(nn.Module):
        def __init__(self):  # forgot super().__init__()
            self.fc = nn.Linear(2, 2)

    m = Lazy()
    assert [n for n, _ in m.named_parameters()] == ["fc.weight", "fc.bias"]
    assert m.training and list(m.buffers()) == []
    m.eval()
    assert not m.training and not m.fc.training


# ------------------------------------------------------------------------------------ buffers ----
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


# --------------------------------------------------------------------------- train / eval, grads ----
def test_train_and_eval_switch_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    assert not net.blocks[1].fc.training
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.heads["a"].training


def test_zero_grad_sets_to_none_or_zeros():
    model = mlp()
    loss = model(Tensor.ones(2, 784)).sum()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    for p in model.parameters():
        assert p.grad.shape == p.shape and not p.grad.data.any()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_requires_grad_freezes_every_parameter():
    model = mlp().requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    assert not model(Tensor.ones(1, 784)).requires_grad


def test_double_converts_parameters_and_float_buffers_only():
    bn = nn.BatchNorm1d(3).double()
    assert bn.weight.dtype == np.float64 and bn.running_mean.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64
    assert bn.float().weight.dtype == np.float32


# --------------------------------------------------------------------------------- state dict ----
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


def test_load_state_dict_accepts_tensors_and_casts_to_the_parameter_dtype():
    lin = nn.Linear(2, 2)
    w = np.arange(4, dtype=np.float64).reshape(2, 2)
    lin.load_state_dict({"weight": Tensor(w), "bias": [1, 2]})
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.data, w)
    np.testing.assert_array_equal(lin.bias.data, [1.0, 2.0])
    w[0, 0] = 99.0  # the loaded values are copies
    assert lin.weight.data[0, 0] == 0.0


def _snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_load_state_dict_missing_key_is_named_and_changes_nothing():
    model = mlp()
    before = _snapshot(model)
    sd = {k: v + 1 for k, v in mlp().state_dict().items()}
    del sd["2.bias"]
    with pytest.raises(RuntimeError, match=r"Missing key\(s\): 2\.bias") as err:
        model.load_state_dict(sd)
    assert "nothing was changed" in str(err.value)
    assert _same(_snapshot(model), before)


def test_load_state_dict_unexpected_key_is_named_and_changes_nothing():
    model = mlp()
    before = _snapshot(model)
    sd = {k: v + 1 for k, v in model.state_dict().items()}
    sd["5.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\): 5\.weight"):
        model.load_state_dict(sd)
    assert _same(_snapshot(model), before)


def test_load_state_dict_shape_mismatch_names_key_and_both_shapes_and_changes_nothing():
    model = mlp()
    before = _snapshot(model)
    sd = {k: v + 1 for k, v in model.state_dict().items()}
    sd["4.weight"] = np.zeros((10, 15), np.float32)  # every other key is fine and comes first
    with pytest.raises(RuntimeError, match=r"4\.weight: checkpoint shape \(10, 15\), model shape "
                                           r"\(10, 16\)"):
        model.load_state_dict(sd)
    assert _same(_snapshot(model), before)
    # a shape mismatch is an error even when not strict (as in PyTorch)
    with pytest.raises(RuntimeError, match="4.weight"):
        model.load_state_dict(sd, strict=False)
    assert _same(_snapshot(model), before)


def test_load_state_dict_reports_every_problem_at_once():
    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict({"weight": np.zeros((3, 3)), "extra": np.zeros(1)})
    text = str(err.value)
    assert "Missing key(s): bias" in text and "Unexpected key(s): extra" in text
    assert "weight: checkpoint shape (3, 3)" in text


def test_load_state_dict_non_numeric_value_is_refused():
    with pytest.raises(RuntimeError, match="bias"):
        nn.Linear(2, 2).load_state_dict({"weight": np.zeros((2, 2)), "bias": np.array(["a", "b"])})


def test_load_state_dict_not_strict_loads_the_rest_and_reports():
    model = nn.Linear(2, 2)
    missing, unexpected = model.load_state_dict({"weight": np.eye(2), "junk": np.zeros(1)},
                                                strict=False)
    assert missing == ["bias"] and unexpected == ["junk"]
    np.testing.assert_array_equal(model.weight.data, np.eye(2))


def test_load_state_dict_keeps_parameter_objects_for_optimizers():
    model = nn.Linear(2, 2)
    w = model.weight
    model.load_state_dict(nn.Linear(2, 2).state_dict())
    assert model.weight is w and model.weight.requires_grad


# ---------------------------------------------------------------------------------------- repr ----
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


def test_repr_nests_with_indentation():
    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
            self.head = nn.Linear(4, 2, bias=False)

    assert repr(Outer()) == (
        "Outer(\n"
        "  (body): Sequential(\n"
        "    (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (head): Linear(in_features=4, out_features=2, bias=False)\n"
        ")"
    )


# ---------------------------------------------------------------------------------- containers ----
def test_sequential_indexing_len_iteration_slicing():
    model = mlp()
    assert len(model) == 5
    assert isinstance(model[0], nn.Linear) and model[-1].out_features == 10
    assert [type(m).__name__ for m in model] == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear"]
    head = model[2:]
    assert isinstance(head, nn.Sequential) and len(head) == 3 and head[0] is model[2]
    x = Tensor(np.random.default_rng(0).random((2, 784)).astype(np.float32))
    np.testing.assert_allclose(model(x).data, head(model[1](model[0](x))).data)
    model.append(nn.Softmax(dim=1))
    assert len(model) == 6 and np.allclose(model(x).data.sum(axis=1), 1.0)


def test_sequential_forward_equals_the_hand_written_composition():
    model = mlp()
    x = Tensor(np.random.default_rng(0).random((3, 784)).astype(np.float32))
    h = x.data
    for i in (0, 2, 4):
        h = h @ model[i].weight.data.T + model[i].bias.data
        if i < 4:
            h = 1 / (1 + np.exp(-h))
    np.testing.assert_allclose(model(x).data, h, rtol=1e-5, atol=1e-6)


def test_sequential_from_ordered_dict_keeps_names():
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("act", nn.Tanh()),
                                       ("fc2", nn.Linear(3, 1))]))
    assert list(model.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert "(fc1): Linear" in repr(model)
    assert model(Tensor.zeros(4, 2)).shape == (4, 1)
    with pytest.raises(TypeError, match="Modules"):
        nn.Sequential(nn.Linear(2, 2), lambda x: x)


def test_module_list_and_dict_register_their_modules():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
            self.heads = nn.ModuleDict({"y": nn.Linear(2, 1)})

    m = Stack()
    m.layers.append(nn.Linear(2, 2))
    m.heads["z"] = nn.Linear(2, 3)
    assert [n for n, _ in m.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "layers.2.weight", "layers.2.bias", "heads.y.weight", "heads.y.bias",
        "heads.z.weight", "heads.z.bias"]
    assert len(m.layers) == 3 and len(m.layers[1:]) == 2 and list(m.heads) == ["y", "z"]
    assert [k for k, _ in m.heads.items()] == ["y", "z"] and "z" in m.heads
    assert "(layers): ModuleList(\n    (0): Linear(in_features=2" in repr(m)
    with pytest.raises(TypeError, match="expected a Module"):
        m.layers.append(Tensor.ones(2))


# ----------------------------------------------------------------------------- call, scopes ----
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


def test_forward_not_implemented_names_the_class():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty"):
        Empty()(Tensor.ones(1))


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
