"""The tutorial's network, its training run, checkpoints and the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from cnn_lib import TutorialCNN, evaluate, load_checkpoint, save_checkpoint, train_tutorial
from cnn_lib.checkpoint import CheckpointError
from cnn_lib.data import load_subset
from cnn_lib.gradcheck import numerical_gradient, rel_error


@pytest.fixture(scope="module")
def subset():
    return load_subset()


def test_untrained_network_loss_is_about_ln_10(subset):
    """Softmax of near-equal totals gives p ~ 1/10 for every digit, so L = -ln(1/10) = 2.302."""
    train_images, train_labels, _, _ = subset
    net = TutorialCNN(np.random.default_rng(0))
    result = evaluate(net, train_images[:1000], train_labels[:1000])
    assert result.loss == pytest.approx(np.log(10), abs=0.02)
    assert 0.03 < result.accuracy < 0.2
    assert result.probabilities.shape == (1000, 10)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)


def test_forward_returns_probabilities_loss_and_correct(subset):
    image, label = subset[0][0], int(subset[1][0])
    out, loss, correct = TutorialCNN(np.random.default_rng(0)).forward(image, label)
    assert out.shape == (10,)
    assert loss == pytest.approx(-np.log(out[label]))
    assert correct == int(np.argmax(out) == label)


def test_whole_network_gradient_matches_central_differences(subset):
    """dL/dfilters, dL/dw and dL/db of the real loss on a real digit, against numeric gradients.

    On a real digit some 2x2 windows hold values closer than 1e-4 apart, so the
    default nudge can cross a kink of max; h = 1e-5 stays clear of them (notebook 05).
    The softmax weights are checked on 4 random rows to keep the test fast.
    """
    image, label = subset[0][0], int(subset[1][0])
    net = TutorialCNN(np.random.default_rng(1))

    def loss(_=None):
        return net.forward(image, label)[1]

    out, _, _ = net.forward(image, label)
    net.backward(out, label)
    h = 1e-5
    assert rel_error(net.conv.d_L_d_filters, numerical_gradient(loss, net.conv.filters, h)) < 1e-6
    assert rel_error(net.softmax.d_L_d_b, numerical_gradient(loss, net.softmax.biases, h)) < 1e-6
    rows = np.random.default_rng(2).choice(net.softmax.weights.shape[0], 4, replace=False)
    for row in rows:
        numeric = numerical_gradient(loss, net.softmax.weights[row], h)
        assert rel_error(net.softmax.d_L_d_w[row], numeric) < 1e-6


def test_train_step_lowers_the_loss_on_that_image(subset):
    image, label = subset[0][3], int(subset[1][3])
    net = TutorialCNN(np.random.default_rng(0))
    before = net.forward(image, label)[1]
    for _ in range(5):
        net.train(image, label, lr=0.005)
    assert net.forward(image, label)[1] < before


@pytest.mark.parametrize("label", [10, -1, 3.0, "3", True])
def test_bad_labels_are_rejected(subset, label):
    with pytest.raises(ValueError, match="label must"):
        TutorialCNN(np.random.default_rng(0)).forward(subset[0][0], label)


def test_bad_image_shape_is_rejected():
    with pytest.raises(ValueError, match=r"shape \(28, 28\).*got \(32, 32\)"):
        TutorialCNN(np.random.default_rng(0)).forward(np.zeros((32, 32)), 1)


def test_training_short_run_is_seeded_and_logs_the_tutorials_lines(subset):
    train_images, train_labels, test_images, test_labels = subset
    runs = []
    for _ in range(2):
        lines = []
        net, history = train_tutorial(
            train_images[:200], train_labels[:200], test_images[:50], test_labels[:50],
            num_epochs=2, seed=3, log=lines.append,
        )
        runs.append((lines, history))
    (lines, history), (lines_again, history_again) = runs
    assert lines == lines_again
    np.testing.assert_array_equal(history.step_loss, history_again.step_loss)
    assert lines[0] == "MNIST CNN initialized!"
    assert lines[1] == "--- Epoch 1 ---"
    assert lines[2].startswith("[Step 100] Past 100 steps: Average Loss ")
    assert lines[2].endswith("%")
    assert lines[-3] == "\n--- Testing the CNN ---"
    assert lines[-2].startswith("Test Loss: ")
    assert lines[-1] == f"Test Accuracy: {history.test.accuracy}"
    assert history.step_loss.shape == (2, 200)
    assert history.window_step == [100, 200, 300, 400]
    assert len(history.epoch_loss) == 2
    np.testing.assert_allclose(history.window_loss[0], history.step_loss[0, :100].mean())
    assert history.window_accuracy[0] == history.step_correct[0, :100].mean()
    other_seed = train_tutorial(train_images[:200], train_labels[:200], num_epochs=1, seed=4, log=None)[1]
    assert not np.array_equal(other_seed.step_loss[0], history.step_loss[0])


def test_tutorial_run_reaches_the_tutorials_accuracy(subset):
    """The tutorial's full run (1k/1k, 3 epochs, lr 0.005) lands near its 0.78 test accuracy."""
    net, history = train_tutorial(*subset, num_epochs=3, lr=0.005, seed=0, log=None)
    assert 0.70 <= history.test.accuracy <= 0.88
    assert history.test.loss < 0.8
    assert history.window_loss[-1] < history.window_loss[0]


