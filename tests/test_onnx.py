"""tinygrad_lite.onnx.export, checked by onnx's checker and by running the file in onnxruntime.

Every model of examples/ (the lesson's MLP, the activations' MLPs, the CNN, the row LSTM, the sparse
autoencoder, logistic regression) and the layers they use (BatchNorm, Dropout in eval mode) are
exported and run in onnxruntime on random inputs at two batch sizes; the outputs must equal ours
within 1e-5. Refusals are checked too: an op with no translation, a value computed outside the
graph, a constant that depends on the batch size.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from tinygrad_lite.onnx import ExportError, export  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOL = 1e-5


def _example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}_onnx", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs(result):
    if isinstance(result, Tensor):
        return [result.numpy()]
    return [a for r in result for a in _outputs(r)]


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _max_diff(model, path, shape, batches, dtype=np.float32, seed=0):
    """Largest |ours - onnxruntime's| over every output at each batch size."""
    session = _session(path)
    name = session.get_inputs()[0].name
    rng = np.random.default_rng(seed)
    worst = 0.0
    model.eval()
    for n in batches:
        x = rng.standard_normal((n, *shape)).astype(dtype)
        with tg.no_grad():
            ours = _outputs(model(Tensor(x)))
        theirs = session.run(None, {name: x})
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape and a.dtype == b.dtype
            worst = max(worst, float(np.abs(a - b).max()))
    return worst


def _export_and_compare(model, shape, tmp_path, batch=3, dtype=np.float32, **kw):
    path = tmp_path / "model.onnx"
    x = np.random.default_rng(1).standard_normal((batch, *shape)).astype(dtype)
    proto = export(model, Tensor(x), path, **kw)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)  # shapes inferred too
    return proto, _max_diff(model, path, shape, (batch, 7), dtype)


def _mlp(activation, softmax=False):
    tg.manual_seed(0)
    layers = [nn.Linear(12, 8), activation, nn.Linear(8, 8), activation, nn.Linear(8, 4)]
    return nn.Sequential(*layers, *([nn.Softmax(dim=-1)] if softmax else []))


# ------------------------------------------------------------------------------ agreement ----
@pytest.mark.parametrize("activation", [nn.Sigmoid(), nn.Tanh(), nn.ReLU(), nn.LeakyReLU(0.1),
                                        nn.PReLU(), nn.PReLU(8), nn.RReLU(), nn.ELU(), nn.Softplus()],
                         ids=lambda m: type(m).__name__ + ("8" if getattr(m, "weight", None) is not
                                                           None and m.weight.size > 1 else ""))
def test_onnx_mlp_activations_match_onnxruntime(activation, tmp_path):
    if isinstance(activation, nn.PReLU):  # slopes that differ from the default and each other
        activation.weight.data[...] = np.linspace(-0.5, 0.5, activation.weight.size)
    model = _mlp(activation, softmax=True)
    _, diff = _export_and_compare(model, (12,), tmp_path)
    assert diff <= TOL


def test_onnx_lesson_mlp_matches_onnxruntime(tmp_path):
    example = _example("mnist_mlp")
    tg.manual_seed(0)
    model = example.MLP()
    proto, diff = _export_and_compare(model, (784,), tmp_path)
    assert diff <= TOL
    assert [n.op_type for n in proto.graph.node][:2] == ["Gemm", "Sigmoid"]


def test_onnx_cnn_example_matches_onnxruntime(tmp_path):
    tg.manual_seed(0)
    model = _example("mnist_cnn").ConvNet(4, 6)
    _, diff = _export_and_compare(model, (1, 28, 28), tmp_path, batch=2)
    assert diff <= TOL


def test_onnx_lstm_example_matches_onnxruntime(tmp_path):
    tg.manual_seed(0)
    model = _example("mnist_lstm").RowLSTM(hidden=8)
    _, diff = _export_and_compare(model, (28, 28), tmp_path, batch=2)
    assert diff <= TOL


def test_onnx_autoencoder_two_outputs_match_onnxruntime(tmp_path):
    tg.manual_seed(0)
    model = _example("sparse_autoencoder").SparseAutoencoder(hidden=16)
    proto, diff = _export_and_compare(model, (784,), tmp_path, output_names=["x_hat", "code"])
    assert diff <= TOL
    assert [o.name for o in proto.graph.output] == ["x_hat", "code"]


