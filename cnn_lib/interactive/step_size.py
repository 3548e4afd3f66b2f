"""The error of a gradient check as a function of its step h (notebook 02, section 7), point by point.

``BiasGradientCheck`` is notebook 02's "real layer" curve: the untrained tutorial network (seed 0),
the first training digit, and the gradient of its loss with respect to the softmax layer's 10 biases,
analytic (``p - y``) against central differences with step ``h``. ``error_at(h)`` gives one point of
the V-shaped curve: round-off on the left (``~ eps / h``), truncation on the right (``~ h**2``).
"""

from __future__ import annotations

import numpy as np

from ..gradcheck import numerical_gradient, rel_error
from ..network import TutorialCNN
from ..require import require_number

H_RANGE = (1e-10, 1e-1)  # the range notebook 02 sweeps


class BiasGradientCheck:
    """Notebook 02's real layer on its digit: ``error_at(h)``, ``curve(hs)``.

    - ``image`` ``(28, 28)`` and ``label``: the digit (notebook 02: the first training image, a 5).
    - ``seed``: the seed of the untrained ``TutorialCNN`` (notebook 02: 0).
    """

    def __init__(self, image: np.ndarray, label: int, seed: int = 0):
        self.net = TutorialCNN(np.random.default_rng(seed))
        self.label = int(label)
        out, _, _ = self.net.forward(image, self.label)
        self.pooled = self.net.softmax.last_input.reshape(13, 13, 8).copy()  # the softmax layer's input
        self.net.softmax.backward(self.net.initial_gradient(out, self.label))
        self.analytic = self.net.softmax.d_L_d_biases.copy()                 # (10,), = p - y

    def loss(self) -> float:
        """``L = -ln(out_label)`` of the softmax layer at its current biases."""
        return float(-np.log(self.net.softmax.forward(self.pooled)[self.label]))

    def error_at(self, h: float) -> float:
        """Worst relative error between ``d_L_d_b`` and its central differences with step ``h``."""
        h = require_number("h", h, low=H_RANGE[0] / 10, high=1.0)
        numeric = numerical_gradient(lambda _: self.loss(), self.net.softmax.biases, h)
        return rel_error(self.analytic, numeric)

    def curve(self, hs: np.ndarray) -> np.ndarray:
        """``error_at(h)`` for each ``h`` of ``hs``."""
        return np.array([self.error_at(h) for h in hs])
