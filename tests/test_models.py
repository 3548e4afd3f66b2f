"""Fast models: the tutorial's trajectory, optimisers, fit/evaluate, checkpoints, CLI and bench."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cnn_lib import TutorialCNN, load_checkpoint, save_checkpoint, train_tutorial
from cnn_lib.checkpoint import CheckpointError
from cnn_lib.data import load_subset
from cnn_lib.models import deep_model, evaluate, fit, preprocess_batch, train_step, tutorial_model
from cnn_lib.optim import SGD, Adam, Momentum, make_optimizer


@pytest.fixture(scope="module")
def subset():
    return load_subset()


# --- the tutorial network from fast layers ----------------------------------------------------

def test_tutorial_model_starts_with_tutorialcnn_weights():
    net, model = TutorialCNN(np.random.default_rng(3)), tutorial_model(np.random.default_rng(3))
    np.testing.assert_array_equal(model.layers[0].filters[..., 0], net.conv.filters)
    np.testing.assert_array_equal(model.layers[3].weights, net.softmax.weights)
    assert set(model.params()) == {"0.filters", "3.weights", "3.biases"}


def test_batch_1_sgd_follows_the_tutorials_training_trajectory(subset):
    """fit(batch 1, SGD 0.005) with the seed's generator = train_tutorial(seed), step by step."""
    images, labels = subset[0][:150], subset[1][:150]
    net, history = train_tutorial(images, labels, num_epochs=2, lr=0.005, seed=7, log=None)
    rng = np.random.default_rng(7)
    model = tutorial_model(rng, np.float64)
    fast = fit(model, images, labels, batch_size=1, num_epochs=2, optimizer=SGD(0.005), rng=rng, log=None)
    np.testing.assert_allclose(fast.batch_loss, history.step_loss.ravel(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[0].filters[..., 0], net.conv.filters, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[3].weights, net.softmax.weights, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[3].biases, net.softmax.biases, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.epoch_accuracy, history.epoch_accuracy, atol=1e-12)


def test_batch_gradient_is_the_mean_of_per_image_gradients(subset):
    images, labels = subset[0][:5], subset[1][:5].astype(int)
    net, model = TutorialCNN(np.random.default_rng(1)), tutorial_model(np.random.default_rng(1))
    model.loss_and_grads(preprocess_batch(images), labels)
    sums = {"filters": 0, "weights": 0, "biases": 0}
    for image, label in zip(images, labels):
        out, _, _ = net.forward(image, int(label))
        net.backward(out, int(label))
        sums["filters"] = sums["filters"] + net.conv.d_L_d_filters
        sums["weights"] = sums["weights"] + net.softmax.d_L_d_w
        sums["biases"] = sums["biases"] + net.softmax.d_L_d_b
    grads = model.grads()
    np.testing.assert_allclose(grads["0.filters"][..., 0], sums["filters"] / 5, atol=1e-10)
    np.testing.assert_allclose(grads["3.weights"], sums["weights"] / 5, atol=1e-10)
    np.testing.assert_allclose(grads["3.biases"], sums["biases"] / 5, atol=1e-10)


def test_deep_model_shapes_and_a_few_epochs_learn_the_subset(subset):
    train_images, train_labels, test_images, test_labels = subset
    model = deep_model(np.random.default_rng(0), np.float32)
    assert model.forward(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)
    history = fit(model, train_images, train_labels, batch_size=32, num_epochs=3, optimizer=Adam(0.002),
                  rng=np.random.default_rng(0), log=None)
    assert history.epoch_loss[-1] < history.epoch_loss[0]
    result = evaluate(model, test_images, test_labels)
    assert result.accuracy > 0.85, result.accuracy
    assert result.predictions.shape == (1000,) and result.probabilities.shape == (1000, 10)


def test_fit_history_and_evaluate(subset):
    images, labels = subset[0][:100], subset[1][:100]
    model = tutorial_model(np.random.default_rng(0), np.float32)
    lines, progress = [], []
    history = fit(model, images, labels, batch_size=32, num_epochs=2, optimizer=Adam(),
                  rng=np.random.default_rng(0), log=lines.append, on_batch=lambda e, done: progress.append((e, done)))
    assert len(history.batch_loss) == 8 and len(history.epoch_loss) == 2   # 32+32+32+4 per epoch
    assert progress[:4] == [(0, 32), (0, 64), (0, 96), (0, 100)]
    assert lines[0].startswith("Epoch 1/2: training loss ") and "images/s" in lines[0]
    assert history.images == 200 and history.images_per_second > 0
    result = evaluate(model, images, labels, batch_size=30)
    assert 0 <= result.accuracy <= 1 and np.isfinite(result.loss)
    untrained = evaluate(tutorial_model(np.random.default_rng(0)), images, labels)
    assert untrained.loss == pytest.approx(np.log(10), abs=0.05)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, images, labels, batch_size=0)
    with pytest.raises(ValueError, match="labels must be digits"):
        fit(model, images, labels + 10, log=None)