def test_onnx_logistic_regression_float64_matches_onnxruntime(tmp_path):
    tg.manual_seed(0)
    linear = nn.Linear(7, 1).double()
    model = nn.Sequential(linear, nn.Sigmoid())
    _, diff = _export_and_compare(model, (7,), tmp_path, dtype=np.float64)
    assert diff <= 1e-12


def test_onnx_conv_padding_stride_pools_batchnorm_dropout_match_onnxruntime(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, kernel_size=3, stride=2, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1), nn.Conv2d(3, 4, kernel_size=(2, 1)), nn.AvgPool2d(2),
        nn.Dropout(0.5), nn.Flatten(), nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Tanh())
    model.train()
    for _ in range(3):  # running statistics that are not the initial 0 and 1
        model(Tensor(np.random.default_rng(2).standard_normal((4, 2, 11, 9)).astype(np.float32)))
    model[6].eval()  # a mixed state, to see that each module gets its own mode back
    export(model, Tensor.zeros(2, 2, 11, 9), tmp_path / "m.onnx")  # runs in eval mode
    assert [m.training for m in model] == [i != 6 for i in range(len(model))]
    _, diff = _export_and_compare(model, (2, 11, 9), tmp_path)
    assert diff <= TOL


def test_onnx_opset_18_reductions_match_onnxruntime(tmp_path):
    model = _mlp(nn.ReLU(), softmax=True)  # softmax's ReduceMax takes its axes as an input in 18
    _, diff = _export_and_compare(model, (12,), tmp_path, opset=18)
    assert diff <= TOL


def test_onnx_tensor_ops_indexing_concat_pad_match_onnxruntime(tmp_path):
    class Ops(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2))

        def forward(self, x):  # x: (N, 4, 3)
            y = x[:, 1:, ::-1] @ self.w  # (N, 3, 2)
            z = Tensor.concatenate([y, y[:, [2, 0]]], axis=1)  # (N, 5, 2)
            z = z.pad(((0, 0), (1, 2), (0, 0)), constant_values=0.5)
            top = z[:, None, -1, ...] + z.max(axis=1, keepdims=True).expand_dims(1)
            return (top.exp() / 3 - z.sum(axis=(1, 2)).reshape(-1, 1, 1, 1)).transpose(0, 3, 1, 2)

    _, diff = _export_and_compare(Ops(), (4, 3), tmp_path)
    assert diff <= TOL


