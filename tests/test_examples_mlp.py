"""The main job, examples/mnist_mlp.py, in its quick form on the real bundled MNIST data."""

from __future__ import annotations

import gzip
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite.data import mnist

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist_mlp.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("mnist_mlp_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist_mlp")
    example = _load_example()
    result = example.main(["--quick", "--out", str(out), "--no-progress"])
    return example, result, out


@pytest.mark.slow
def test_mnist_mlp_quick_run_learns_the_digits(quick_run):
    _, result, _ = quick_run
    assert result["parameters"] == 13_002
    assert result["test_accuracy"] > 0.85
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    confusion = result["confusion"]
    assert confusion.sum() == result["n_test"] == 2000
    assert np.trace(confusion) == round(result["test_accuracy"] * 2000)


@pytest.mark.slow
def test_mnist_mlp_writes_checkpoint_and_figures(quick_run):
    _, _, out = quick_run
    for name in ("mnist_mlp.npz", "curves.png", "first_layer_neurons.png"):
        assert (out / name).stat().st_size > 1000, name
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_mnist_mlp_noise_still_gets_an_answer_and_can_be_made_confident(quick_run):
    _, result, _ = quick_run
    assert sum(result["noise_answers"]) == 1000  # every noise image is called some digit
    assert result["fooled_confidence"] > result["noise_confidence"]
    assert result["fooled_max_pixel_change"] <= 0.31


@pytest.mark.slow
def test_mnist_mlp_predicts_png_and_idx_images(quick_run, tmp_path):
    example, _, out = quick_run
    images, labels = mnist.load("test", normalize=False)
    # an IDX file of the first 20 test images
    idx = tmp_path / "digits-idx3-ubyte.gz"
    with gzip.open(idx, "wb") as f:
        f.write(struct.pack(">IIII", 2051, 20, 28, 28) + images[:20].tobytes())
    answers = example.main(["--predict", str(idx), "--out", str(out)])["predictions"]
    assert len(answers) == 20 and np.mean(np.array(answers) == labels[:20]) >= 0.7
    # a PNG, drawn the other way round (dark ink on white) and larger than 28x28
    from PIL import Image

    big = Image.fromarray(255 - images[0]).resize((84, 84))
    png = tmp_path / "digit.png"
    big.save(png)
    (answer,) = example.main(["--predict", str(png), "--out", str(out)])["predictions"]
    assert answer == labels[0]


def test_mnist_mlp_presets_and_parameter_arithmetic():
    example = _load_example()
    lesson = example.parse_args(["--preset", "lesson"])
    assert (lesson.activation, lesson.loss, lesson.optimizer) == ("sigmoid", "mse", "sgd")
    custom = example.parse_args(["--activation", "tanh", "--lr", "0.5"])
    assert custom.activation == "tanh" and custom.lr == 0.5 and custom.loss == "cross_entropy"
    model = example.MLP("sigmoid")
    assert example.count_parameters(model) == (
        "784*16 + 16 + 16*16 + 16 + 16*10 + 10 = 13,002"
    )
