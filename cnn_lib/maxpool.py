"""A 2x2 max-pooling layer, written with loops (notebook 04).

Max-pooling has no weights, but it must pass the gradient back: only the
pixel that *was* the maximum of its 2x2 region affected the output, so only
that pixel receives the region's gradient.

Ties. On MNIST most 2x2 windows of the first conv output hold four equal
values (the flat background), so "the pixel that was the maximum" is not
unique, and at such a point ``max`` has no gradient, only subgradients. The
tutorial copies the gradient to *every* tied pixel; that is not one of them
(nudging all four inputs up by h moves the output by h, not 4h). By default
this layer sends each window's gradient to exactly one position, the first
maximum in reading order, as ``np.argmax`` does: one valid subgradient.
``MaxPool2(ties="all")`` keeps the tutorial's behaviour.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .layer import Layer
from .require import require_array, require_choice, require_forward, require_gradient

TIE_RULES = ("first", "all")


class MaxPool2(Layer):
    """A max-pooling layer with a 2x2 pool size and stride 2.

    - ``ties="first"`` (default): a window's gradient goes to its first
      maximum in reading order (row by row), as ``np.argmax`` picks it.
    - ``ties="all"``: the tutorial's rule, every tied maximum gets it.
    """

    def __init__(self, ties: str = "first"):
        self.ties = require_choice("ties", ties, TIE_RULES)
        self.last_input: np.ndarray | None = None

    def iterate_regions(self, image: np.ndarray) -> Iterator[tuple[np.ndarray, int, int]]:
        """Yield the non-overlapping 2x2 regions of ``image`` (shape ``(h, w, num_filters)``)."""
        h, w, _ = image.shape
        new_h = h // 2
        new_w = w // 2
        for i in range(new_h):
            for j in range(new_w):
                im_region = image[(i * 2):(i * 2 + 2), (j * 2):(j * 2 + 2)]
                yield im_region, i, j

    def forward(self, input: np.ndarray) -> np.ndarray:
        """Take the maximum of every 2x2 region, separately for each channel.

        - ``input``: array of shape ``(h, w, num_filters)``, h and w even.
        - Returns: array of shape ``(h / 2, w / 2, num_filters)``.
        """
        input = require_even_maps(input, "MaxPool2 input")
        self.last_input = input

        h, w, num_filters = input.shape
        output = np.zeros((h // 2, w // 2, num_filters), dtype=input.dtype)
        for im_region, i, j in self.iterate_regions(input):
            output[i, j] = np.amax(im_region, axis=(0, 1))
        return output

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """Send each output gradient back to the input pixel that was the maximum.

        - ``d_L_d_out``: shape ``(h / 2, w / 2, num_filters)``.
        - Returns ``d_L_d_input`` of shape ``(h, w, num_filters)``: zero
          everywhere except at the routed maxima.
        """
        d_L_d_out = self.require_backward(d_L_d_out)
        d_L_d_input = np.zeros_like(self.last_input)

        for im_region, i, j in self.iterate_regions(self.last_input):
            h, w, f = im_region.shape
            amax = np.amax(im_region, axis=(0, 1))
            routed = np.zeros(f, dtype=bool)  # has channel f2 of this region had its gradient yet?
            for i2 in range(h):
                for j2 in range(w):
                    for f2 in range(f):
                        # If this pixel was the max value, copy the gradient to it
                        # (with ties="first", only to the first max found).
                        if im_region[i2, j2, f2] == amax[f2] and not (self.ties == "first" and routed[f2]):
                            d_L_d_input[i * 2 + i2, j * 2 + j2, f2] = d_L_d_out[i, j, f2]
                            routed[f2] = True
        return d_L_d_input

    def require_backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """``backward``'s checks: a forward came first and ``d_L_d_out`` fits its output."""
        require_forward(self)
        h, w, num_filters = self.last_input.shape
        return require_gradient(d_L_d_out, (h // 2, w // 2, num_filters), self)

    def config(self) -> dict:
        return {"ties": self.ties}


def require_even_maps(input: np.ndarray, name: str) -> np.ndarray:
    """Feature maps ``(h, w, channels)`` with an even height and width, as a finite float array."""
    input = require_array(input, name, 3, "(h, w, num_filters)")
    h, w, _ = input.shape
    if h % 2 or w % 2:
        raise ValueError(
            f"{name} needs an even height and width to cut the input into 2x2 regions, "
            f"but got shape {input.shape}. Crop or pad the input first."
        )
    return input