def test_onnx_repeated_outputs_and_the_input_as_an_output(tmp_path):
    class Fork(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            y = self.lin(x).tanh()
            return y, (x, y * 2.0, y)

    proto, diff = _export_and_compare(Fork(), (3,), tmp_path)
    assert diff <= TOL
    assert len(proto.graph.output) == 4


@pytest.mark.slow
def test_onnx_mnist_mlp_example_exports_the_trained_network(tmp_path, capsys):
    """`examples/mnist_mlp.py --quick --export-onnx PATH`: onnxruntime gives the trained network's
    scores, and so its answers and test accuracy, on real test digits."""
    example = _example("mnist_mlp")
    path = tmp_path / "mlp.onnx"
    result = example.main(["--quick", "--no-progress", "--out", str(tmp_path), "--export-onnx",
                           str(path)])
    assert path in result["paths"] and "ONNX model:" in capsys.readouterr().out
    _, _, x_test, y_test = example.load_data(True, 1, 2000)
    session = _session(path)
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    (scores,) = session.run(["scores"], {"pixels": x_test})
    model = result["model"].eval()
    with tg.no_grad():
        ours = model(Tensor(x_test)).numpy()
    # NOTE: scores of the trained net reach |20|; float32 sums of 784 products in another order
    # differ by a few ulp there (1.0e-5 measured), so the bound is relative as well
    np.testing.assert_allclose(scores, ours, rtol=TOL, atol=TOL)
    assert (scores.argmax(axis=1) == y_test).mean() == pytest.approx(result["test_accuracy"])
    (one,) = session.run(None, {"pixels": x_test[:1]})  # batch of one
    np.testing.assert_allclose(one, ours[:1], rtol=TOL, atol=TOL)


# ------------------------------------------------------------------------ what the file says ----
def test_onnx_parameters_are_initializers_with_their_names(tmp_path):
    model = _mlp(nn.ReLU())
    proto = export(model, Tensor.zeros(2, 12), tmp_path / "m.onnx")
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(inits[name], p.numpy())


def test_onnx_dynamic_batch_is_symbolic_and_fixed_batch_is_fixed(tmp_path):
    model = _mlp(nn.ReLU())
    dyn = export(model, Tensor.zeros(2, 12), tmp_path / "d.onnx")
    assert dyn.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert dyn.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    fixed = export(model, Tensor.zeros(2, 12), tmp_path / "f.onnx", dynamic_batch=False,
                   input_names=["pixels"], output_names=["scores"])
    assert fixed.graph.input[0].name == "pixels" and fixed.graph.output[0].name == "scores"
    assert fixed.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    assert _max_diff(model, tmp_path / "f.onnx", (12,), (2,)) <= TOL
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        _session(tmp_path / "f.onnx").run(None, {"pixels": np.zeros((3, 12), np.float32)})


def test_onnx_checker_catches_a_broken_file(tmp_path):
    """The checker used above can fail: a node reading a value nobody makes is refused."""
    proto = export(_mlp(nn.ReLU()), Tensor.zeros(2, 12), tmp_path / "m.onnx")
    proto.graph.node[1].input[0] = "nowhere"
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(proto)


def test_onnx_agreement_check_catches_a_wrong_weight(tmp_path):
    """The comparison above can fail: a file with one changed weight disagrees."""
    model = _mlp(nn.ReLU())
    proto = export(model, Tensor.zeros(2, 12), tmp_path / "m.onnx")
    init = next(i for i in proto.graph.initializer if i.name == "0.weight")
    changed = onnx.numpy_helper.to_array(init).copy()
    changed[0, 0] += 1e-3
    init.CopyFrom(onnx.numpy_helper.from_array(changed, "0.weight"))
    onnx.save(proto, str(tmp_path / "m.onnx"))
    assert _max_diff(model, tmp_path / "m.onnx", (12,), (3,)) > TOL


# -------------------------------------------------------------------------------- refusals ----
def test_onnx_refuses_an_op_it_cannot_express_naming_it(tmp_path):
    class Writes(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            y = self.lin(x)
            y[:, 0] = 0.0  # recorded as SetItem
            return y

    with pytest.raises(ExportError, match="SetItem"):
        export(Writes(), Tensor.zeros(2, 3), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_refuses_a_value_computed_outside_the_graph(tmp_path):
    class Sneaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            y = self.lin(x)
            return y * y.data.std()  # a number from the input, invisible to the graph

    with pytest.raises(ExportError, match="outside the recorded graph"):
        export(Sneaky(), Tensor.ones(4, 3), tmp_path / "m.onnx", dynamic_batch=False)


def test_onnx_refuses_batch_dependent_constants_unless_batch_is_fixed(tmp_path):
    class Centered(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            y = self.lin(x)
            return y - y.mean(axis=0)  # divides by the batch size: a constant that depends on it

    model = Centered()
    with pytest.raises(ExportError, match="dynamic_batch=False"):
        export(model, Tensor.ones(4, 3), tmp_path / "m.onnx")
    export(model, Tensor.ones(4, 3), tmp_path / "m.onnx", dynamic_batch=False)
    assert _max_diff(model, tmp_path / "m.onnx", (3,), (4,)) <= TOL


def test_onnx_refuses_integer_inputs_and_bad_arguments(tmp_path):
    model = _mlp(nn.ReLU())
    with pytest.raises(ExportError, match="floating-point"):
        export(nn.Embedding(5, 2), Tensor([[1, 2]]), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="opset"):
        export(model, Tensor.zeros(2, 12), tmp_path / "m.onnx", opset=9)
    with pytest.raises(ValueError, match="name"):
        export(model, Tensor.zeros(2, 12), tmp_path / "m.onnx", input_names=["a", "b"])
