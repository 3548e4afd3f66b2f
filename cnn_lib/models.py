"""Networks built from the fast layers, and the batched training loop.

- ``Sequential(layers)``: runs layers one after the other (``forward``),
  backwards through them (``backward``), and collects their ``params()`` and
  ``grads()`` under names like ``"0.filters"`` (layer index, then name).
- ``tutorial_model(rng, dtype)``: the tutorial's network from fast layers.
  With the same ``rng`` it starts with exactly the weights of ``TutorialCNN``.
- ``deep_model(rng, dtype)``: a LeNet-like network for ~99% test accuracy.
- ``fit``: mini-batch training with shuffling; ``evaluate``: loss, accuracy,
  predictions; ``train_step``: one batch's forward, backward and update.

Images go in as ``(n, 28, 28)`` pixels 0..255 and are preprocessed as in the
tutorial (``image / 255 - 0.5``), with a channel axis added: ``(n, 28, 28, 1)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .fast_layers import Conv, Dense, Flatten, MaxPool2x2, ReLU, SoftmaxCrossEntropy, _check_dtype
from .optim import Optimizer
from .validation import check_positive_int

NUM_CLASSES = 10


class Sequential:
    """Layers applied in order, with a softmax cross-entropy loss at the end.

    - ``layers``: list of fast layers (``forward``, ``backward``, ``params``, ``grads``).
    - ``name``: what the network is called (saved in checkpoints).
    """

    def __init__(self, layers: list, name: str = "sequential", dtype=np.float64):
        self.layers = list(layers)
        self.name = name
        self.dtype = _check_dtype(dtype)
        self.loss_layer = SoftmaxCrossEntropy(dtype=self.dtype)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Scores (before softmax) of shape ``(n, 10)`` for a preprocessed batch ``X`` ``(n, 28, 28, 1)``."""
        out = X
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def backward(self, d_L_d_scores: np.ndarray) -> np.ndarray | None:
        """Backpropagate ``dL/dscores`` ``(n, 10)`` through every layer; returns ``dL/dX``
        (``None`` when the first layer skips its input gradient). Changes no weight."""
        gradient = d_L_d_scores
        for layer in reversed(self.layers):
            gradient = layer.backward(gradient)
        return gradient

    def loss_and_grads(self, X: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward and backward for one batch: returns ``(mean loss, probabilities (n, 10))``
        and leaves every layer's gradients ready in ``grads()``."""
        scores = self.forward(X)
        loss = self.loss_layer.forward(scores, labels)
        self.backward(self.loss_layer.backward())
        return loss, self.loss_layer.probabilities

    def params(self) -> dict[str, np.ndarray]:
        """Every learned array, named ``"<layer index>.<name>"`` (the arrays themselves)."""
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers) for name, value in layer.params().items()}

    def grads(self) -> dict[str, np.ndarray]:
        """The gradients of the last ``backward``, with the names of ``params()``."""
        return {f"{i}.{name}": value for i, layer in enumerate(self.layers) for name, value in layer.grads().items()}

    def num_params(self) -> int:
        return int(sum(value.size for value in self.params().values()))

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(name={self.name!r}, [\n  {inner}\n])"


def tutorial_model(rng: np.random.Generator | None = None, dtype=np.float64, ties: str = "first") -> Sequential:
    """The tutorial's network: Conv(1, 8, 3, no bias) -> MaxPool2x2 -> Flatten -> Dense(1352, 10).

    ``(n, 28, 28, 1) -> (n, 26, 26, 8) -> (n, 13, 13, 8) -> (n, 1352) -> (n, 10)``.
    Weights are drawn in the same order and way as ``TutorialCNN(rng)``, so a
    generator seeded the same gives the same starting network.
    """
    rng = np.random.default_rng() if rng is None else rng
    return Sequential([
        Conv(1, 8, 3, rng, dtype, bias=False, init="tutorial", compute_input_grad=False),
        MaxPool2x2(ties=ties, dtype=dtype),
        Flatten(dtype=dtype),
        Dense(13 * 13 * 8, NUM_CLASSES, rng, dtype, init="tutorial"),
    ], name="tutorial", dtype=dtype)


