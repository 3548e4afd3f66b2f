"""The tutorial's network (TutorialCNN) and its training run (train_tutorial).

Its gradient is checked with every other model in test_protocol.py, its checkpoints in
test_checkpoint.py, its command line in test_cli.py. The loop layers are slow (about 30 ms
a training step), so the runs here are short; the tutorial's full 3-epoch run is checked
through its exact fast twin in test_models.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cnn_lib.training
from cnn_lib import TrainingDiverged, TutorialCNN, evaluate, load_subset, train_tutorial


@pytest.fixture(scope="module")
def subset():
    return load_subset()


def test_untrained_network_loss_is_about_ln_10(subset):
    """Softmax of near-equal totals gives p ~ 1/10 for every digit, so L = -ln(1/10) = ln 10 ≈ 2.303."""
    train_images, train_labels, _, _ = subset
    net = TutorialCNN(np.random.default_rng(0))
    result = evaluate(net, train_images[:100], train_labels[:100])
    assert result.loss == pytest.approx(np.log(10), abs=0.02)
    assert 0.03 < result.accuracy < 0.25
    assert result.probabilities.shape == (100, 10)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)


def test_forward_returns_probabilities_loss_and_correct(subset):
    image, label = subset[0][0], int(subset[1][0])
    out, loss, correct = TutorialCNN(np.random.default_rng(0)).forward(image, label)
    assert out.shape == (10,)
    assert loss == pytest.approx(-np.log(out[label]))
    assert correct == int(np.argmax(out) == label)


def test_train_step_lowers_the_loss_on_that_image(subset):
    image, label = subset[0][3], int(subset[1][3])
    net = TutorialCNN(np.random.default_rng(0))
    before = net.forward(image, label)[1]
    for _ in range(5):
        net.train(image, label, lr=0.005)
    assert net.forward(image, label)[1] < before


def test_train_is_backward_plus_one_sgd_step(subset):
    image, label = subset[0][5], int(subset[1][5])
    net = TutorialCNN(np.random.default_rng(2))
    before = {name: value.copy() for name, value in net.params().items()}
    out, _, _ = net.forward(image, label)
    net.backward(out, label)
    grads = {name: value.copy() for name, value in net.grads().items()}
    net.train(image, label, lr=0.01)
    for name, value in net.params().items():
        np.testing.assert_allclose(value, before[name] - 0.01 * grads[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("label", [10, -1, 3.0, "3", True])
def test_bad_labels_are_rejected(subset, label):
    with pytest.raises(ValueError, match="label must"):
        TutorialCNN(np.random.default_rng(0)).forward(subset[0][0], label)


def test_bad_images_are_rejected():
    net = TutorialCNN(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"shape \(28, 28\).*got \(32, 32\)"):
        net.forward(np.zeros((32, 32)), 1)
    with pytest.raises(ValueError, match=r"pixel values 0..255.*Pass the raw pixels"):
        net.forward(np.full((28, 28), -0.5), 1)  # already scaled: the network scales itself
    with pytest.raises(ValueError, match=r"batch labels must be 2 integer digits"):
        net.loss_and_grads(np.zeros((2, 28, 28)), np.array([1]))


def test_training_is_seeded_and_logs_the_tutorials_lines(subset, monkeypatch):
    """Same seed, same run: log lines, losses and weights. (REPORT_EVERY = 10 keeps it short;
    the default 100 is checked through the command line in test_cli.py.)"""
    monkeypatch.setattr(cnn_lib.training, "REPORT_EVERY", 10)
    train_images, train_labels, test_images, test_labels = subset
    runs = []
    for _ in range(2):
        lines = []
        net, history = train_tutorial(train_images[:20], train_labels[:20], test_images[:10], test_labels[:10],
                                      num_epochs=2, seed=3, log=lines.append)
        runs.append((lines, history, net))
    (lines, history, net), (lines_again, history_again, net_again) = runs
    assert lines == lines_again
    np.testing.assert_array_equal(history.step_loss, history_again.step_loss)
    for name, value in net.params().items():
        np.testing.assert_array_equal(net_again.params()[name], value)

    assert lines[:2] == ["MNIST CNN initialized!", "--- Epoch 1 ---"]
    assert lines[2].startswith("[Step 10] Past 10 steps: Average Loss ") and lines[2].endswith("%")
    assert lines[4] == "--- Epoch 2 ---"
    assert lines[-3] == "\n--- Testing the CNN ---"
    assert lines[-2] == f"Test Loss: {history.test.loss:.3f}"
    assert lines[-1] == f"Test Accuracy: {history.test.accuracy:.3f}"
    assert history.step_loss.shape == (2, 20)
    assert len(history.epoch_loss) == 2
    assert history.epoch_loss[1] == pytest.approx(history.step_loss[1].mean())

    other_seed = train_tutorial(train_images[:20], train_labels[:20], num_epochs=1, seed=4, log=None)[1]
    assert not np.array_equal(other_seed.step_loss[0], history.step_loss[0])


def test_report_every_drives_the_log_text_and_the_window_averages(subset, monkeypatch):
    """Issue 9: the log line said "Past 100 steps" and divided by 100 whatever REPORT_EVERY was."""
    monkeypatch.setattr(cnn_lib.training, "REPORT_EVERY", 10)
    lines = []
    _, history = train_tutorial(subset[0][:25], subset[1][:25], num_epochs=2, seed=1, log=lines.append)
    reports = [line for line in lines if line.startswith("[Step")]
    assert history.window_step == [10, 20, 35, 45]       # steps counted from the start of training
    assert len(reports) == 4                              # the last 5 steps of an epoch make no line
    for k, (epoch, end) in enumerate([(0, 10), (0, 20), (1, 10), (1, 20)]):
        window_loss = history.step_loss[epoch, end - 10:end].mean()
        window_accuracy = history.step_correct[epoch, end - 10:end].mean()
        assert history.window_loss[k] == pytest.approx(window_loss, rel=1e-12)
        assert history.window_accuracy[k] == window_accuracy
        assert reports[k] == ("[Step %d] Past 10 steps: Average Loss %.3f | Accuracy: %d%%"
                              % (end, window_loss, 100 * window_accuracy))


def test_train_tutorial_continues_a_given_network_and_reports_each_step(subset):
    net = TutorialCNN(np.random.default_rng(0))
    steps = []
    trained, history = train_tutorial(subset[0][:5], subset[1][:5], num_epochs=2, net=net, log=None,
                                      on_step=lambda epoch, i: steps.append((epoch, i)))
    assert trained is net
    assert steps == [(epoch, i) for epoch in range(2) for i in range(5)]
    assert history.test is None and history.window_step == []


def test_train_tutorial_checks_its_arguments(subset):
    images, labels = subset[0][:5], subset[1][:5]
    with pytest.raises(ValueError, match="num_epochs must be a whole number >= 0"):
        train_tutorial(images, labels, num_epochs=-1, log=None)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        train_tutorial(images, labels, lr=0, log=None)
    with pytest.raises(ValueError, match="training labels must be digits 0-9"):
        train_tutorial(images, labels + 10, log=None)


def test_a_diverging_run_raises_training_diverged(subset):
    """A learning rate of 1e6 makes the true digit's probability round to 0 within two steps:
    the run stops there with TrainingDiverged, naming the step and the learning rate (it used
    to stop with a ValueError from inside Softmax.backward, after two NumPy warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "divide by zero encountered in log" on the way
        with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+: .*learning rate 1e\+06"):
            train_tutorial(subset[0][:50], subset[1][:50], num_epochs=1, lr=1e6, log=None)


@pytest.mark.parametrize("ties", ["first", "all"])
def test_fast_training_takes_the_same_steps_and_logs_the_same_lines(subset, monkeypatch, ties):
    """train_tutorial(fast=True) steps the batched twin (notebook 06 uses it for the full run):
    the same log, losses and final weights as the loop layers, for both tie rules."""
    monkeypatch.setattr(cnn_lib.training, "REPORT_EVERY", 10)
    runs = []
    for fast in (False, True):
        lines = []
        net, history = train_tutorial(subset[0][:40], subset[1][:40], subset[2][:20], subset[3][:20], num_epochs=2,
                                      seed=5, net=TutorialCNN(np.random.default_rng(5), ties=ties),
                                      log=lines.append, fast=fast)
        runs.append((lines, history, net))
    (lines, history, net), (fast_lines, fast_history, fast_net) = runs
    assert fast_lines == lines
    np.testing.assert_allclose(fast_history.step_loss, history.step_loss, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(fast_history.step_correct, history.step_correct)
    for name, value in net.params().items():
        np.testing.assert_allclose(fast_net.params()[name], value, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast_history.test.probabilities, history.test.probabilities, rtol=0, atol=1e-10)
    assert not np.array_equal(fast_net.conv.filters, TutorialCNN(np.random.default_rng(5)).conv.filters)


def test_fast_training_needs_the_tutorials_eight_filters(subset):
    with pytest.raises(ValueError, match="8 filters; this one has 4"):
        train_tutorial(subset[0][:5], subset[1][:5], net=TutorialCNN(num_filters=4), log=None, fast=True)


def test_train_tutorial_builds_the_network_with_the_tie_rule_asked_for(subset):
    images, labels = subset[0][:5], subset[1][:5]
    net, _ = train_tutorial(images, labels, num_epochs=0, seed=2, ties="all", log=None)
    assert net.pool.ties == "all"
    assert train_tutorial(images, labels, num_epochs=0, seed=2, log=None)[0].pool.ties == "first"
    with pytest.raises(ValueError, match="ties='first', but the given net pools with ties='all'"):
        train_tutorial(images, labels, net=TutorialCNN(ties="all"), ties="first", log=None)
    with pytest.raises(ValueError, match="ties must be one of"):
        train_tutorial(images, labels, ties="some", log=None)
