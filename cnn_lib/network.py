"""The tutorial's network: Conv3x3 (8 filters) -> MaxPool2 -> Softmax (13*13*8 -> 10)."""

from __future__ import annotations

import numpy as np

from .conv import Conv3x3
from .maxpool import MaxPool2
from .softmax import Softmax
from .validation import as_float_array, check_label

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


def preprocess(image: np.ndarray) -> np.ndarray:
    """Scale pixels from [0, 255] to [-0.5, 0.5], as the tutorial does.

    - ``image``: shape ``(28, 28)``, values 0..255 (e.g. ``uint8``).
    - Returns a float64 array of the same shape.
    """
    image = as_float_array(image, "image", 2, "(28, 28)")
    if image.shape != IMAGE_SHAPE:
        raise ValueError(f"image must have shape {IMAGE_SHAPE} (one MNIST digit), but got {image.shape}.")
    return (image / 255) - 0.5


def cross_entropy(probabilities: np.ndarray, label: int) -> float:
    """Cross-entropy loss ``L = -ln(p[label])`` (natural log)."""
    return float(-np.log(probabilities[label]))


class TutorialCNN:
    """The tutorial's CNN: 28x28 image -> 26x26x8 -> 13x13x8 -> 10 probabilities.

    - ``rng``: a ``np.random.Generator`` for the initial weights (seed it to
      get the same network every run).
    - ``ties``: the max-pool tie rule, ``"first"`` (default) or ``"all"``
      (the tutorial's); see ``MaxPool2``.
    """

    def __init__(self, rng: np.random.Generator | None = None, num_filters: int = 8, ties: str = "first"):
        rng = np.random.default_rng() if rng is None else rng
        self.conv = Conv3x3(num_filters, rng)                       # 28x28x1 -> 26x26x8
        self.pool = MaxPool2(ties=ties)                              # 26x26x8 -> 13x13x8
        self.softmax = Softmax(13 * 13 * num_filters, NUM_CLASSES, rng)  # 13x13x8 -> 10

    def forward(self, image: np.ndarray, label: int) -> tuple[np.ndarray, float, int]:
        """Run one image through the network.

        - ``image``: shape ``(28, 28)``, pixel values 0..255.
        - ``label``: the true digit, 0..9.
        - Returns ``(out, loss, correct)``: the 10 probabilities, the
          cross-entropy loss, and 1 if the most probable digit is ``label`` else 0.
        """
        label = check_label(label, NUM_CLASSES)
        out = self.conv.forward(preprocess(image))
        out = self.pool.forward(out)
        out = self.softmax.forward(out)

        loss = cross_entropy(out, label)
        correct = 1 if np.argmax(out) == label else 0
        return out, loss, correct

    def backward(self, out: np.ndarray, label: int) -> np.ndarray:
        """Backpropagate the cross-entropy loss through all layers, changing no weight.

        Call right after ``forward(image, label)``. Stores the gradients in the
        layers (``conv.d_L_d_filters``, ``softmax.d_L_d_w``, ``softmax.d_L_d_b``)
        and returns dL/d(scaled image), shape ``(28, 28)``.
        """
        gradient = self._initial_gradient(out, label)
        gradient = self.softmax.backward(gradient)
        gradient = self.pool.backward(gradient)
        return self.conv.backward(gradient)

    def train(self, image: np.ndarray, label: int, lr: float = 0.005) -> tuple[float, int]:
        """One SGD step on one image, as the tutorial's ``train``; returns ``(loss, correct)``."""
        out, loss, correct = self.forward(image, label)

        gradient = self._initial_gradient(out, label)
        gradient = self.softmax.backprop(gradient, lr)
        gradient = self.pool.backprop(gradient)
        self.conv.backprop(gradient, lr)
        return loss, correct

    @staticmethod
    def _initial_gradient(out: np.ndarray, label: int) -> np.ndarray:
        """dL/d(out) for ``L = -ln(out[label])``: zero except ``-1 / out[label]``."""
        gradient = np.zeros(NUM_CLASSES)
        gradient[label] = -1 / out[label]
        return gradient

    def parameters(self) -> dict[str, np.ndarray]:
        """All learned arrays by name (the arrays themselves, not copies)."""
        return {
            "filters": self.conv.filters,
            "weights": self.softmax.weights,
            "biases": self.softmax.biases,
        }
