"""Issue 10's layers beyond the generic table (tests/layer_table.py): PyTorch state dicts load into
LayerNorm, GroupNorm, GRU, MultiheadAttention, TransformerEncoderLayer/TransformerEncoder and give
the same outputs and gradients (masks, dropout in eval, unbatched inputs included);
Embedding(padding_idx); the refusals (bad masks, shapes, options we do not have); dropout in
training; Module.to(device/dtype)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tg
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor, gradcheck, nn

RNG = np.random.default_rng(11)


def _torch():
    return pytest.importorskip("torch")


def _load_from_torch(ours, theirs):
    """Load PyTorch's state dict into ours; the keys, their order and the shapes must agree."""
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(state) == list(ours.state_dict())
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in
                                                      ours.state_dict().items()}
    ours.load_state_dict(state)
    return ours


def _compare(ours, theirs, arrays, call=lambda m, *xs: m(*xs), pick=lambda out: out, tol=1e-10):
    """Same output and input/parameter gradients as PyTorch (float64), after loading its weights."""
    torch = _torch()
    theirs = theirs.double()
    _load_from_torch(ours.double(), theirs)
    xs = [Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out, ref = pick(call(ours, *xs)), pick(call(theirs, *ts))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=tol, atol=tol)
    up = RNG.standard_normal(out.shape)
    (out * Tensor(up)).sum().backward()
    (ref * torch.tensor(up)).sum().backward()
    for x, t in zip(xs, ts):
        if t.grad is None:  # an input the output does not depend on (value, for the weights)
            assert x.grad is None or not x.grad.data.any()
        elif t.requires_grad:
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=tol, atol=tol)
    for name, p in ours.named_parameters():
        theirs_grad = theirs.get_parameter(name).grad
        if theirs_grad is None:
            assert p.grad is None or not p.grad.data.any(), name
        else:
            np.testing.assert_allclose(p.grad.data, theirs_grad.numpy(), rtol=tol, atol=tol,
                                       err_msg=name)


# --------------------------------------------------------------------- against PyTorch ----
def test_transformer_encoder_loads_torch_state_dict_and_matches_with_masks():
    torch = _torch()
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True), 2,
        norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).eval()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                                 norm=nn.LayerNorm(8)).eval()
    causal = np.triu(np.ones((5, 5), bool), 1)
    padded = np.zeros((3, 5), bool)
    padded[1, 3:] = True

    def call(m, x):
        lib = torch if isinstance(x, torch.Tensor) else None
        mask = torch.tensor(causal) if lib else causal
        pad = torch.tensor(padded) if lib else padded
        return m(x, mask=mask, src_key_padding_mask=pad)

    _compare(ours, theirs, [RNG.standard_normal((3, 5, 8))], call)


@pytest.mark.parametrize("layout", ["batch_second", "batch_first", "unbatched"])
def test_multihead_attention_matches_torch_in_every_layout(layout):
    torch = _torch()
    batch_first = layout == "batch_first"
    shape = {"batch_second": (5, 2, 8), "batch_first": (2, 5, 8), "unbatched": (5, 8)}[layout]
    kv = shape[:-2] + (4, 8) if layout != "batch_second" else (4, 2, 8)
    arrays = [RNG.standard_normal(shape), RNG.standard_normal(kv), RNG.standard_normal(kv)]
    for pick in (lambda out: out[0], lambda out: out[1]):
        _compare(nn.MultiheadAttention(8, 2, batch_first=batch_first),
                 torch.nn.MultiheadAttention(8, 2, batch_first=batch_first), arrays, pick=pick)


def test_multihead_attention_kdim_vdim_and_float_masks_match_torch():
    torch = _torch()
    q, k, v = (RNG.standard_normal(s) for s in ((2, 3, 8), (2, 4, 5), (2, 4, 6)))
    float_mask = RNG.standard_normal((2 * 4, 3, 4))  # (N * heads, L, S), added to the scores
    pad = np.array([[0.0, 0.0, -1.5, 0.0], [0.0, -np.inf, 0.0, 0.0]])

    def call(m, q, k, v):
        as_lib = torch.tensor if isinstance(q, torch.Tensor) else np.asarray
        return m(q, k, v, attn_mask=as_lib(float_mask), key_padding_mask=as_lib(pad),
                 average_attn_weights=False)

    for pick in (lambda out: out[0], lambda out: out[1]):
        ours = nn.MultiheadAttention(8, 4, kdim=5, vdim=6, batch_first=True)
        assert "in_proj_weight" not in ours.state_dict()
        _compare(ours, torch.nn.MultiheadAttention(8, 4, kdim=5, vdim=6, batch_first=True),
                 [q, k, v], call, pick)


