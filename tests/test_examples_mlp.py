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


def _png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


@pytest.mark.slow
def test_mnist_mlp_predict_names_the_checkpoint_it_used(quick_run, tmp_path, capsys):
    example, result, out = quick_run
    png = _png(tmp_path / "seven.png", mnist.load("test", normalize=False)[0][0])
    capsys.readouterr()
    example.main(["--predict", str(png), "--out", str(out)])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (f"checkpoint: {out / 'mnist_mlp.npz'} (preset default, 2 epochs, "
                     f"{result['test_accuracy']:.2%} on the test digits)")


def test_mnist_mlp_presets_write_to_their_own_folders():
    example = _load_example()
    default, lesson = example.parse_args([]), example.parse_args(["--preset", "lesson"])
    assert default.out == Path("outputs/mnist_mlp/default")
    assert lesson.checkpoint == Path("outputs/mnist_mlp/lesson/mnist_mlp.npz")
    assert example.parse_args(["--out", "x"]).checkpoint == Path("x/mnist_mlp.npz")


def test_mnist_mlp_predict_without_checkpoint_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    png = _png(tmp_path / "d.png", np.zeros((28, 28)))
    with pytest.raises(SystemExit) as exit_info:
        _load_example().main(["--predict", str(png), "--preset", "lesson"])
    assert str(exit_info.value) == (
        "error: no checkpoint at outputs/mnist_mlp/lesson/mnist_mlp.npz: train one first with "
        "`python examples/mnist_mlp.py --preset lesson` (or give --checkpoint PATH)")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.png", None, "no such file"),
    ("broken.png", b"this is not a picture", "not a readable image (UnidentifiedImageError)"),
    ("cut.png", b"\x89PNG\r\n\x1a\n\x00\x00", "not a readable image"),
    ("bad-idx3-ubyte", b"\x00\x00\x08\x03\x00", "not a readable IDX file"),
])
def test_mnist_mlp_predict_unreadable_input_is_one_clear_line(quick_run, tmp_path, name, content,
                                                              message):
    example, _, out = quick_run
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        example.main(["--predict", str(path), "--out", str(out)])
    text = str(exit_info.value)
    assert text.startswith(f"error: --predict {path}: ") and message in text and "\n" not in text


@pytest.mark.slow
def test_mnist_mlp_predict_says_when_it_stops_printing(quick_run, tmp_path, capsys):
    example, _, out = quick_run
    images = mnist.load("test", normalize=False)[0][:120]
    idx = tmp_path / "many-idx3-ubyte"
    idx.write_bytes(struct.pack(">IIII", 2051, 120, 28, 28) + images.tobytes())
    capsys.readouterr()
    answers = example.main(["--predict", str(idx), "--out", str(out), "--show", "5"])
    lines = capsys.readouterr().out.splitlines()
    assert len(answers["predictions"]) == 120
    assert sum(line.startswith("image ") for line in lines) == 5
    counts = dict(enumerate(np.bincount(answers["predictions"], minlength=10).tolist()))
    assert (f"stopped printing after 5 of 120 images (--show N prints more); answers for all "
            f"120: {counts}") in lines


@pytest.mark.slow
def test_mnist_mlp_predict_notes_inputs_unlike_any_training_digit(quick_run, tmp_path, capsys):
    example, _, out = quick_run
    rng = np.random.default_rng(0)
    checker = (np.indices((28, 28)) // 4).sum(axis=0) % 2 * 255
    pictures = {"noise": rng.integers(0, 256, (28, 28)), "blank": np.full((40, 40), 255),
                "checkerboard": checker, "digit": 255 - mnist.load("test", normalize=False)[0][3]}
    for name, pixels in pictures.items():
        capsys.readouterr()
        result = example.main(["--predict", str(_png(tmp_path / f"{name}.png", pixels)),
                               "--out", str(out)])
        printed = capsys.readouterr().out
        unlike = name != "digit"
        assert result["unlike"] == [unlike], (name, result["similarity"])
        assert ("<- unlike any training digit" in printed) is unlike, printed
        assert ("note: 1 of 1 image(s) look unlike every training digit" in printed) is unlike
    assert result["similarity"][0] > example.SIMILARITY_FLOOR + 0.1  # the real digit


@pytest.mark.slow
def test_mnist_mlp_similarity_floor_separates_test_digits_from_noise_and_blank():
    example = _load_example()
    # NOTE: 500 of the test digits keep this test short; all 10,000 were checked by hand
    # (`--predict t10k-images-idx3-ubyte.gz` prints no note)
    digits = mnist.load("test", flatten=True)[0][:500].astype(np.float32)  # in [0, 1]
    rng = np.random.default_rng(1)
    noise = rng.random((100, 784), dtype=np.float32)
    sparse_noise = noise * (rng.random((100, 784)) < 0.2)  # about as much ink as a digit
    similar = example.similarity(np.concatenate([digits, noise, sparse_noise, np.zeros((1, 784))]))
    real, fake = similar[:500], similar[500:]
    assert real.min() >= example.SIMILARITY_FLOOR  # no real test digit is flagged
    assert fake.max() < example.SIMILARITY_FLOOR and fake[-1] == 0.0  # noise and blank all are
    # and the measure is what it says: a training digit is most similar to itself
    train = mnist.load("train", flatten=True)[0][:3].astype(np.float32)
    np.testing.assert_allclose(example.similarity(train * 0.5), 1.0, rtol=1e-5)
