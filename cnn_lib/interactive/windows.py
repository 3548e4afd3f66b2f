"""Which pixels meet in the convolution and the max-pool, forward and backward (notebooks 04 and 05).

Convolution (a 3x3 filter, "valid": output ``(h - 2, w - 2)``), for one output position ``(i, j)``:

- ``conv_forward_window(i, j)``: the nine input pixels it reads, ``x[i + a, j + b]``, each with the
  weight ``filters[a, b]`` that multiplies it.
- ``conv_backward_stamp(i, j, filter, input_shape)``: the gradient the input receives when
  ``d_L_d_out`` is a single 1 at ``(i, j)``: the filter itself, unrotated, on the same nine pixels.
- ``conv_gather_window(m, n, out_shape)``: the other view of the same sum (notebook 05, section 4):
  input pixel ``(m, n)`` collects from the outputs ``(m - 2 + a, n - 2 + b)`` through
  ``filters[2 - a, 2 - b]``, the filter rotated by 180 degrees.

Max-pool (2x2 windows): ``pool_routing(conv_map, I, J, ties)``: where window ``(I, J)`` sends its
gradient under a tie rule, as ``MaxPool2.backward`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..maxpool import TIE_RULES
from ..require import require_array, require_choice

KERNEL = 3


def require_position(name: str, value, size: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < size:
        raise ValueError(f"{name} must be a whole number from 0 to {size - 1}, but got {value!r}.")
    return int(value)


@dataclass(frozen=True)
class WindowPixel:
    """One pixel of a window: its ``(row, col)`` in the image, and which filter weight ``(a, b)`` meets it."""

    row: int
    col: int
    a: int
    b: int


def conv_forward_window(i: int, j: int, out_shape: tuple[int, int] = (26, 26)) -> list[WindowPixel]:
    """The nine input pixels output ``(i, j)`` reads: ``x[i + a, j + b]`` times ``filters[a, b]``, in reading order."""
    i, j = require_position("i", i, out_shape[0]), require_position("j", j, out_shape[1])
    return [WindowPixel(i + a, j + b, a, b) for a in range(KERNEL) for b in range(KERNEL)]


def conv_backward_stamp(i: int, j: int, filter_: np.ndarray, input_shape: tuple[int, int]) -> np.ndarray:
    """``d_L_d_input`` ``input_shape`` for ``d_L_d_out`` = a single 1 at ``(i, j)`` (one filter ``(3, 3)``):
    pixel ``(i + a, j + b)`` receives ``filter_[a, b]``, everything else 0."""
    filter_ = require_array(filter_, "filter", 2, "(3, 3)")
    if filter_.shape != (KERNEL, KERNEL):
        raise ValueError(f"filter must have shape (3, 3), but got {filter_.shape}.")
    out_shape = (input_shape[0] - KERNEL + 1, input_shape[1] - KERNEL + 1)
    d_L_d_input = np.zeros(input_shape)
    for pixel in conv_forward_window(i, j, out_shape):
        d_L_d_input[pixel.row, pixel.col] = filter_[pixel.a, pixel.b]
    return d_L_d_input


def conv_gather_window(m: int, n: int, out_shape: tuple[int, int]) -> list[WindowPixel]:
    """The outputs input pixel ``(m, n)`` collects gradient from (the gather view, a full convolution).

    Entry ``(row, col, a, b)``: output ``(row, col) = (m - 2 + a, n - 2 + b)`` sends
    ``d_L_d_out[row, col] * filters[2 - a, 2 - b]``: the window at ``(m, n)`` of ``d_L_d_out`` padded by 2,
    times the filter rotated by 180 degrees. Outputs off the edge (the padding's zeros) are left out.
    """
    m = require_position("m", m, out_shape[0] + KERNEL - 1)
    n = require_position("n", n, out_shape[1] + KERNEL - 1)
    found = []
    for a in range(KERNEL):
        for b in range(KERNEL):
            row, col = m - (KERNEL - 1) + a, n - (KERNEL - 1) + b
            if 0 <= row < out_shape[0] and 0 <= col < out_shape[1]:
                found.append(WindowPixel(row, col, a, b))
    return found


@dataclass(frozen=True)
class PoolRouting:
    """Max-pool window ``(I, J)`` of one channel and where its gradient goes.

    - ``values``: its four inputs ``(2, 2)``; ``is_max``: ``(2, 2)``, True where a value equals the maximum.
    - ``receives``: ``(2, 2)``, what each input gets of the window's gradient (``d_L_d_out = 1``).
    - ``ties``: the rule used; ``tied``: whether two or more values share the maximum.
    """

    I: int
    J: int
    values: np.ndarray
    is_max: np.ndarray
    receives: np.ndarray
    ties: str

    @property
    def tied(self) -> bool:
        return int(self.is_max.sum()) > 1

    def describe(self) -> str:
        """One line: the window, whether it ties, and which of its pixels get the gradient."""
        rows, cols = np.nonzero(self.receives)
        to = ", ".join(f"({2 * self.I + r}, {2 * self.J + c})" for r, c in zip(rows, cols))
        tie = f"{int(self.is_max.sum())}-way tie" if self.tied else "one maximum"
        return f"window ({self.I}, {self.J}), ties={self.ties!r}: {tie}; gradient goes to {to}"


def pool_routing(conv_map: np.ndarray, I: int, J: int, ties: str = "first") -> PoolRouting:
    """Where max-pool window ``(I, J)`` of ``conv_map`` ``(h, w)`` (one channel) sends a gradient of 1.

    ``ties="first"``: to its first maximum in reading order; ``ties="all"``: to every tied maximum
    (the tutorial's rule). The same as ``MaxPool2(ties).backward`` on that window (tested).
    """
    conv_map = require_array(conv_map, "conv_map", 2, "(h, w), one channel of the max-pool input")
    ties = require_choice("ties", ties, TIE_RULES)
    I = require_position("I", I, conv_map.shape[0] // 2)
    J = require_position("J", J, conv_map.shape[1] // 2)
    values = conv_map[2 * I:2 * I + 2, 2 * J:2 * J + 2].copy()
    is_max = values == values.max()
    if ties == "all":
        receives = is_max.astype(float)
    else:
        receives = np.zeros((2, 2))
        receives[np.unravel_index(np.argmax(values), (2, 2))] = 1.0
    return PoolRouting(I, J, values, is_max, receives, ties)