def deep_model(rng: np.random.Generator | None = None, dtype=np.float32) -> Sequential:
    """A LeNet-like network with He initialisation, for about 99% test accuracy on MNIST::

        Conv(1, 16, 5)  -> ReLU -> MaxPool2x2    (n, 28, 28, 1) -> (n, 24, 24, 16) -> (n, 12, 12, 16)
        Conv(16, 32, 5) -> ReLU -> MaxPool2x2    -> (n, 8, 8, 32) -> (n, 4, 4, 32)
        Flatten -> Dense(512, 128) -> ReLU -> Dense(128, 10)

    About 80,000 weights.
    """
    rng = np.random.default_rng() if rng is None else rng
    return Sequential([
        Conv(1, 16, 5, rng, dtype, init="he", compute_input_grad=False),
        ReLU(dtype),
        MaxPool2x2(dtype=dtype),
        Conv(16, 32, 5, rng, dtype, init="he"),
        ReLU(dtype),
        MaxPool2x2(dtype=dtype),
        Flatten(dtype),
        Dense(4 * 4 * 32, 128, rng, dtype, init="he"),
        ReLU(dtype),
        Dense(128, NUM_CLASSES, rng, dtype, init="he"),
    ], name="deep", dtype=dtype)


MODELS = {"tutorial": tutorial_model, "deep": deep_model}


def preprocess_batch(images: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Pixels ``(n, 28, 28)`` in 0..255 -> ``(n, 28, 28, 1)`` in [-0.5, 0.5], as the tutorial scales them."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, h, w), but got {images.shape}.")
    dtype = _check_dtype(dtype)
    return ((images.astype(dtype) / dtype.type(255)) - dtype.type(0.5))[..., np.newaxis]


def train_step(model: Sequential, X: np.ndarray, labels: np.ndarray, optimizer: Optimizer) -> tuple[float, int]:
    """One mini-batch: forward, backward, one optimiser step.

    - ``X``: preprocessed batch ``(n, 28, 28, 1)``; ``labels``: ``(n,)``.
    - Returns ``(mean loss, number predicted right)`` (before the update).
    """
    loss, probabilities = model.loss_and_grads(X, labels)
    optimizer.step(model.params(), model.grads())
    return loss, int(np.sum(np.argmax(probabilities, axis=1) == labels))


@dataclass
class FitHistory:
    """What ``fit`` saw: per batch and per epoch loss and accuracy (before each update)."""

    batch_loss: list[float] = field(default_factory=list)
    batch_accuracy: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    images: int = 0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class BatchEvaluation:
    """``evaluate``'s answer: mean loss, accuracy, ``predictions`` ``(n,)``, ``probabilities`` ``(n, 10)``."""

    loss: float
    accuracy: float
    predictions: np.ndarray
    probabilities: np.ndarray


def _check_data(images: np.ndarray, labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3:
        raise ValueError(f"{what} images must have shape (n, 28, 28), but got {images.shape}.")
    if labels.shape != (len(images),) or labels.dtype.kind not in "iu":
        raise ValueError(f"{what} labels must be {len(images)} integers (one per image), but got shape {labels.shape}, dtype {labels.dtype}.")
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"{what} labels must be digits 0-9, but got values {labels.min()}..{labels.max()}.")
    return images, labels.astype(np.int64)


