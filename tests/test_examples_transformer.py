"""examples/mnist_transformer.py: its --quick run on the real bundled MNIST (learns, writes a
checkpoint that reproduces its accuracy and the attention picture), and the parts it relies on
(patches in reading order, the class token's attention maps, every parameter trained)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tg
from tests.test_examples_deep import assert_png, load_example
from tinygrad_lite import Tensor


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist_transformer")
    module = load_example("mnist_transformer")
    return module, module.main(["--quick", "--out", str(out), "--no-progress"]), out


@pytest.mark.slow
def test_mnist_transformer_quick_run_learns_digits(vit):
    _, result, _ = vit
    assert result["n_train"] == 10_000 and result["n_test"] == 1_000
    assert result["test_accuracy"] >= 0.5  # one pass over 10,000 shifted images; chance is 10%
    losses = result["history"]["step_loss"]
    assert len(losses) == 313  # ceil(10,000 / 32)
    assert np.log(10) - 0.4 < np.mean(losses[:3]) < np.log(10) + 0.6  # starts near chance
    assert np.mean(losses[-30:]) < 0.65 * np.mean(losses[:5])


@pytest.mark.slow
def test_mnist_transformer_outputs_and_checkpoint(vit):
    module, result, out = vit
    assert {p.name for p in result["figures"]} == {"loss.png", "attention.png"}
    for path in result["figures"]:
        assert_png(path)
    assert Path(result["checkpoint"]).parent == out
    saved = tg.load(result["checkpoint"])
    config = saved["config"]
    model = module.VisionTransformer(config["patch"], config["dim"], config["depth"],
                                     config["heads"], config["mlp"], config["dropout"])
    model.load_state_dict(saved["model"])
    _, _, x_test, y_test = module.load_data(10, 1_000)
    accuracy, _ = module.evaluate(model, x_test, y_test)
    assert accuracy == result["test_accuracy"]


def test_mnist_transformer_patches_are_the_image_blocks_in_reading_order():
    module = load_example("mnist_transformer")
    images = np.random.default_rng(0).standard_normal((2, 28, 28)).astype(np.float32)
    patches = module.to_patches(Tensor(images), 7).numpy()
    assert patches.shape == (2, 16, 49)
    for k in range(16):
        row, col = divmod(k, 4)
        np.testing.assert_array_equal(patches[:, k],
                                      images[:, 7 * row:7 * row + 7, 7 * col:7 * col + 7]
                                      .reshape(2, 49))


def test_mnist_transformer_model_shapes_attention_maps_and_gradients():
    module = load_example("mnist_transformer")
    tg.manual_seed(0)
    model = module.VisionTransformer(patch=4, dim=8, depth=2, heads=2, mlp=16)
    # embed 16*8+8, class token 8, positions 50*8, per layer 3*8*8+24 + 8*8+8 + 8*16+16 +
    # 16*8+8 + 4*8, final norm 16, head 8*10+10
    per_layer = 216 + 72 + 144 + 136 + 32
    assert model.num_parameters() == 136 + 8 + 400 + 2 * per_layer + 16 + 90
    images = Tensor(np.random.default_rng(1).standard_normal((3, 28, 28)).astype(np.float32))
    scores = model(images)
    assert scores.shape == (3, 10)
    tg.nn.functional.cross_entropy(scores, Tensor(np.array([1, 2, 3]))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.data).sum() > 0, name
    model.eval()
    with tg.no_grad():
        maps = model.attention_maps(images)
    assert maps.shape == (2, 3, 2, 49)  # (layers, images, heads, patches)
    # the class token's weights over the 49 patches plus itself sum to 1
    assert (maps.sum(-1) < 1).all() and (maps.sum(-1) > 0.5).all()
    with pytest.raises(ValueError, match="must divide 28"):
        module.VisionTransformer(patch=5)