def test_gru_loads_torch_weights_with_initial_state_and_unbatched_input():
    torch = _torch()
    h0 = RNG.standard_normal((2, 3, 4))
    _compare(nn.GRU(3, 4, num_layers=2), torch.nn.GRU(3, 4, num_layers=2),
             [RNG.standard_normal((6, 3, 3)), h0], pick=lambda out: out[0])
    _compare(nn.GRU(3, 4, num_layers=2), torch.nn.GRU(3, 4, num_layers=2),
             [RNG.standard_normal((6, 3, 3)), h0], pick=lambda out: out[1])
    _compare(nn.GRU(3, 4, bias=False), torch.nn.GRU(3, 4, bias=False),
             [RNG.standard_normal((6, 3))], pick=lambda out: out[0])


def test_layer_norm_and_group_norm_match_torch_on_images():
    torch = _torch()
    x = RNG.standard_normal((2, 6, 3, 3)) * 5 + 2
    _compare(nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6), [x])
    _compare(nn.LayerNorm([3, 3], eps=1e-3), torch.nn.LayerNorm([3, 3], eps=1e-3), [x])
    _compare(nn.LayerNorm(3, bias=False), torch.nn.LayerNorm(3, bias=False), [x])


def test_embedding_padding_idx_matches_torch_and_its_row_gets_no_gradient():
    torch = _torch()
    idx = np.array([[1, 2, 1], [0, 4, 1]])
    ours = nn.Embedding(5, 3, padding_idx=1)
    assert not ours.weight.data[1].any()  # starts at zero
    _compare(ours, torch.nn.Embedding(5, 3, padding_idx=1), [idx])
    assert not ours.weight.grad.data[1].any() and ours.weight.grad.data[2].any()


def test_hardsigmoid_matches_torch_to_float32_rounding_of_its_backward():
    torch = _torch()
    x = np.array([-4.0, -3.5, -1.0, 0.5, 2.9, 3.5, 7.0])
    ours = Tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, ref = nn.Hardsigmoid()(ours), torch.nn.Hardsigmoid()(theirs)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-15)
    out.sum().backward()
    ref.sum().backward()
    # NOTE: PyTorch's float64 backward multiplies by float32(1/6); ours is the exact 1/6
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-7)
    np.testing.assert_array_equal(ours.grad.data, np.where(np.abs(x) < 3, 1 / 6, 0.0))


def test_activation_modules_match_torch_at_extreme_inputs():
    torch = _torch()
    x = np.array([-1e3, -30.0, -3.0, -1e-3, 1e-3, 3.0, 30.0, 1e3])
    for name, kwargs in [("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}),
                         ("Mish", {}), ("SELU", {}), ("ReLU6", {}), ("Hardtanh", {}),
                         ("Hardswish", {}), ("Softsign", {}), ("LogSigmoid", {})]:
        ours = Tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        out = getattr(nn, name)(**kwargs)(ours)
        ref = getattr(torch.nn, name)(**kwargs)(theirs)
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-300,
                                   err_msg=name)
        out.sum().backward()
        ref.sum().backward()
        assert np.isfinite(ours.grad.data).all(), name
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-9, atol=1e-300,
                                   err_msg=name)


# ------------------------------------------------------------------------- behaviour ----
def test_multihead_attention_query_that_sees_nothing_gets_zeros_not_nan():
    mha = nn.MultiheadAttention(4, 2, batch_first=True).double()
    x = Tensor(RNG.standard_normal((1, 3, 4)), requires_grad=True)
    mask = np.zeros((3, 3), bool)
    mask[1] = True  # query 1 may attend to no key
    out, weights = mha(x, x, x, attn_mask=mask)
    assert np.isfinite(out.data).all() and not weights.data[0, 1].any()
    np.testing.assert_allclose(weights.data[0, [0, 2]].sum(-1), 1.0)
    out.sum().backward()
    assert np.isfinite(x.grad.data).all()