def fit(model: Sequential, images: np.ndarray, labels: np.ndarray, batch_size: int = 64, num_epochs: int = 1,
        optimizer: Optimizer | None = None, rng: np.random.Generator | None = None,
        log: Callable[[str], None] | None = print,
        on_batch: Callable[[int, int], None] | None = None, lr_decay: float = 1.0) -> FitHistory:
    """Mini-batch training.

    - ``images``: ``(n, 28, 28)`` pixels 0..255; ``labels``: ``(n,)`` digits.
    - Each epoch shuffles with ``rng.permutation(n)`` and walks through the
      batches in order (the last one may be smaller). Each batch: mean
      cross-entropy, its gradients, one ``optimizer`` step.
    - ``log(line)``: one line per epoch (``None``: silent).
    - ``on_batch(epoch, images_done_in_epoch)``: after each batch (progress bars).
    - ``lr_decay``: after each epoch the optimiser's learning rate is multiplied
      by it (1.0: constant), so epoch ``e`` uses ``lr * lr_decay**e``: big steps
      while far from a minimum, small ones to settle into it.

    With ``batch_size=1``, ``SGD(0.005)`` and the ``rng`` that made a
    ``tutorial_model``, this is exactly ``train_tutorial``'s run (tested).
    """
    from .optim import SGD

    images, labels = _check_data(images, labels, "training")
    check_positive_int("batch_size", batch_size)
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, (int, np.integer)) or num_epochs < 0:
        raise ValueError(f"num_epochs must be a whole number >= 0, but got {num_epochs!r}.")
    if not 0 < lr_decay <= 1:
        raise ValueError(f"lr_decay must be in (0, 1], but got {lr_decay!r}.")
    optimizer = SGD(0.005) if optimizer is None else optimizer
    rng = np.random.default_rng() if rng is None else rng
    log = log or (lambda line: None)
    X_all = preprocess_batch(images, model.dtype)
    n = len(images)
    history = FitHistory()
    start = time.perf_counter()
    for epoch in range(num_epochs):
        permutation = rng.permutation(n)
        epoch_start = time.perf_counter()
        total_loss, total_correct = 0.0, 0
        for begin in range(0, n, batch_size):
            batch = permutation[begin:begin + batch_size]
            loss, correct = train_step(model, X_all[batch], labels[batch], optimizer)
            history.batch_loss.append(loss)
            history.batch_accuracy.append(correct / len(batch))
            total_loss += loss * len(batch)
            total_correct += correct
            if on_batch is not None:
                on_batch(epoch, begin + len(batch))
        history.epoch_loss.append(total_loss / n if n else float("nan"))
        history.epoch_accuracy.append(total_correct / n if n else float("nan"))
        seconds = time.perf_counter() - epoch_start
        log(f"Epoch {epoch + 1}/{num_epochs}: training loss {history.epoch_loss[-1]:.4f}, "
            f"accuracy {history.epoch_accuracy[-1]:.4f}, lr {optimizer.lr:.3g} ({n / max(seconds, 1e-9):.0f} images/s)")
        optimizer.lr *= lr_decay
    history.seconds = time.perf_counter() - start
    history.images = n * num_epochs
    return history


def evaluate(model: Sequential, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000) -> BatchEvaluation:
    """Mean cross-entropy, accuracy, predictions and probabilities of ``model`` on ``images`` ``(n, 28, 28)``."""
    images, labels = _check_data(images, labels, "test")
    n = len(images)
    probabilities = np.zeros((n, NUM_CLASSES), dtype=model.dtype)
    for begin in range(0, n, batch_size):
        X = preprocess_batch(images[begin:begin + batch_size], model.dtype)
        scores = model.forward(X)
        model.loss_layer.forward(scores, labels[begin:begin + batch_size])
        probabilities[begin:begin + batch_size] = model.loss_layer.probabilities
    predictions = np.argmax(probabilities, axis=1)
    if n == 0:
        return BatchEvaluation(float("nan"), float("nan"), predictions, probabilities)
    picked = probabilities[np.arange(n), labels].astype(np.float64)
    loss = float(-np.mean(np.log(np.maximum(picked, np.finfo(model.dtype).tiny))))
    return BatchEvaluation(loss, float(np.mean(predictions == labels)), predictions, probabilities)
