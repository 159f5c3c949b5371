"""How closely onnxruntime reproduces our outputs for every exported example model.

    python benchmarks/onnx_agreement.py            # random inputs at batch sizes 3 and 7
    python benchmarks/onnx_agreement.py --trained  # also the lesson MLP trained with --quick

Prints the largest |ours - onnxruntime| over every output per model, and the export time.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import tinygrad_lite as tg
from tinygrad_lite import Tensor, nn
from tinygrad_lite.onnx import export

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outputs(result):
    return [result.numpy()] if isinstance(result, Tensor) else [a for r in result for a in outputs(r)]


def max_diff(model, path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    worst = 0.0
    model.eval()
    for x in inputs:
        with tg.no_grad():
            ours = outputs(model(Tensor(x)))
        for a, b in zip(ours, session.run(None, {name: x})):
            worst = max(worst, float(np.abs(a - b).max()))
    return worst


def models():
    tg.manual_seed(0)
    mlp = example("mnist_mlp")
    yield "lesson MLP 784-16-16-10 (sigmoid)", mlp.MLP(), (784,), np.float32
    for act in (nn.ReLU(), nn.LeakyReLU(0.01), nn.PReLU(), nn.RReLU(), nn.Tanh(), nn.ELU()):
        model = nn.Sequential(nn.Linear(784, 16), act, nn.Linear(16, 16), act, nn.Linear(16, 10),
                              nn.Softmax(dim=-1))
        yield f"MLP with {type(act).__name__} + softmax", model, (784,), np.float32
    yield "CNN (examples/mnist_cnn.py)", example("mnist_cnn").ConvNet(), (1, 28, 28), np.float32
    yield "row LSTM (examples/mnist_lstm.py)", example("mnist_lstm").RowLSTM(), (28, 28), np.float32
    yield ("sparse autoencoder (2 outputs)", example("sparse_autoencoder").SparseAutoencoder(196),
           (784,), np.float32)
    bn = nn.Sequential(nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
                       nn.Linear(32, 10))
    bn(Tensor(np.random.default_rng(0).random((64, 784), dtype=np.float32)))  # running statistics
    yield "BatchNorm1d + Dropout (eval)", bn, (784,), np.float32
    yield "logistic regression (float64)", nn.Sequential(nn.Linear(7, 1).double(), nn.Sigmoid()), \
        (7,), np.float64


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trained", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    folder = Path(tempfile.mkdtemp())
    print(f"{'model':45s} {'max |ours - ort|':>18s} {'export':>8s}")
    for name, model, shape, dtype in models():
        path = folder / "m.onnx"
        start = time.perf_counter()
        export(model, Tensor(rng.standard_normal((3, *shape)).astype(dtype)), path)
        seconds = time.perf_counter() - start
        inputs = [rng.standard_normal((n, *shape)).astype(dtype) for n in (3, 7)]
        print(f"{name:45s} {max_diff(model, path, inputs):18.1e} {seconds:7.2f}s")
    if args.trained:
        mlp = example("mnist_mlp")
        path = folder / "trained.onnx"
        result = mlp.main(["--quick", "--no-progress", "--out", str(folder), "--export-onnx", str(path)])
        x_test = mlp.load_data(True, 1, 2000)[2]
        print(f"{'trained lesson MLP, 2,000 test digits':45s} "
              f"{max_diff(result['model'], path, [x_test]):18.1e}")


if __name__ == "__main__":
    main()
