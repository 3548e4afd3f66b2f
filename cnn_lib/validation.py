"""Input checks shared by the layers.

A learner who passes the wrong thing into a layer should read *what was
expected, what came, and what to do*, not a NumPy broadcasting error three
frames deep. Every check here raises a ``ValueError`` with such a message.
"""

from __future__ import annotations

import numpy as np


def as_float_array(value, name: str, ndim: int, expected: str) -> np.ndarray:
    """Return ``value`` as a float array after checking its type, rank and values.

    - ``name`` is what the caller calls the value (e.g. ``"Conv3x3 input"``).
    - ``ndim`` is the number of dimensions it must have.
    - ``expected`` describes the expected shape in words, e.g. ``"(h, w)"``.

    Integer arrays (such as raw ``uint8`` pixels) are converted to float64;
    float32 stays float32.
    """
    array = np.asarray(value)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must be a numeric array of shape {expected}, "
            f"but got dtype {array.dtype}. Convert it first, e.g. np.asarray(x, dtype=float)."
        )
    if array.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions {expected}, "
            f"but got shape {array.shape} ({array.ndim} dimensions)."
        )
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s). "
            "Check the data (and the learning rate, if training diverged)."
        )
    return array


def check_gradient_shape(d_L_d_out, expected_shape: tuple, layer: str) -> np.ndarray:
    """Check that the gradient flowing back into ``layer`` matches its last output."""
    gradient = as_float_array(
        d_L_d_out, f"{layer}.backward gradient d_L_d_out", len(expected_shape),
        str(expected_shape),
    )
    if gradient.shape != tuple(expected_shape):
        raise ValueError(
            f"{layer}.backward expects d_L_d_out with the shape of the last forward output "
            f"{tuple(expected_shape)}, but got {gradient.shape}."
        )
    return gradient


def require_forward(layer, attribute: str = "last_input") -> None:
    """Raise a clear error when ``backward`` is called before any ``forward``."""
    if getattr(layer, attribute, None) is None:
        raise RuntimeError(
            f"{type(layer).__name__}.backward was called before forward: "
            "run forward(input) first so the layer can remember its input."
        )


def check_positive_int(name: str, value) -> int:
    """Return ``value`` as an ``int`` after checking it is a whole number >= 1 (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, but got {value!r}.")
    return int(value)


def check_label(label, num_classes: int = 10) -> int:
    """Return ``label`` as an ``int`` after checking it is a class index 0..num_classes-1."""
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
        raise ValueError(
            f"label must be an integer class index 0-{num_classes - 1}, "
            f"but got {label!r} of type {type(label).__name__}."
        )
    if not 0 <= int(label) < num_classes:
        raise ValueError(
            f"label must be between 0 and {num_classes - 1} (a digit), but got {int(label)}."
        )
    return int(label)
