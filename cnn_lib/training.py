"""The tutorial's training run: SGD, one image at a time, with its log lines (notebook 06)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .network import TutorialCNN
from .validation import check_label

REPORT_EVERY = 100


@dataclass
class Evaluation:
    """The network's results on a set of ``n`` images.

    - ``probabilities``: shape ``(n, 10)``; ``predictions``: shape ``(n,)``.
    - ``losses``: shape ``(n,)``, cross-entropy per image.
    - ``loss``: their mean; ``accuracy``: the fraction predicted right.
    """

    probabilities: np.ndarray
    predictions: np.ndarray
    losses: np.ndarray
    loss: float
    accuracy: float


@dataclass
class History:
    """What happened during training, for plotting.

    - ``step_loss``, ``step_correct``: shape ``(num_epochs, n)``, every step's
      loss and 0/1 correctness, in the (shuffled) order trained.
    - ``window_step``, ``window_loss``, ``window_accuracy``: one entry per
      block of 100 steps (the tutorial's log lines); ``window_step`` counts
      steps from the start of training (100, 200, ...).
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


def evaluate(net: TutorialCNN, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Run ``net`` on ``images`` (shape ``(n, 28, 28)``) and compare with ``labels`` ``(n,)``."""
    _check_dataset(images, labels, "test")
    probabilities = np.zeros((len(images), 10))
    losses = np.zeros(len(images))
    for k, (image, label) in enumerate(zip(images, labels)):
        probabilities[k], losses[k], _ = net.forward(image, int(label))
    predictions = np.argmax(probabilities, axis=1)
    return Evaluation(
        probabilities=probabilities,
        predictions=predictions,
        losses=losses,
        loss=float(np.mean(losses)) if len(losses) else float("nan"),
        accuracy=float(np.mean(predictions == labels)) if len(labels) else float("nan"),
    )


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
) -> tuple[TutorialCNN, History]:
    """Train the tutorial's CNN with plain SGD, one image at a time.

    - ``train_images``: shape ``(n, 28, 28)``, pixels 0..255; ``train_labels``: ``(n,)``.
    - ``seed`` seeds one ``np.random.default_rng`` that draws the initial
      weights and each epoch's shuffle: the same seed gives the same numbers.
    - ``net``: continue training this network instead of a new one.
    - ``log``: called with each of the tutorial's log lines (``None``: silent).
    - ``on_step(epoch, step)``: called after each training step (for progress bars).

    Returns ``(net, history)``. One difference from the tutorial's script:
    its check ``i % 100 == 99`` runs *before* step ``i`` is trained, so its
    first line averages 99 images and the epoch's last image is never
    reported; here each line reports exactly the 100 steps it names.
    """
    _check_dataset(train_images, train_labels, "training")
    if not isinstance(num_epochs, (int, np.integer)) or num_epochs < 0:
        raise ValueError(f"num_epochs must be a whole number >= 0, but got {num_epochs!r}.")
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive number, but got {lr!r}.")
    log = log or (lambda line: None)
    rng = np.random.default_rng(seed)
    if net is None:
        net = TutorialCNN(rng)
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
            l, acc = net.train(im, int(label), lr)
            history.step_loss[epoch, i], history.step_correct[epoch, i] = l, acc
            loss += l
            num_correct += acc
            if i % REPORT_EVERY == REPORT_EVERY - 1:
                log("[Step %d] Past 100 steps: Average Loss %.3f | Accuracy: %d%%" % (i + 1, loss / 100, num_correct))
                history.window_step.append(epoch * n + i + 1)
                history.window_loss.append(loss / 100)
                history.window_accuracy.append(num_correct / 100)
                loss = 0.0
                num_correct = 0
            if on_step is not None:
                on_step(epoch, i)
        history.epoch_loss.append(float(np.mean(history.step_loss[epoch])) if n else float("nan"))
        history.epoch_accuracy.append(float(np.mean(history.step_correct[epoch])) if n else float("nan"))

    if test_images is not None and test_labels is not None:
        # Test the CNN
        log("\n--- Testing the CNN ---")
        history.test = evaluate(net, test_images, test_labels)
        log("Test Loss: %s" % history.test.loss)
        log("Test Accuracy: %s" % history.test.accuracy)
    history.seconds = time.perf_counter() - start
    return net, history


def _check_dataset(images: np.ndarray, labels: np.ndarray, name: str) -> None:
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{name} images must have shape (n, 28, 28), but got {images.shape}.")
    if labels.shape != (len(images),):
        raise ValueError(
            f"{name} labels must have shape ({len(images)},), one per image, but got {labels.shape}."
        )
    for label in np.unique(labels):
        check_label(label.item() if np.issubdtype(labels.dtype, np.integer) else label)
