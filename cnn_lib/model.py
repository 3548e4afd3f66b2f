"""The one protocol that every model of both families obeys.

A model (the readable ``TutorialCNN`` and the fast ``cnn_lib.fast.Sequential``)
maps MNIST digits to the probabilities of the 10 classes and has:

- ``loss_and_grads(images, labels)``: for images ``(n, 28, 28)`` (pixels
  0..255) and labels ``(n,)``, the mean cross-entropy loss and the
  probabilities ``(n, 10)``; afterwards ``grads()`` holds the gradient of
  that mean loss. It changes no weight.
- ``predict_proba(images)``: the probabilities ``(n, 10)``.
- ``params()`` and ``grads()``: every learned array and its gradient, under
  the same names ``"<layer>.<parameter>"``.
- ``config()``: the arguments that rebuild the model (saved in checkpoints).

``named_layers()`` maps each layer's name to the layer; the names of
``params()`` come from it.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np


class Model:
    """Base class: ``params``, ``grads`` and ``num_params`` from ``named_layers()``."""

    def named_layers(self) -> dict:
        """Each layer by name, in the order the input meets them."""
        raise NotImplementedError

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, np.ndarray]:
        """Every learned array, named ``"<layer name>.<parameter>"`` (the arrays themselves)."""
        return {f"{layer_name}.{name}": value
                for layer_name, layer in self.named_layers().items() for name, value in layer.params().items()}

    def grads(self) -> dict[str, np.ndarray]:
        """The gradients of the last ``loss_and_grads``, with the names of ``params()``."""
        return {f"{layer_name}.{name}": value
                for layer_name, layer in self.named_layers().items() for name, value in layer.grads().items()}

    def num_params(self) -> int:
        """How many numbers the model learns."""
        return int(sum(value.size for value in self.params().values()))

    def config(self) -> dict:
        return {}


class TrainingDiverged(ArithmeticError):
    """Training produced a NaN or infinite loss or weight: the learning rate is too large."""


def require_finite_training(model: Model, loss: float, where: str, lr: float) -> None:
    """Stop training with a clear message once the loss or a weight is NaN or infinite.

    Cheap enough to run after every step (one pass over the weights); it keeps a
    diverged run from going on, printing ``nan`` and saving weights nobody can use.
    """
    bad = [] if np.isfinite(loss) else ["the loss"]
    bad += [f"the weights {name!r}" for name, value in model.params().items() if not np.isfinite(np.sum(value))]
    if bad:
        raise TrainingDiverged(
            f"training diverged at {where}: {' and '.join(bad)} became NaN or infinite "
            f"(learning rate {lr:g}). Try a smaller learning rate; nothing was saved."
        )


@contextlib.contextmanager
def divergence_raises(where: str, lr: float) -> Iterator[None]:
    """Run one training step with NumPy's overflow, division by zero and invalid value raising,
    and turn them into ``TrainingDiverged``.

    After a too-large step the weights can still be finite but so large that the next step
    overflows (float32 scores become infinite, or the true digit's probability rounds to 0 and
    ``-ln 0`` is infinite). Without this, that step stops with a ``ValueError`` deep inside a
    layer ("d_L_d_out contains NaN") instead of saying that training diverged.
    """
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            yield
    except FloatingPointError as error:
        raise TrainingDiverged(
            f"training diverged at {where}: {error} (learning rate {lr:g}). "
            "Try a smaller learning rate; nothing was saved."
        ) from None
