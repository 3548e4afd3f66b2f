"""Mini-batch training for any model: ``fit`` and one step of it, ``train_on_batch``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..digits import require_dataset
from ..evaluation import evaluate
from ..model import divergence_raises, require_finite_training
from ..require import require_count, require_positive_int
from .optim import SGD, ExponentialDecay, Optimizer


def train_on_batch(model, images: np.ndarray, labels: np.ndarray, optimizer: Optimizer,
                   lr: float | None = None) -> tuple[float, int]:
    """One mini-batch: forward, backward, one optimiser step.

    - ``images``: ``(n, 28, 28)`` pixels 0..255; ``labels``: ``(n,)``.
    - ``lr``: this step's learning rate (the optimiser's own when ``None``).
    - Returns ``(mean loss, number predicted right)``, both before the update.
    """
    loss, probabilities = model.loss_and_grads(images, labels)
    optimizer.step(model.params(), model.grads(), lr)
    return loss, int(np.count_nonzero(np.argmax(probabilities, axis=1) == labels))


@dataclass
class FitHistory:
    """What ``fit`` saw: per batch and per epoch loss and accuracy (before each update),
    the learning rate of each epoch and the schedule that set it, and (when ``fit`` was
    given validation images) their loss and accuracy after each epoch."""

    batch_loss: list[float] = field(default_factory=list)
    batch_accuracy: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_accuracy: list[float] = field(default_factory=list)
    epoch_lr: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    schedule: str = ""
    seconds: float = 0.0
    images: int = 0

    @property
    def images_per_second(self) -> float | None:
        """Training speed, or ``None`` when nothing was trained."""
        return self.images / self.seconds if self.images and self.seconds > 0 else None


def fit(model, images: np.ndarray, labels: np.ndarray, batch_size: int = 64, num_epochs: int = 1,
        optimizer: Optimizer | None = None, schedule: ExponentialDecay | None = None,
        rng: np.random.Generator | None = None, log: Callable[[str], None] | None = print,
        on_batch: Callable[[int, int], None] | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None) -> FitHistory:
    """Mini-batch training of any model (``TutorialCNN`` or a fast ``Sequential``).

    - ``images``: ``(n, 28, 28)`` pixels 0..255; ``labels``: ``(n,)`` digits.
    - Each epoch shuffles with ``rng.permutation(n)`` and walks through the
      batches in order (the last one may be smaller). Each batch: mean
      cross-entropy, its gradients, one ``optimizer`` step (default ``SGD()``).
    - ``schedule``: the learning rate of each epoch from the optimiser's
      ``lr`` (default: constant). The optimiser's ``lr`` is never changed.
    - ``log(line)``: one line per epoch (``None``: silent).
    - ``on_batch(epoch, images_done_in_epoch)``: after each batch (progress bars).
    - ``validation``: ``(images, labels)`` held out from training, scored after every epoch
      (``history.validation_loss``, ``validation_accuracy``): what recipes are chosen on, so
      that the test images are used once, at the end (notebook 08).

    Raises ``TrainingDiverged`` as soon as the loss or a weight is NaN or infinite.
    With ``batch_size=1``, ``SGD(0.005)`` and the ``rng`` that made a
    ``tutorial_model``, this is exactly ``train_tutorial``'s run (tested).
    """
    images, labels = require_dataset(images, labels, "training")
    if validation is not None:
        validation = require_dataset(*validation, "validation")
    batch_size = require_positive_int("batch_size", batch_size)
    num_epochs = require_count("num_epochs", num_epochs)
    optimizer = SGD() if optimizer is None else optimizer
    schedule = ExponentialDecay() if schedule is None else schedule
    rng = np.random.default_rng() if rng is None else rng
    log = log or (lambda line: None)
    n = len(images)
    history = FitHistory(schedule=repr(schedule))
    start = time.perf_counter()
    for epoch in range(num_epochs):
        lr = schedule.lr(optimizer.lr, epoch)
        history.epoch_lr.append(lr)
        permutation = rng.permutation(n)
        epoch_start = time.perf_counter()
        total_loss, total_correct = 0.0, 0
        for begin in range(0, n, batch_size):
            batch = permutation[begin:begin + batch_size]
            where = f"epoch {epoch + 1}, images {begin + 1}-{begin + len(batch)}"
            with divergence_raises(where, lr):
                loss, correct = train_on_batch(model, images[batch], labels[batch], optimizer, lr)
            require_finite_training(model, loss, where, lr)
            history.batch_loss.append(loss)
            history.batch_accuracy.append(correct / len(batch))
            total_loss += loss * len(batch)
            total_correct += correct
            if on_batch is not None:
                on_batch(epoch, begin + len(batch))
        history.epoch_loss.append(total_loss / n)
        history.epoch_accuracy.append(total_correct / n)
        seconds = time.perf_counter() - epoch_start
        scored = ""
        if validation is not None:
            result = evaluate(model, *validation)
            history.validation_loss.append(result.loss)
            history.validation_accuracy.append(result.accuracy)
            scored = f"; validation loss {result.loss:.4f}, accuracy {result.accuracy:.4f}"
        log(f"Epoch {epoch + 1}/{num_epochs}: training loss {history.epoch_loss[-1]:.4f}, "
            f"accuracy {history.epoch_accuracy[-1]:.4f}, lr {lr:.3g} ({n / max(seconds, 1e-9):.0f} images/s){scored}")
    history.seconds = time.perf_counter() - start
    history.images = n * num_epochs
    return history