def test_checkpoint_round_trip_is_exact(tmp_path, subset):
    net = TutorialCNN(np.random.default_rng(5))
    net.train(subset[0][0], int(subset[1][0]))
    path = save_checkpoint(net, tmp_path / "net.npz")
    loaded = load_checkpoint(path)
    for name, value in net.parameters().items():
        np.testing.assert_array_equal(loaded.parameters()[name], value)
    assert not list(tmp_path.glob("*.part"))


def test_damaged_or_wrong_checkpoints_get_clear_errors(tmp_path):
    net = TutorialCNN(np.random.default_rng(0))
    good = save_checkpoint(net, tmp_path / "good.npz")

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_checkpoint(truncated)

    wrong_shape = tmp_path / "wrong.npz"
    np.savez(wrong_shape, format=np.array("cnn-from-scratch/TutorialCNN/v1"),
             filters=np.zeros((8, 3, 3)), weights=np.zeros((100, 10)), biases=np.zeros(10))
    with pytest.raises(CheckpointError, match=r"'weights' should be a finite float array of shape \(1352, 10\)"):
        load_checkpoint(wrong_shape)

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, something=np.zeros(3))
    with pytest.raises(CheckpointError, match="is not a cnn-from-scratch/TutorialCNN/v1 checkpoint"):
        load_checkpoint(foreign)

    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.npz")


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnn_lib", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_cli_trains_saves_and_loads(tmp_path):
    checkpoint = tmp_path / "cli.npz"
    first = run_cli("train", "--epochs", "1", "--train-size", "200", "--test-size", "100",
                    "--seed", "1", "--save", str(checkpoint))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:2] == ["MNIST CNN initialized!", "--- Epoch 1 ---"]
    assert "[Step 200] Past 100 steps: Average Loss" in first.stdout
    assert "Summary: 1 epoch(s) on 200 subset training images" in first.stdout
    assert checkpoint.is_file()

    again = run_cli("train", "--epochs", "1", "--train-size", "200", "--test-size", "100",
                    "--seed", "1", "--save", str(tmp_path / "again.npz"))
    assert [l for l in again.stdout.splitlines() if l.startswith(("[Step", "Test"))] == \
        [l for l in lines if l.startswith(("[Step", "Test"))]

    evaluated = run_cli("train", "--epochs", "0", "--test-size", "100", "--load", str(checkpoint))
    assert evaluated.returncode == 0, evaluated.stderr
    test_accuracy = [l for l in lines if l.startswith("Test Accuracy")]
    assert test_accuracy == [l for l in evaluated.stdout.splitlines() if l.startswith("Test Accuracy")]


def test_cli_reports_bad_arguments_and_files(tmp_path):
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a zip file")
    result = run_cli("train", "--epochs", "0", "--test-size", "10", "--load", str(damaged))
    assert result.returncode == 2
    assert "damaged or truncated" in result.stderr
    result = run_cli("train", "--lr", "-1")
    assert result.returncode == 2
    assert "must be a positive number" in result.stderr
    result = run_cli("train", "--train-size", "5000")
    assert result.returncode == 2
    assert "5000" in result.stderr


def test_cli_full_data_from_mnist_dir(shared_mnist_dir):
    env = {**os.environ, "MNIST_DIR": str(shared_mnist_dir)}
    result = run_cli("train", "--data", "full", "--epochs", "1", "--train-size", "100",
                     "--test-size", "50", "--no-progress", env=env)
    assert result.returncode == 0, result.stderr
    assert "Summary: 1 epoch(s) on 100 full training images" in result.stdout
    assert "on 50 test images" in result.stdout


def test_cli_full_data_missing_gives_a_clear_error(tmp_path):
    env = {**os.environ, "MNIST_DIR": str(tmp_path)}
    result = run_cli("train", "--data", "full", "--epochs", "0", env=env)
    assert result.returncode == 2
    assert "MNIST_DIR" in result.stderr and "train-images-idx3-ubyte.gz" in result.stderr
