"""The tutorial's training run: SGD, one image at a time, with its log lines (notebook 06)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .digits import require_dataset
from .evaluation import Evaluation, evaluate
from .fast.models import Sequential, tutorial_model
from .model import divergence_raises, require_finite_training
from .network import TutorialCNN
from .require import require_count, require_learning_rate

REPORT_EVERY = 100


@dataclass
class History:
    """What happened during training, for plotting.

    - ``step_loss``, ``step_correct``: shape ``(num_epochs, n)``, every step's
      loss and 0/1 correctness, in the (shuffled) order trained.
    - ``window_step``, ``window_loss``, ``window_accuracy``: one entry per
      block of ``REPORT_EVERY`` steps (the tutorial's log lines); ``window_step``
      counts steps from the start of training (100, 200, ...).
    - ``epoch_loss``, ``epoch_accuracy``: one entry per epoch.
    - ``test``: the final evaluation on the test images, if any.
    """

    step_loss: np.ndarray
    step_correct: np.ndarray
    window_step: list[int] = field(default_factory=list)
    window_loss: list[float] = field(default_factory=list)
    window_accuracy: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_accuracy: list[float] = field(default_factory=list)
    test: Evaluation | None = None
    seconds: float = 0.0


def train_tutorial(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    num_epochs: int = 3,
    lr: float = 0.005,
    seed: int = 0,
    net: TutorialCNN | None = None,
    log: Callable[[str], None] | None = print,
    on_step: Callable[[int, int], None] | None = None,
    ties: str | None = None,
    fast: bool = False,
) -> tuple[TutorialCNN, History]:
    """Train the tutorial's CNN with plain SGD, one image at a time.

    - ``train_images``: shape ``(n, 28, 28)``, pixels 0..255; ``train_labels``: ``(n,)``.
    - ``seed`` seeds one ``np.random.default_rng`` that draws the initial
      weights and each epoch's shuffle: the same seed gives the same numbers.
    - ``net``: continue training this network instead of a new one.
    - ``ties``: the max-pool tie rule of the new network: ``"first"`` (the
      default) or ``"all"`` (the tutorial's; notebook 04). A given ``net`` keeps its own.
    - ``log``: called with each of the tutorial's log lines (``None``: silent).
    - ``on_step(epoch, step)``: called after each training step (for progress bars).
    - ``fast``: take the same steps with the batched layers of notebook 07
      (``fast_twin``), about 40 times faster; ``net`` gets the trained weights.

    Returns ``(net, history)``. Raises ``TrainingDiverged`` when a loss or a weight
    becomes NaN or infinite. One difference from the tutorial's script: its check
    ``i % 100 == 99`` runs *before* step ``i`` is trained, so its first line
    averages 99 images and the epoch's last image is never reported; here each
    line reports exactly the ``REPORT_EVERY`` steps it names.
    """
    train_images, train_labels = require_dataset(train_images, train_labels, "training")
    num_epochs = require_count("num_epochs", num_epochs)
    lr = require_learning_rate(lr, "lr")
    log = log or (lambda line: None)
    rng = np.random.default_rng(seed)
    if net is None:
        net = TutorialCNN(rng, ties=ties or "first")
    elif ties is not None and ties != net.pool.ties:
        raise ValueError(f"ties={ties!r}, but the given net pools with ties={net.pool.ties!r}. "
                         f"Build the net with the rule you want, or leave ties out.")
    model = fast_twin(net) if fast else net   # what takes the steps: net, or its batched twin (notebook 07)
    log("MNIST CNN initialized!")

    n = len(train_images)
    history = History(step_loss=np.zeros((num_epochs, n)), step_correct=np.zeros((num_epochs, n), dtype=int))
    start = time.perf_counter()
    for epoch in range(num_epochs):
        log("--- Epoch %d ---" % (epoch + 1))
        # Shuffle the training data
        permutation = rng.permutation(n)
        images, labels = train_images[permutation], train_labels[permutation]

        loss = 0.0
        num_correct = 0
        for i, (im, label) in enumerate(zip(images, labels)):
            where = f"epoch {epoch + 1}, step {i + 1}"
            with divergence_raises(where, lr):
                l, acc = model.train(im, int(label), lr)
            require_finite_training(model, l, where, lr)
            history.step_loss[epoch, i], history.step_correct[epoch, i] = l, acc
            loss += l
            num_correct += acc
            if i % REPORT_EVERY == REPORT_EVERY - 1:
                log("[Step %d] Past %d steps: Average Loss %.3f | Accuracy: %d%%"
                    % (i + 1, REPORT_EVERY, loss / REPORT_EVERY, 100 * num_correct / REPORT_EVERY))
                history.window_step.append(epoch * n + i + 1)
                history.window_loss.append(loss / REPORT_EVERY)
                history.window_accuracy.append(num_correct / REPORT_EVERY)
                loss = 0.0
                num_correct = 0
            if on_step is not None:
                on_step(epoch, i)
        history.epoch_loss.append(float(np.mean(history.step_loss[epoch])))
        history.epoch_accuracy.append(float(np.mean(history.step_correct[epoch])))
    if fast:
        copy_weights(model, net)              # the twin's trained weights back into net

    if test_images is not None and test_labels is not None:
        # Test the CNN
        log("\n--- Testing the CNN ---")
        history.test = evaluate(model, test_images, test_labels)
        log("Test Loss: %.3f" % history.test.loss)
        log("Test Accuracy: %.3f" % history.test.accuracy)
    history.seconds = time.perf_counter() - start
    return net, history


def fast_twin(net: TutorialCNN) -> Sequential:
    """The batched ``tutorial_model`` of notebook 07 with a copy of ``net``'s weights and tie rule.

    With one image per step and plain SGD it takes the same steps as
    ``net.train`` (equal to 1e-10, tested): the same maths, other code.
    """
    if net.conv.num_filters != 8:
        raise ValueError(f"fast_twin copies the tutorial's network with 8 filters; this one has "
                         f"{net.conv.num_filters}. Train it with fast=False.")
    twin = tutorial_model(np.random.default_rng(0), np.float64, ties=net.pool.ties)
    copy_weights(net, twin)
    return twin


def copy_weights(source, target) -> None:
    """Copy every weight of ``source`` into ``target``, in order (``TutorialCNN`` <-> its twin:
    filters ``(8, 3, 3)`` <-> ``(8, 3, 3, 1)``, the softmax weights ``(1352, 10)`` and biases ``(10,)``)."""
    for source_value, target_value in zip(source.params().values(), target.params().values(), strict=True):
        target_value[...] = source_value.reshape(target_value.shape)
