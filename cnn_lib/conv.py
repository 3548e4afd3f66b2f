"""A convolution layer with 3x3 filters, written with loops that read like the math.

This is the tutorial's ``Conv3x3`` (notebooks 01 and 05). It takes a single
grey-scale image, so it is meant as the *first* layer of a network, but its
``backward`` also returns the gradient with respect to its input, which is
what any layer in front of it would need.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .layer import Layer
from .require import require_array, require_forward, require_gradient, require_positive_int


class Conv3x3(Layer):
    """A convolution layer using 3x3 filters, valid padding and stride 1.

    Attributes:
    - ``filters``: array of shape ``(num_filters, 3, 3)``, initialised as
      standard normal values divided by 9 (as in the tutorial).
    - ``d_L_d_filters``: gradient of the loss with respect to ``filters``,
      same shape, set by ``backward``.
    """

    param_names = ("filters",)

    def __init__(self, num_filters: int, rng: np.random.Generator | None = None):
        self.num_filters = require_positive_int("num_filters", num_filters)
        rng = np.random.default_rng() if rng is None else rng
        # Divide by 9 to reduce the variance of our initial values (the tutorial's choice).
        self.filters = rng.standard_normal((self.num_filters, 3, 3)) / 9
        self.d_L_d_filters = np.zeros_like(self.filters)
        self.last_input: np.ndarray | None = None

    def iterate_regions(self, image: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
        """Yield every 3x3 region of ``image`` (shape ``(h, w)``) with its top-left ``(i, j)``."""
        h, w = image.shape
        for i in range(h - 2):
            for j in range(w - 2):
                im_region = image[i:(i + 3), j:(j + 3)]
                yield im_region, i, j

    def forward(self, input: np.ndarray) -> np.ndarray:
        """Convolve ``input`` with every filter.

        - ``input``: 2-D array of shape ``(h, w)``, with h, w >= 3.
        - Returns: array of shape ``(h - 2, w - 2, num_filters)`` where
          ``out[i, j, f] = sum(region(i, j) * filters[f])``.
        """
        input = require_image(input, "Conv3x3 input")
        self.last_input = input

        h, w = input.shape
        output = np.zeros((h - 2, w - 2, self.num_filters), dtype=input.dtype)
        for im_region, i, j in self.iterate_regions(input):
            output[i, j] = np.sum(im_region * self.filters, axis=(1, 2))
        return output

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """Compute gradients without changing any weight.

        - ``d_L_d_out``: gradient of the loss with respect to this layer's
          output, shape ``(h - 2, w - 2, num_filters)``.
        - Stores ``self.d_L_d_filters`` (shape ``(num_filters, 3, 3)``).
        - Returns ``d_L_d_input`` of shape ``(h, w)``: each output pixel
          sends ``d_L_d_out[i, j, f] * filters[f]`` back to the region it was
          computed from. Written as one formula, this is a *full* convolution
          of ``d_L_d_out`` with the filters rotated by 180 degrees (notebook 05).
        """
        d_L_d_out = self.require_backward(d_L_d_out)
        d_L_d_filters = np.zeros_like(self.filters)
        d_L_d_input = np.zeros_like(self.last_input)

        for im_region, i, j in self.iterate_regions(self.last_input):
            # out[i, j, f] = sum(im_region * filters[f]) for every filter f, so
            #   d out[i, j, f] / d filters[f] = im_region   and
            #   d out[i, j, f] / d im_region  = filters[f].
            # As in forward, all filters are handled at once: d_L_d_out[i, j] has
            # shape (num_filters,), reshaped to (num_filters, 1, 1) to scale 3x3 arrays.
            d_L_d_out_ij = d_L_d_out[i, j][:, np.newaxis, np.newaxis]
            d_L_d_filters += d_L_d_out_ij * im_region
            d_L_d_input[i:(i + 3), j:(j + 3)] += np.sum(d_L_d_out_ij * self.filters, axis=0)

        self.d_L_d_filters = d_L_d_filters
        return d_L_d_input

    def require_backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """``backward``'s checks: a forward came first and ``d_L_d_out`` fits its output."""
        require_forward(self)
        h, w = self.last_input.shape
        return require_gradient(d_L_d_out, (h - 2, w - 2, self.num_filters), self)

    def config(self) -> dict:
        return {"num_filters": self.num_filters}


def require_image(input: np.ndarray, name: str) -> np.ndarray:
    """One grey-scale image ``(h, w)`` with h, w >= 3, as a finite float array."""
    input = require_array(input, name, 2, "(h, w), one grey-scale image")
    if min(input.shape) < 3:
        raise ValueError(f"{name} must be at least 3x3, but got shape {input.shape}.")
    return input
