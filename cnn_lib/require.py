"""Argument checks shared by every layer, model and training loop.

A learner who passes the wrong thing into a layer should read *what was
expected, what came, and what to do*, not a NumPy broadcasting error three
frames deep. Each ``require_*`` function returns the value (converted where
that is harmless) or raises a ``ValueError`` (``RuntimeError`` for a call in
the wrong order) with such a message. The layers call one of them at the top
of a method, so the rest of the method reads like the maths.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import threading

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def require_array(value, name: str, ndim: int, expected: str) -> np.ndarray:
    """``value`` as a finite float64 array with ``ndim`` dimensions.

    - ``name`` is what the caller calls the value (e.g. ``"Conv3x3 input"``).
    - ``expected`` describes the expected shape in words, e.g. ``"(h, w)"``.

    The loop layers compute in float64, so every other real dtype (raw
    ``uint8`` pixels, float32) becomes float64. Booleans, complex numbers,
    strings and objects, a wrong number of dimensions, an empty array and
    NaN or infinity are refused.
    """
    return _require_real(value, name, ndim, expected).astype(np.float64, copy=False)


def require_batch(X, dtype: np.dtype, ndim: int, layer: str, expected: str) -> np.ndarray:
    """A batch for a fast layer: checked as ``require_array`` does, converted to ``dtype``."""
    if shapes_already_checked():
        return X if X.dtype == dtype else X.astype(dtype)
    X = np.asarray(X)
    if X.ndim == ndim - 1 and X.dtype.kind in "iuf":
        raise ValueError(
            f"{layer} input must have {ndim} dimensions {expected}, but got shape {X.shape}. "
            "Fast layers take a batch: add the batch axis with X[np.newaxis] for one image."
        )
    return _require_real(X, f"{layer} input", ndim, expected).astype(dtype, copy=False)


def _require_real(value, name: str, ndim: int, expected: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must be a real-valued numeric array of shape {expected}, "
            f"but got dtype {array.dtype}. Convert it first, e.g. np.asarray(x, dtype=float)."
        )
    if array.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions {expected}, "
            f"but got shape {array.shape} ({array.ndim} dimensions)."
        )
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, but got shape {array.shape}.")
    require_finite(array, name)
    return array


_trusted = threading.local()


@contextlib.contextmanager
def values_already_checked(shapes: bool = False):
    """Inside this block (in this thread), ``require_finite`` skips its NaN/infinity pass, and so
    the checks built on it (``require_batch``, ``require_gradient``, ``require_images``).

    A model checks its images once and then runs its layers inside this block:
    each layer still checks shapes and dtypes, but no longer reads every
    value of its input again (a full pass over the data per layer, measured at
    ~15% of a training step of the tutorial's network). A NaN that appears
    inside (a diverged weight) still shows up in the loss, which training checks.

    With ``shapes=True`` the layers skip their shape and dtype checks too
    (``shapes_already_checked``): for a model that has already run the same
    layers, with every check, on a batch of the same size (``Sequential`` keeps
    track). Those checks are cheap one by one, but a training step of the
    tutorial's network makes about forty of them (measured at ~8% of the step).
    """
    before = getattr(_trusted, "active", False), getattr(_trusted, "shapes", False)
    _trusted.active, _trusted.shapes = True, shapes or before[1]
    try:
        yield
    finally:
        _trusted.active, _trusted.shapes = before


def shapes_already_checked() -> bool:
    """True inside ``values_already_checked(shapes=True)``: the caller vouches for every shape and dtype."""
    return getattr(_trusted, "shapes", False)


def require_finite(array: np.ndarray, name: str) -> None:
    """Refuse NaN and infinity, saying how many there are.

    One cheap pass first: a sum is finite unless some value is NaN or infinite
    (or the values are so large that their sum overflows, which is then let pass).
    """
    if array.dtype.kind != "f" or getattr(_trusted, "active", False) or np.isfinite(np.sum(array)):
        return
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s). "
            "Check the data (and the learning rate, if training diverged)."
        )


def require_gradient(d_L_d_out, expected_shape: tuple, layer) -> np.ndarray:
    """The gradient flowing back into ``layer``: finite, with the shape of its last output.

    Returned in the layer's ``dtype`` (float64 for the loop layers, which have none).
    """
    if shapes_already_checked():
        return d_L_d_out.astype(getattr(layer, "dtype", np.float64), copy=False)
    expected_shape = tuple(expected_shape)
    name = f"{type(layer).__name__}.backward gradient d_L_d_out"
    gradient = _require_real(d_L_d_out, name, len(expected_shape), str(expected_shape))
    if gradient.shape != expected_shape:
        raise ValueError(
            f"{type(layer).__name__}.backward expects d_L_d_out with the shape of the last forward "
            f"output {expected_shape}, but got {gradient.shape}."
        )
    return gradient.astype(getattr(layer, "dtype", np.float64), copy=False)


def require_forward(layer, attribute: str = "last_input") -> None:
    """Raise a clear error when ``backward`` is called before any ``forward``."""
    if getattr(layer, attribute, None) is None:
        raise RuntimeError(
            f"{type(layer).__name__}.backward was called before forward: "
            "run forward(input) first so the layer can remember its input."
        )


def require_positive_int(name: str, value) -> int:
    """``value`` as an ``int`` after checking it is a whole number >= 1 (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, but got {value!r}.")
    return int(value)


def require_count(name: str, value) -> int:
    """``value`` as an ``int`` after checking it is a whole number >= 0 (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, but got {value!r}.")
    return int(value)


def require_number(name: str, value, low: float = -np.inf, high: float = np.inf,
                   low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite ``float`` in the interval from ``low`` to ``high``.

    ``low_open``/``high_open`` exclude the end itself; the message names the interval
    in the usual notation, e.g. ``[0, 1)``.
    """
    if type(value) is float:                     # the common case, checked fast (once per training step)
        number = value
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in {_interval(low, high, low_open, high_open)}, but got {value!r}.")
    else:
        number = float(value)
    if (not math.isfinite(number) or number < low or number > high
            or (low_open and number == low) or (high_open and number == high)):
        raise ValueError(f"{name} must be a finite number in {_interval(low, high, low_open, high_open)}, "
                         f"but got {value!r}.")
    return number


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def require_learning_rate(value, name: str = "learning rate") -> float:
    """A learning rate: a finite number > 0."""
    return require_number(name, value, 0.0, np.inf, low_open=True)


def require_dtype(dtype) -> np.dtype:
    """``np.float32`` or ``np.float64``: the two dtypes the fast layers compute in."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be np.float32 or np.float64, but got {dtype}.")
    return dtype


def require_choice(name: str, value, choices: tuple) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, but got {value!r}.")
    return value