# --- optimisers against hand-computed updates -------------------------------------------------

def test_sgd_momentum_and_adam_updates_by_hand():
    g = np.array([0.5, -2.0])
    w = np.array([1.0, 1.0])
    SGD(0.1).step({"w": w}, {"w": g})
    np.testing.assert_allclose(w, [0.95, 1.2])

    w = np.array([1.0, 1.0])
    momentum = Momentum(lr=0.1, momentum=0.9)
    momentum.step({"w": w}, {"w": g})          # v = -0.1 g = [-0.05, 0.2]
    np.testing.assert_allclose(w, [0.95, 1.2])
    momentum.step({"w": w}, {"w": g})          # v = 0.9 v - 0.1 g = [-0.095, 0.38]
    np.testing.assert_allclose(w, [0.855, 1.58])

    w = np.array([1.0, 1.0])
    adam = Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    adam.step({"w": w}, {"w": g})              # m_hat = g, v_hat = g^2: step = lr * sign(g)
    w1 = 1.0 - 0.01 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(w, w1, rtol=1e-14)
    np.testing.assert_allclose(w, [0.99, 1.01], rtol=1e-7)
    adam.step({"w": w}, {"w": 2 * g})
    m = 0.9 * 0.1 * g + 0.1 * 2 * g
    v = 0.999 * 0.001 * g ** 2 + 0.001 * (2 * g) ** 2
    m_hat, v_hat = m / (1 - 0.9 ** 2), v / (1 - 0.999 ** 2)
    np.testing.assert_allclose(w, w1 - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)


