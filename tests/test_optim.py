"""Optimisers and learning-rate schedules (cnn_lib.fast.optim), for both families of models."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_lib import TutorialCNN, evaluate, load_subset
from cnn_lib.fast import SGD, Adam, ExponentialDecay, Momentum, fit, make_optimizer, tutorial_model
from cnn_lib.fast.optim import DEFAULT_LR, OPTIMIZERS


@pytest.fixture(scope="module")
def subset():
    return load_subset()


# --- the update rules, by hand --------------------------------------------------------------------

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


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_step_s_lr_overrides_the_optimizer_s_without_changing_it(name):
    g = np.array([0.5, -2.0])
    w_default, w_override = np.ones(2), np.ones(2)
    make_optimizer(name, 0.1).step({"w": w_default}, {"w": g})
    optimizer = make_optimizer(name, 0.2)
    optimizer.step({"w": w_override}, {"w": g}, lr=0.1)
    np.testing.assert_allclose(w_override, w_default, rtol=1e-15)
    assert optimizer.lr == 0.2


def test_optimizers_update_in_place_and_check_their_input():
    w32 = np.ones(3, np.float32)
    Adam().step({"w": w32}, {"w": np.ones(3, np.float32)})
    assert w32.dtype == np.float32 and np.all(w32 < 1)
    with pytest.raises(ValueError, match="same names"):
        SGD().step({"a": w32}, {"b": w32})
    with pytest.raises(ValueError, match="shape"):
        SGD().step({"a": w32}, {"a": np.ones(2)})
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("rmsprop")
    assert isinstance(make_optimizer("momentum"), Momentum)


@pytest.mark.parametrize("make, message", [
    (lambda: SGD(-1), r"lr must be a finite number in \(0, inf\]"),
    (lambda: SGD(0), r"lr must be a finite number in \(0, inf\]"),
    (lambda: SGD(float("nan")), r"lr must be a finite number"),
    (lambda: SGD(0.1).step({}, {}, lr=0), r"lr must be a finite number"),
    (lambda: Momentum(momentum=1.0), r"momentum must be a finite number in \[0, 1\), but got 1.0"),
    (lambda: Momentum(momentum=-0.1), r"momentum must be a finite number in \[0, 1\)"),
    (lambda: Adam(eps=0), r"eps must be a finite number in \(0, inf\]"),
    (lambda: Adam(beta1=1.0), r"beta1 must be a finite number in \[0, 1\)"),
    (lambda: Adam(beta2=1.5), r"beta2 must be a finite number in \[0, 1\)"),
    (lambda: ExponentialDecay(0), r"lr_decay must be a finite number in \(0, 1\]"),
    (lambda: ExponentialDecay(1.5), r"lr_decay must be a finite number in \(0, 1\]"),
])
def test_bad_settings_name_the_allowed_range(make, message):
    """Issue 9: Momentum(momentum=1.0) said only "the allowed range"; Adam(eps=0) was accepted
    (and divides 0 by 0 for a weight whose gradient is always 0)."""
    with pytest.raises(ValueError, match=message):
        make()


def test_default_learning_rates_agree_everywhere(subset):
    """Issue 9: SGD() (0.01), make_optimizer("sgd") (0.1) and fit's default (0.005) disagreed.
    DEFAULT_LR declares them once, and fit(optimizer=None) uses SGD()."""
    for name, optimizer_type in OPTIMIZERS.items():
        assert optimizer_type().lr == DEFAULT_LR[name] == make_optimizer(name).lr
    assert DEFAULT_LR["sgd"] == 0.005          # the tutorial's
    history = fit(tutorial_model(np.random.default_rng(0)), subset[0][:8], subset[1][:8], batch_size=8,
                  num_epochs=2, log=None)
    assert history.epoch_lr == [SGD().lr, SGD().lr]


# --- schedules ------------------------------------------------------------------------------------

def test_exponential_decay_multiplies_each_epoch():
    schedule = ExponentialDecay(0.5)
    assert [schedule.lr(0.1, epoch) for epoch in range(4)] == [0.1, 0.05, 0.025, 0.0125]
    assert ExponentialDecay().lr(0.1, 7) == 0.1
    assert repr(schedule) == "ExponentialDecay(0.5)"


def test_fit_records_the_schedule_and_leaves_the_optimizer_alone(subset):
    """Issue 9: fit(lr_decay=) multiplied the caller's optimizer.lr in place, so a second fit with
    the same optimiser started from the decayed rate. Now the schedule gives each epoch's rate,
    fit records it in the history and never changes the optimiser."""
    images, labels = subset[0][:64], subset[1][:64]
    optimizer = SGD(0.1)
    model = tutorial_model(np.random.default_rng(0), np.float32)
    lines = []
    history = fit(model, images, labels, batch_size=32, num_epochs=3, optimizer=optimizer,
                  schedule=ExponentialDecay(0.5), log=lines.append)
    assert optimizer.lr == 0.1
    assert history.epoch_lr == [0.1, 0.05, 0.025]
    assert history.schedule == "ExponentialDecay(0.5)"
    assert ["lr 0.1 ", "lr 0.05 ", "lr 0.025 "] == [line[line.index("lr "):line.index("(")] for line in lines]
    again = fit(model, images, labels, batch_size=32, num_epochs=1, optimizer=optimizer, log=None)
    assert again.epoch_lr == [0.1] and again.schedule == "ExponentialDecay(1.0)"


def test_a_schedule_sets_each_epoch_s_rate(subset):
    """Two epochs with ExponentialDecay(0.5) from lr 0.2 take exactly the steps of one epoch at
    lr 0.2 followed by one at lr 0.1 (same weights, same shuffles)."""
    images, labels = subset[0][:32], subset[1][:32]
    model = tutorial_model(np.random.default_rng(0))
    fit(model, images, labels, batch_size=16, num_epochs=2, optimizer=SGD(0.2), schedule=ExponentialDecay(0.5),
        rng=np.random.default_rng(1), log=None)
    replay = tutorial_model(np.random.default_rng(0))
    shuffles = np.random.default_rng(1)
    fit(replay, images, labels, batch_size=16, num_epochs=1, optimizer=SGD(0.2), rng=shuffles, log=None)
    fit(replay, images, labels, batch_size=16, num_epochs=1, optimizer=SGD(0.1), rng=shuffles, log=None)
    for name, value in model.params().items():
        np.testing.assert_array_equal(value, replay.params()[name])


# --- both families ----------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer_type", [Momentum, Adam])
def test_optimizers_step_a_tutorialcnn_through_params_and_grads(optimizer_type, subset):
    """The optimisers serve the loop family too: one step on TutorialCNN's params()/grads() after
    loss_and_grads changes the network's own layers, by the rule's first step."""
    images, labels = subset[0][:4], subset[1][:4]
    net = TutorialCNN(np.random.default_rng(0))
    loss, _ = net.loss_and_grads(images, labels)
    before = {name: value.copy() for name, value in net.params().items()}
    grads = {name: value.copy() for name, value in net.grads().items()}
    optimizer = optimizer_type(lr=0.01)
    optimizer.step(net.params(), net.grads())
    for name, g in grads.items():
        # first step: momentum's v = -lr g; Adam's m_hat / sqrt(v_hat) = g / |g| (0 where g = 0)
        expected_step = -0.01 * g if optimizer_type is Momentum else -0.01 * g / (np.abs(g) + optimizer.eps)
        np.testing.assert_allclose(net.params()[name], before[name] + expected_step, rtol=1e-12, atol=1e-15)
    assert net.conv.filters is net.params()["conv.filters"]      # updated in place: the layer sees it
    for _ in range(3):
        net.loss_and_grads(images, labels)
        optimizer.step(net.params(), net.grads())
    assert net.loss_and_grads(images, labels)[0] < loss


def test_fit_trains_a_tutorialcnn_in_tiny_batches(subset):
    """fit serves any model: three epochs of batches of 4 lower a TutorialCNN's loss on its 12 images."""
    images, labels = subset[0][:12], subset[1][:12]
    net = TutorialCNN(np.random.default_rng(0))
    before = evaluate(net, images, labels).loss
    history = fit(net, images, labels, batch_size=4, num_epochs=3, optimizer=Momentum(0.05),
                  rng=np.random.default_rng(0), log=None)
    after = evaluate(net, images, labels).loss
    assert len(history.batch_loss) == 9
    assert after < before - 0.1, (before, after)
    assert history.epoch_loss[-1] < history.epoch_loss[0]
