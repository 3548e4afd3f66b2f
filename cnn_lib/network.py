"""The tutorial's network: Conv3x3 (8 filters) -> MaxPool2 -> Softmax (13*13*8 -> 10).

It obeys the model protocol that the fast ``cnn_lib.fast.Sequential`` shares
(``cnn_lib.model``), so optimisers, gradient checks, ``evaluate`` and
checkpoints serve both; ``forward(image, label)`` and ``train(image, label,
lr)`` are the tutorial's own interface.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv3x3
from .digits import NUM_CLASSES, preprocess, require_dataset, require_images, require_label
from .maxpool import MaxPool2
from .model import Model
from .softmax import Softmax


def cross_entropy(probabilities: np.ndarray, label: int) -> float:
    """Cross-entropy loss ``L = -ln(p[label])`` (natural log)."""
    return float(-np.log(probabilities[label]))


class TutorialCNN(Model):
    """The tutorial's CNN: 28x28 image -> 26x26x8 -> 13x13x8 -> 10 probabilities.

    - ``rng``: a ``np.random.Generator`` for the initial weights (seed it to
      get the same network every run).
    - ``num_filters``: conv filters (the tutorial's 8).
    - ``ties``: the max-pool tie rule, ``"first"`` (default) or ``"all"``
      (the tutorial's); see ``MaxPool2``.
    """

    def __init__(self, rng: np.random.Generator | None = None, num_filters: int = 8, ties: str = "first"):
        rng = np.random.default_rng() if rng is None else rng
        self.conv = Conv3x3(num_filters, rng)                            # 28x28x1 -> 26x26x8
        self.pool = MaxPool2(ties=ties)                                   # 26x26x8 -> 13x13x8
        self.softmax = Softmax(13 * 13 * num_filters, NUM_CLASSES, rng)  # 13x13x8 -> 10

    def forward(self, image: np.ndarray, label: int) -> tuple[np.ndarray, float, int]:
        """Run one image through the network.

        - ``image``: shape ``(28, 28)``, pixel values 0..255.
        - ``label``: the true digit, 0..9.
        - Returns ``(out, loss, correct)``: the 10 probabilities, the
          cross-entropy loss, and 1 if the most probable digit is ``label`` else 0.
        """
        label = require_label(label)
        out = self.conv.forward(preprocess(image))
        out = self.pool.forward(out)
        out = self.softmax.forward(out)

        loss = cross_entropy(out, label)
        correct = 1 if np.argmax(out) == label else 0
        return out, loss, correct

    def backward(self, out: np.ndarray, label: int) -> np.ndarray:
        """Backpropagate the cross-entropy loss through all layers, changing no weight.

        Call right after ``forward(image, label)``. Stores the gradients in the
        layers (``grads()``) and returns dL/d(scaled image), shape ``(28, 28)``.
        """
        gradient = self.initial_gradient(out, label)
        gradient = self.softmax.backward(gradient)
        gradient = self.pool.backward(gradient)
        return self.conv.backward(gradient)

    def train(self, image: np.ndarray, label: int, lr: float = 0.005) -> tuple[float, int]:
        """One SGD step on one image, as the tutorial's ``train``; returns ``(loss, correct)``."""
        out, loss, correct = self.forward(image, label)

        gradient = self.initial_gradient(out, label)
        gradient = self.softmax.backprop(gradient, lr)
        gradient = self.pool.backprop(gradient)
        self.conv.backprop(gradient, lr)
        return loss, correct

    @staticmethod
    def initial_gradient(out: np.ndarray, label: int) -> np.ndarray:
        """dL/d(out) for ``L = -ln(out[label])``: zero except ``-1 / out[label]``."""
        gradient = np.zeros(NUM_CLASSES)
        gradient[label] = -1 / out[label]
        return gradient

    # The model protocol (cnn_lib.model): a batch of images, one at a time.

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean loss over ``images`` ``(n, 28, 28)``, probabilities ``(n, 10)``, and in ``grads()``
        the gradient of the mean loss (the average of the images' gradients)."""
        images, labels = require_dataset(images, labels, "batch")
        probabilities = np.zeros((len(images), NUM_CLASSES))
        total_loss = 0.0
        sums = {name: np.zeros_like(value) for name, value in self.params().items()}
        for k, (image, label) in enumerate(zip(images, labels)):
            probabilities[k], loss, _ = self.forward(image, int(label))
            self.backward(probabilities[k], int(label))
            total_loss += loss
            for name, gradient in self.grads().items():
                sums[name] += gradient
        for layer_name, layer in self.named_layers().items():  # store the averages in the layers
            for name in layer.param_names:
                setattr(layer, "d_L_d_" + name, sums[f"{layer_name}.{name}"] / len(images))
        return total_loss / len(images), probabilities

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """The 10 probabilities of each of ``images`` ``(n, 28, 28)``: shape ``(n, 10)``."""
        images = require_images(images)
        probabilities = np.zeros((len(images), NUM_CLASSES))
        for k, image in enumerate(images):
            probabilities[k], _, _ = self.forward(image, 0)
        return probabilities

    def named_layers(self) -> dict:
        return {"conv": self.conv, "pool": self.pool, "softmax": self.softmax}

    def config(self) -> dict:
        return {"num_filters": self.conv.num_filters, "ties": self.pool.ties}
