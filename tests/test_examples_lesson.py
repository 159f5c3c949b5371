"""The lesson's examples in quick mode: each runs and reaches the outcome it teaches.

Examples are scripts, not a package: each is imported by path and its `main([...])` is called
with `--quick` and a temporary output folder; the returned measurements are checked.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str):
    """Import examples/<name>.py as a module (without running its main)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_png(path: Path) -> None:
    """A real, non-trivial PNG file."""
    path = Path(path)
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert path.stat().st_size > 10_000, (path, path.stat().st_size)


LESSON_EXAMPLES = ["logistic_regression_pima", "optimizers", "activations", "sparse_autoencoder"]


@pytest.mark.parametrize("name", LESSON_EXAMPLES)
def test_examples_import_without_side_effects(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default --out is relative: nothing may appear here
    module = load_example(name)
    assert callable(module.main) and module.__doc__
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().out == ""
    with pytest.raises(SystemExit):  # --help prints the lesson's docstring and exits
        module.main(["--help"])
    assert "--quick" in capsys.readouterr().out and list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------- logistic regression ----
@pytest.fixture(scope="module")
def pima_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("pima")
    return load_example("logistic_regression_pima").main(["--quick", "--out", str(out)])


def test_logistic_regression_newton_converges_in_few_iterations(pima_result):
    newton = pima_result["runs"]["Newton"]
    assert newton["converged"] and newton["iterations"] <= 10
    assert newton["grad_norm"] < 1e-5


def test_logistic_regression_test_accuracy_matches_known_result(pima_result):
    # unregularized logistic regression on Pima.tr makes about 66 errors on the 332 of Pima.te
    newton = pima_result["runs"]["Newton"]
    assert 0.76 <= newton["test_accuracy"] <= 0.84
    assert abs(newton["test_errors"] - 66) <= 3
    # the optimum's cost: well below log 2 (everyone p = 0.5, the starting point)
    assert 0.40 < pima_result["optimum"] < 0.50 < np.log(2)


def test_logistic_regression_converged_optimizers_agree_with_newton(pima_result):
    optimum = pima_result["runs"]["Newton"]["final_cost"]
    converged = [name for name, run in pima_result["runs"].items() if run["converged"]]
    # the full-batch methods tuned to be quick do converge within the quick budget
    assert {"GD", "AdaGrad", "RMSProp", "Adam", "Newton"} <= set(converged)
    for name in converged:
        run = pima_result["runs"][name]
        assert abs(run["final_cost"] - optimum) < 1e-8, name
        assert run["test_errors"] == pima_result["runs"]["Newton"]["test_errors"], name
        assert run["iterations"] >= pima_result["runs"]["Newton"]["iterations"], name
    for name, run in pima_result["runs"].items():  # every cost curve went down from log 2
        assert run["costs"][0] == pytest.approx(np.log(2))
        assert run["final_cost"] < run["costs"][0] - 0.2, name


def test_logistic_regression_sgd_gets_close_but_noisy(pima_result):
    sgd = pima_result["runs"]["SGD"]
    assert sgd["final_cost"] - pima_result["optimum"] < 1e-4
    assert sgd["updates"] == sgd["iterations"] * 20  # 20 minibatches of 10 per pass


def test_logistic_regression_l2_penalty_shrinks_coefficients(tmp_path):
    example = load_example("logistic_regression_pima")
    plain = example.main(["--quick", "--max-iters", "20", "--out", str(tmp_path)])
    ridge = example.main(["--quick", "--max-iters", "20", "--lam", "50", "--out", str(tmp_path)])
    norm = lambda r: np.linalg.norm(list(r["coefficients"].values()))  # noqa: E731
    assert norm(ridge) < 0.8 * norm(plain)
    assert ridge["runs"]["Newton"]["converged"] and ridge["runs"]["Newton"]["iterations"] <= 10
    assert ridge["optimum"] > plain["optimum"]  # the penalty adds to the cost


def test_logistic_regression_writes_the_figure(pima_result):
    assert_png(pima_result["figure"])


# --------------------------------------------------------------------------------- optimizers ----
@pytest.fixture(scope="module")
def race_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("optimizers")
    return load_example("optimizers").main(["--quick", "--out", str(out)])


def test_optimizers_newton_solves_rosenbrock_in_few_steps(race_result):
    newton = race_result["rosenbrock"]["runs"]["Newton"]
    assert newton["steps"] <= 10
    assert newton["distance"] < 1e-6 and newton["final_loss"] < 1e-12


def test_optimizers_newton_stops_at_beales_saddle(race_result):
    # grad f = 0 at the saddle (0, 1) as at the minimum (3, 0.5): Newton finds the nearer one
    newton = race_result["beale"]["runs"]["Newton"]
    np.testing.assert_allclose(newton["final"], [0.0, 1.0], atol=1e-6)
    assert newton["final_loss"] == pytest.approx(1.5**2 + 2.25**2 + 2.625**2)


def test_optimizers_first_order_methods_make_progress(race_result):
    for function in ("rosenbrock", "beale"):
        runs = race_result[function]["runs"]
        adam = runs["Adam"]
        assert adam["distance"] < 0.1 * adam["start_distance"], function
        assert adam["final_loss"] < 1e-3 * adam["losses"][0], function
        for name, run in runs.items():
            assert np.all(np.isfinite(run["path"])), (function, name)
            assert len(run["path"]) == run["steps"] + 1, (function, name)
    # Beale is easy once in the basin: momentum, AdaGrad and Adam all get within 1e-2
    beale = race_result["beale"]["runs"]
    assert max(beale[n]["distance"] for n in ("Momentum", "AdaGrad", "Adam")) < 1e-2


def test_optimizers_writes_one_figure_per_function(race_result):
    for function in ("rosenbrock", "beale"):
        assert_png(race_result[function]["figure"])


# -------------------------------------------------------------------------------- activations ----
@pytest.fixture(scope="module")
def activations_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("activations")
    return load_example("activations").main(["--quick", "--out", str(out)])


def test_activations_sigmoid_gradients_vanish(activations_result):
    results = activations_result["results"]
    sigmoid = results["sigmoid"]["grad_norms"]
    # the first layer gets orders of magnitude less gradient than the output layer...
    assert results["sigmoid"]["grad_ratio"] < 1e-3
    # ...shrinking layer after layer on the way back (each factor at most sigmoid' <= 1/4 times
    # the weights); over the last 8 layers the norm falls monotonically
    assert np.all(np.diff(sigmoid[2:]) > 0)
    for name in ("tanh", "ReLU", "LeakyReLU", "PReLU", "RReLU"):
        assert 0.1 < results[name]["grad_ratio"] < 10, name
        assert results[name]["grad_ratio"] > 1000 * results["sigmoid"]["grad_ratio"], name


def test_activations_relu_is_sparse_sigmoid_is_not(activations_result):
    results = activations_result["results"]
    assert results["ReLU"]["zero_fraction"] > 0.2
    for name in ("sigmoid", "tanh", "LeakyReLU", "PReLU", "RReLU"):
        assert results[name]["zero_fraction"] == 0, name


def test_activations_relu_family_learns_sigmoid_does_not(activations_result):
    results = activations_result["results"]
    assert results["sigmoid"]["test_accuracy"] < 0.2  # about chance: 10 classes
    for name in ("ReLU", "LeakyReLU", "PReLU", "RReLU", "tanh"):
        assert results[name]["test_accuracy"] > results["sigmoid"]["test_accuracy"] + 0.1, name
        assert results[name]["losses"][-5:].mean() < results[name]["losses"][:5].mean(), name


def test_activations_writes_the_figure(activations_result):
    assert_png(activations_result["figure"])


# ------------------------------------------------------------------------- sparse autoencoder ----
@pytest.fixture(scope="module")
def autoencoder_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("autoencoder")
    return load_example("sparse_autoencoder").main(["--quick", "--out", str(out)])


def test_sparse_autoencoder_mean_activation_falls_toward_rho(autoencoder_result):
    history = autoencoder_result["history"]
    assert abs(history[0]["mean_activation"] - 0.5) < 0.05  # sigmoids of small weighted sums
    assert history[-1]["mean_activation"] < 0.15
    assert history[-1]["mean_activation"] > 0.05 * 0.5  # towards rho, not collapsed to 0


def test_sparse_autoencoder_reconstruction_improves(autoencoder_result):
    history = autoencoder_result["history"]
    test_recon = [h["recon"] for h in history]
    assert test_recon[-1] < 0.4 * test_recon[0]
    assert all(b < a for a, b in zip(test_recon, test_recon[1:]))  # every epoch helps
    train_cost = [h["train_cost"] for h in history[1:]]
    assert train_cost[-1] < train_cost[0]


def test_sparse_autoencoder_sparsity_penalty_is_what_makes_it_sparse(tmp_path):
    # the same run without the KL term (beta = 0): hidden units stay busy
    example = load_example("sparse_autoencoder")
    dense = example.main(["--quick", "--beta", "0", "--train-size", "1000", "--epochs", "1",
                          "--out", str(tmp_path)])
    assert dense["history"][-1]["mean_activation"] > 0.3


def test_sparse_autoencoder_writes_features_and_reconstructions(autoencoder_result):
    features, reconstructions = autoencoder_result["figures"]
    assert features.name == "features.png" and reconstructions.name == "reconstructions.png"
    for path in (features, reconstructions):
        assert_png(path)
