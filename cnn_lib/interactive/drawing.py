"""From mouse strokes to an MNIST-like 28x28 digit, the way MNIST's digits were made.

LeCun, Cortes and Burges describe MNIST's preprocessing: each NIST digit was *size normalised to fit
in a 20x20 pixel box while preserving its aspect ratio* (with anti-aliasing, so the result has grey
levels), then *centred in a 28x28 image by computing the centre of mass of the pixels, and
translating the image so as to position this point at the centre of the 28x28 field*. MNIST's own
digits show how that translation was rounded: their centres of mass (row, column) all lie within half
a pixel of (14, 14), so the shift is a whole number of pixels.

- ``rasterize_strokes(strokes, size, line_width)``: a drawing (lists of ``(x, y)`` points) as an
  anti-aliased ink image ``(size, size)`` with values 0..1, as a canvas shows it.
- ``mnist_like(ink)``: any ink image ``(h, w)`` -> ``(28, 28)`` pixels 0..255, as MNIST's.
- ``centre_of_mass(image)``, ``ink_box(image)``: the two quantities the recipe fixes.
"""

from __future__ import annotations

import numpy as np

from ..digits import IMAGE_SHAPE, PIXEL_MAX
from ..require import require_array

BOX = 20  # MNIST's digits fit in a 20x20 box...
CENTRE = 14.0  # ...whose centre of mass is moved to within half a pixel of (14, 14) of the 28x28 field


def rasterize_strokes(strokes, size: int = 280, line_width: float = 20.0) -> np.ndarray:
    """Draw ``strokes`` with a round pen, anti-aliased: ink ``(size, size)``, 0 (none) to 1 (full).

    - ``strokes``: a list of strokes, each a list of ``(x, y)`` points in canvas pixels (x to the
      right, y down, as mouse events give them); a stroke of one point is a dot.
    - ``line_width``: the pen's diameter in canvas pixels.

    A pixel's ink is the share of it the pen covers, approximated from the distance ``d`` of its
    centre to the nearest segment: ``clip(line_width / 2 + 0.5 - d, 0, 1)``.
    """
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive whole number of pixels, but got {size!r}.")
    if not line_width > 0:
        raise ValueError(f"line_width must be a positive number of pixels, but got {line_width!r}.")
    ink = np.zeros((size, size))
    radius = line_width / 2
    for number, stroke in enumerate(strokes):
        points = np.asarray(stroke, dtype=float).reshape(-1, 2) if len(stroke) else np.zeros((0, 2))
        if len(points) == 0 or not np.all(np.isfinite(points)):
            raise ValueError(f"stroke {number} must be a non-empty list of finite (x, y) points, but got {stroke!r}.")
        segments = zip(points, points[1:]) if len(points) > 1 else [(points[0], points[0])]
        for start, end in segments:
            _stamp_segment(ink, start, end, radius)
    return ink


def _stamp_segment(ink: np.ndarray, start: np.ndarray, end: np.ndarray, radius: float) -> None:
    """Ink the pixels near the segment ``start``-``end`` (each ``(x, y)``), in place; only its bounding box is visited."""
    size = ink.shape[0]
    reach = radius + 1
    x0, x1 = sorted((start[0], end[0]))
    y0, y1 = sorted((start[1], end[1]))
    cols = np.arange(max(int(x0 - reach), 0), min(int(x1 + reach) + 1, size))
    rows = np.arange(max(int(y0 - reach), 0), min(int(y1 + reach) + 1, size))
    if len(cols) == 0 or len(rows) == 0:
        return
    px, py = np.meshgrid(cols + 0.5, rows + 0.5)  # pixel centres
    direction = end - start
    length_squared = float(direction @ direction)
    t = 0.0 if length_squared == 0 else np.clip(((px - start[0]) * direction[0] + (py - start[1]) * direction[1])
                                                / length_squared, 0, 1)
    distance = np.hypot(px - (start[0] + t * direction[0]), py - (start[1] + t * direction[1]))
    block = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    np.maximum(block, np.clip(radius + 0.5 - distance, 0, 1), out=block)


def ink_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of the pixels > 0 of ``image`` ``(h, w)``, ends included."""
    rows, cols = np.flatnonzero(np.any(image > 0, axis=1)), np.flatnonzero(np.any(image > 0, axis=0))
    if len(rows) == 0:
        raise ValueError("nothing is drawn: the image has no pixel above 0. Draw a digit first.")
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """The ink-weighted mean ``(row, column)`` of ``image`` ``(h, w)``, in pixel indices."""
    image = np.asarray(image, dtype=float)
    total = image.sum()
    if total <= 0:
        raise ValueError("nothing is drawn: the image has no ink, so it has no centre of mass.")
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def area_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)``: entry ``[o, i]`` is how much of output pixel ``o`` input pixel ``i`` covers,
    when ``n_in`` pixels are stretched onto ``n_out``. Each row sums to 1, so ``matrix @ values``
    averages the input over each output pixel's area (anti-aliasing when shrinking)."""
    scale = n_out / n_in
    starts = np.arange(n_in) * scale  # input pixel i spans [starts[i], starts[i] + scale) in output units
    outputs = np.arange(n_out)[:, np.newaxis]
    overlap = np.minimum(starts + scale, outputs + 1) - np.maximum(starts, outputs)
    return np.clip(overlap, 0, None)


def mnist_like(ink) -> np.ndarray:
    """An MNIST-like digit ``(28, 28)`` (float, 0..255) from an ink image ``(h, w)`` (any scale, >= 0).

    1. Crop to the box of the ink (pixels > 0).
    2. Resize it so that its longer side is 20 pixels, keeping the aspect ratio, by averaging the
       ink over each new pixel's area (``area_resize_matrix``): strokes get grey, anti-aliased edges.
    3. Scale the grey levels so that the darkest pixel is 255, as in every MNIST digit.
    4. Put it in a 28x28 field, shifted by whole pixels so that its centre of mass lies within half
       a pixel of (14, 14).
    """
    ink = require_array(ink, "ink image", 2, "(h, w)")
    if np.any(ink < 0):
        raise ValueError(f"the ink image must hold values >= 0 (0 = no ink), but its smallest is {ink.min():g}.")
    top, bottom, left, right = ink_box(ink)
    crop = ink[top:bottom + 1, left:right + 1]
    height, width = crop.shape
    scale = BOX / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    small = area_resize_matrix(height, new_height) @ crop @ area_resize_matrix(width, new_width).T
    small = np.minimum(small * (PIXEL_MAX / small.max()), PIXEL_MAX)  # (the minimum: no 255.00000000000003)
    row, col = centre_of_mass(small)
    top = int(np.clip(np.floor(CENTRE - row + 0.5), 0, IMAGE_SHAPE[0] - new_height))
    left = int(np.clip(np.floor(CENTRE - col + 0.5), 0, IMAGE_SHAPE[1] - new_width))
    digit = np.zeros(IMAGE_SHAPE)
    digit[top:top + new_height, left:left + new_width] = small
    return digit