def test_optimizers_update_in_place_and_check_their_input():
    w32 = np.ones(3, np.float32)
    Adam().step({"w": w32}, {"w": np.ones(3, np.float32)})
    assert w32.dtype == np.float32 and np.all(w32 < 1)
    with pytest.raises(ValueError, match="same names"):
        SGD().step({"a": w32}, {"b": w32})
    with pytest.raises(ValueError, match="shape"):
        SGD().step({"a": w32}, {"a": np.ones(2)})
    with pytest.raises(ValueError, match="lr"):
        SGD(-1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("rmsprop")
    assert isinstance(make_optimizer("momentum"), Momentum)


# --- checkpoints of any Sequential --------------------------------------------------------------

@pytest.mark.parametrize("make, dtype", [(tutorial_model, np.float64), (deep_model, np.float32)])
def test_sequential_checkpoint_round_trip_is_exact(tmp_path, subset, make, dtype):
    model = make(np.random.default_rng(0), dtype)
    fit(model, subset[0][:64], subset[1][:64], batch_size=32, optimizer=Adam(), rng=np.random.default_rng(0), log=None)
    path = save_checkpoint(model, tmp_path / "model.npz")
    into = load_checkpoint(path, make(np.random.default_rng(1), dtype))
    by_name = load_checkpoint(path)
    for loaded in (into, by_name):
        assert loaded.params().keys() == model.params().keys()
        for name, value in model.params().items():
            assert loaded.params()[name].dtype == value.dtype
            np.testing.assert_array_equal(loaded.params()[name], value)


def test_sequential_checkpoint_errors(tmp_path):
    tutorial = tutorial_model(np.random.default_rng(0))
    path = save_checkpoint(tutorial, tmp_path / "tutorial.npz")
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(path, deep_model(np.random.default_rng(0)))
    with pytest.raises(CheckpointError, match="not a TutorialCNN"):
        load_checkpoint(path, TutorialCNN(np.random.default_rng(0)))
    loop = save_checkpoint(TutorialCNN(np.random.default_rng(0)), tmp_path / "loop.npz")
    with pytest.raises(CheckpointError, match="is not a cnn-from-scratch/Sequential/v1 checkpoint"):
        load_checkpoint(loop, tutorial)
    wrong = tmp_path / "wrong.npz"
    arrays = {name: value for name, value in tutorial.params().items()}
    arrays["3.weights"] = np.zeros((100, 10))
    np.savez(wrong, format=np.array("cnn-from-scratch/Sequential/v1"), model=np.array("tutorial"), **arrays)
    with pytest.raises(CheckpointError, match=r"'3.weights' should be a finite float array of shape \(1352, 10\)"):
        load_checkpoint(wrong, tutorial)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_checkpoint(truncated, tutorial)


# --- command line -------------------------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnn_lib", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("model", ["tutorial", "deep"])
def test_cli_fast_training_of_each_model_saves_and_loads(tmp_path, model):
    checkpoint = tmp_path / f"{model}.npz"
    result = run_cli("train", "--batch-size", "32", "--model", model, "--optimizer", "adam", "--epochs", "1",
                     "--train-size", "200", "--test-size", "100", "--save", str(checkpoint), "--progress")
    assert result.returncode == 0, result.stderr
    assert f"Fast {model} model" in result.stdout
    assert "Epoch 1/1: training loss" in result.stdout
    assert "Summary: 1 epoch(s) on 200 subset training images" in result.stdout
    assert "images/s" in result.stderr  # the progress bar
    accuracy = [line for line in result.stdout.splitlines() if line.startswith("Test Accuracy")]
    assert len(accuracy) == 1 and checkpoint.is_file()
    again = run_cli("train", "--batch-size", "32", "--model", model, "--epochs", "0", "--test-size", "100",
                    "--load", str(checkpoint))
    assert again.returncode == 0, again.stderr
    assert accuracy == [line for line in again.stdout.splitlines() if line.startswith("Test Accuracy")]


def test_cli_bench_quick_prints_one_table():
    result = run_cli("bench", "--quick")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cores" in out and "numpy" in out
    header = [line for line in out.splitlines() if line.startswith("| what")]
    assert len(header) == 1
    for column in ("images/s", "vs loop", "vs PyTorch"):
        assert column in header[0]
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    names = " ".join(rows)
    for row in ("loop layers", "fast tutorial float32 batch 1", "fast tutorial float64 batch 64",
                "fast tutorial float32 batch 64", "fast deep float32 batch 64"):
        assert row in names, row
    try:
        import torch  # noqa: F401
        assert "PyTorch" in names
    except ImportError:
        assert "PyTorch is not installed" in out


def test_fit_decays_the_learning_rate_each_epoch():
    from cnn_lib.data import load_subset
    from cnn_lib.models import fit, tutorial_model
    from cnn_lib.optim import SGD

    images, labels, _, _ = load_subset()
    optimizer = SGD(0.1)
    fit(tutorial_model(np.random.default_rng(0), np.float32), images[:64], labels[:64], batch_size=32,
        num_epochs=3, optimizer=optimizer, log=None, lr_decay=0.5)
    assert optimizer.lr == pytest.approx(0.1 * 0.5 ** 3)
    with pytest.raises(ValueError, match=r"lr_decay must be in \(0, 1\]"):
        fit(tutorial_model(np.random.default_rng(0)), images[:8], labels[:8], lr_decay=1.5, log=None)