def test_multihead_attention_bool_mask_equals_minus_inf_float_mask_and_need_weights():
    mha = nn.MultiheadAttention(4, 2).double()
    x = Tensor(RNG.standard_normal((3, 2, 4)))
    causal = np.triu(np.ones((3, 3), bool), 1)
    out_bool, w = mha(x, x, x, attn_mask=causal)
    out_float, _ = mha(x, x, x, attn_mask=np.where(causal, -np.inf, 0.0))
    np.testing.assert_array_equal(out_bool.data, out_float.data)
    assert not w.data[:, 0, 1:].any()  # the first query sees only the first key
    out, none = mha(x, x, x, attn_mask=causal, need_weights=False, is_causal=True)
    assert none is None
    np.testing.assert_array_equal(out.data, out_bool.data)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"attn_mask": np.zeros((2, 3), bool)}, ValueError, "2-D attn_mask must be (3, 3)"),
    ({"attn_mask": np.zeros((3, 3, 3), bool)}, ValueError, "3-D attn_mask must be (4, 3, 3)"),
    ({"key_padding_mask": np.zeros((3, 2), bool)}, ValueError, "key_padding_mask must be"),
    ({"attn_mask": np.zeros((3, 3), np.int64)}, TypeError, "bool or float mask"),
    ({"is_causal": True}, RuntimeError, "pass that mask too"),
])
def test_multihead_attention_refuses_bad_masks(kwargs, error, message):
    mha = nn.MultiheadAttention(4, 2, batch_first=True)
    x = Tensor.ones(2, 3, 4)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        mha(x, x, x, **kwargs)


def test_attention_layers_refuse_bad_settings_and_shapes():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(4, 2, add_bias_kv=True)
    with pytest.raises(ValueError, match="last dimension must be 4"):
        nn.MultiheadAttention(4, 2)(Tensor.ones(3, 2, 5), Tensor.ones(3, 2, 5),
                                    Tensor.ones(3, 2, 5))
    with pytest.raises(ValueError, match="must all be 3-D"):
        nn.MultiheadAttention(4, 2)(Tensor.ones(3, 2, 4), Tensor.ones(3, 4), Tensor.ones(3, 4))
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(4, 2, activation="swish")
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(3)(Tensor.ones(2, 4))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"expected \(N, 6, \*\)"):
        nn.GroupNorm(3, 6)(Tensor.ones(2, 4, 3))
    with pytest.raises(ValueError, match="cannot be split"):
        nn.Unflatten(1, (4, -1))(Tensor.ones(2, 6))
    with pytest.raises(ValueError, match="input_size=3"):
        nn.GRU(3, 4)(Tensor.ones(5, 2, 4))


def test_transformer_encoder_layer_dropout_in_training_only_and_callable_activation():
    tg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)  # dropout 0.1, PyTorch's
    assert layer.dropout.p == layer.dropout1.p == layer.self_attn.dropout == 0.1
    x = Tensor(RNG.standard_normal((2, 5, 8)).astype(np.float32))
    first, second = layer(x), layer(x)
    assert not np.allclose(first.data, second.data)  # different dropout masks
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, layer(x).data)
    gelu_layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=F.gelu)
    string_layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu")
    string_layer.load_state_dict(gelu_layer.state_dict())
    np.testing.assert_array_equal(gelu_layer(x).data, string_layer(x).data)


def test_transformer_encoder_layers_are_independent_copies():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0), 3)
    weights = [layer.linear1.weight for layer in encoder.layers]
    assert len({id(w) for w in weights}) == 3 and len(list(encoder.parameters())) == 3 * 12
    x = Tensor(RNG.standard_normal((3, 2, 4)))
    encoder.double()
    params = list(encoder.parameters())[:4]  # the first layer's attention
    assert gradcheck(lambda x, *ps: encoder(x), [Tensor(x.data.astype(np.float64),
                                                        requires_grad=True), *params])


def test_module_to_device_and_dtype():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.BatchNorm1d(4))
    x = Tensor.ones(2, 3)
    assert model.to("cpu") is model and model.to(tg.device("cpu")) is model
    assert model.to(x.device) is model and model.cpu() is model
    model.to(np.float64)
    assert {t.dtype for t in model.state_dict().values() if t.dtype.kind == "f"} == {
        np.dtype(np.float64)}
    assert model.state_dict()["2.num_batches_tracked"].dtype == np.int64  # integers stay
    model.to("cpu:0", dtype=np.float32)
    assert model[0].weight.dtype == np.float32
    model.to(Tensor(np.zeros(1, np.float64)))  # to(tensor): its dtype
    assert model[0].weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="unknown device 'cuda'"):
        model.to("cuda")
    with pytest.raises(TypeError, match="floating point"):
        model.to(np.int32)
    with pytest.raises(TypeError, match="unexpected arguments"):
        model.to(memory_format="channels_last")
    assert model[0].weight.dtype == np.float64  # the refusals changed nothing
