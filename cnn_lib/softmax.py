"""A fully connected layer followed by softmax (notebooks 01 and 02)."""

from __future__ import annotations

import numpy as np

from .layer import Layer
from .require import require_array, require_forward, require_gradient, require_positive_int


class Softmax(Layer):
    """A standard fully connected layer with softmax activation.

    - ``weights``: shape ``(input_len, nodes)``, standard normal divided by
      ``input_len`` (as in the tutorial).
    - ``biases``: shape ``(nodes,)``, zeros.
    - ``d_L_d_weights``, ``d_L_d_biases``: their gradients, set by ``backward``.
    """

    param_names = ("weights", "biases")

    def __init__(self, input_len: int, nodes: int, rng: np.random.Generator | None = None):
        input_len = require_positive_int("input_len", input_len)
        nodes = require_positive_int("nodes", nodes)
        rng = np.random.default_rng() if rng is None else rng
        # Divide by input_len to reduce the variance of our initial values.
        self.weights = rng.standard_normal((input_len, nodes)) / input_len
        self.biases = np.zeros(nodes)
        self.d_L_d_weights = np.zeros_like(self.weights)
        self.d_L_d_biases = np.zeros_like(self.biases)
        self.last_input: np.ndarray | None = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """Return the probabilities ``out`` of shape ``(nodes,)``.

        - ``input``: array of any shape with ``input_len`` elements in all
          (e.g. ``(13, 13, 8)``); it is flattened.
        - The totals are ``t = input . w + b`` and ``out[k] = e^t[k] / S``
          with ``S = sum of e^t``. We subtract ``max(t)`` before ``exp``:
          this divides top and bottom by the same ``e^max(t)``, so ``out`` is
          unchanged, but ``exp`` can no longer overflow (notebook 02).
        """
        self.last_input_shape = np.shape(input)
        input = self.require_input(input)
        self.last_input = input

        totals = input @ self.weights + self.biases
        self.last_totals = totals
        exp = np.exp(totals - np.max(totals))
        return exp / np.sum(exp, axis=0)

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """Compute gradients without changing any weight.

        - ``d_L_d_out``: gradient of the loss with respect to the
          probabilities, shape ``(nodes,)``. For cross-entropy only entry
          ``label`` is non-zero, but any vector works here.
        - Stores ``self.d_L_d_weights`` ``(input_len, nodes)`` and ``self.d_L_d_biases`` ``(nodes,)``.
        - Returns ``d_L_d_input`` with the shape of the last input.
        """
        d_L_d_out = self.require_backward(d_L_d_out)

        # e^totals (shifted by the max, which cancels in every ratio below)
        t_exp = np.exp(self.last_totals - np.max(self.last_totals))
        # Sum of all e^totals
        S = np.sum(t_exp)

        d_L_d_t = np.zeros_like(self.last_totals)
        for i, gradient in enumerate(d_L_d_out):
            if gradient == 0:
                continue
            # Gradients of out[i] against totals
            d_out_d_t = -t_exp[i] * t_exp / (S ** 2)
            d_out_d_t[i] = t_exp[i] * (S - t_exp[i]) / (S ** 2)
            # Gradients of loss against totals (summed over every out[i])
            d_L_d_t += gradient * d_out_d_t

        # Gradients of totals against weights/biases/input
        d_t_d_w = self.last_input
        d_t_d_b = 1
        d_t_d_inputs = self.weights

        # Gradients of loss against weights/biases/input
        d_L_d_w = d_t_d_w[np.newaxis].T @ d_L_d_t[np.newaxis]
        d_L_d_b = d_L_d_t * d_t_d_b
        d_L_d_inputs = d_t_d_inputs @ d_L_d_t

        self.d_L_d_weights, self.d_L_d_biases = d_L_d_w, d_L_d_b
        return d_L_d_inputs.reshape(self.last_input_shape)

    def require_input(self, input: np.ndarray) -> np.ndarray:
        """``forward``'s check: ``input_len`` finite numbers in any shape, returned flat ``(input_len,)``."""
        input_len = self.weights.shape[0]
        if np.size(input) != input_len:
            raise ValueError(
                f"Softmax input must have input_len = {input_len} elements, but got shape "
                f"{np.shape(input)} with {np.size(input)} elements. Check the layer sizes: "
                "for a 28x28 image, Conv3x3 gives 26x26 and MaxPool2 gives 13x13."
            )
        return require_array(np.reshape(input, -1), "Softmax input", 1, f"({input_len},)")

    def require_backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """``backward``'s checks: a forward came first and ``d_L_d_out`` has one value per node."""
        require_forward(self)
        return require_gradient(d_L_d_out, self.biases.shape, self)

    def config(self) -> dict:
        input_len, nodes = self.weights.shape
        return {"input_len": input_len, "nodes": nodes}
