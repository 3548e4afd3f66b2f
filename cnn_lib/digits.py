"""What an MNIST digit is to this library, defined once for every part of it.

- An image is ``IMAGE_SHAPE = (28, 28)`` pixels, each 0 (background) to
  ``PIXEL_MAX = 255`` (ink), usually ``uint8``; a set of ``n`` images is
  ``(n, 28, 28)``.
- A label is the digit it shows, an integer 0 to ``NUM_CLASSES - 1 = 9``;
  ``n`` labels are ``(n,)``.
- Before the network sees an image, its pixels are scaled to [-0.5, 0.5] as
  the tutorial does: ``preprocess`` for one image (the loop layers),
  ``preprocess_batch`` for a batch with a channel axis (the fast layers).
"""

from __future__ import annotations

import numpy as np

from .require import require_dtype, require_finite, shapes_already_checked

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
PIXEL_MAX = 255


def scale_pixels(images: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Pixels 0..255 -> values in [-0.5, 0.5], in ``dtype``: ``images / 255 - 0.5``."""
    dtype = np.dtype(dtype)
    images = np.asarray(images)
    scaled = np.divide(images, dtype.type(PIXEL_MAX), dtype=dtype)   # computed in dtype: the pixels converted first
    return np.subtract(scaled, dtype.type(0.5), out=scaled)


def preprocess(image: np.ndarray) -> np.ndarray:
    """Scale one image's pixels from [0, 255] to [-0.5, 0.5], as the tutorial does.

    - ``image``: shape ``(28, 28)``, values 0..255 (e.g. ``uint8``).
    - Returns a float64 array of the same shape.
    """
    image = require_images(np.asarray(image)[np.newaxis], "image")[0]
    return scale_pixels(image)


def preprocess_batch(images: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Pixels ``(n, 28, 28)`` in 0..255 -> ``(n, 28, 28, 1)`` in [-0.5, 0.5], in ``dtype``.

    The last axis is the channel axis the fast layers expect (one grey channel).
    """
    images = require_images(images, "images")
    return scale_pixels(images, require_dtype(dtype))[..., np.newaxis]


def require_images(images, what: str = "images") -> np.ndarray:
    """``images`` of shape ``(n, 28, 28)`` (``n >= 1``) with finite pixels in 0..255, unchanged (no copy)."""
    if shapes_already_checked():                 # a model that checked these images already
        return images
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        shape = "(28, 28)" if what == "image" else "(n, 28, 28)"
        got = images.shape[1:] if what == "image" else images.shape
        raise ValueError(f"{what} must have shape {shape} (MNIST digits), but got {got}.")
    if images.dtype == bool or images.dtype.kind not in "iuf":
        raise ValueError(f"{what} must hold numeric pixel values 0..{PIXEL_MAX}, but got dtype {images.dtype}.")
    if images.size == 0:
        raise ValueError(f"{what} must hold at least one image, but got shape {images.shape}.")
    if images.dtype == np.uint8:                 # 0..255 by construction (MNIST's own type)
        return images
    if images.dtype.kind == "f":
        require_finite(images, what)
    low, high = images.min(), images.max()
    if low < 0 or high > PIXEL_MAX:
        raise ValueError(
            f"{what} must hold pixel values 0..{PIXEL_MAX} (raw MNIST pixels), but got values from "
            f"{low:g} to {high:g}. Pass the raw pixels: the network scales them itself."
        )
    return images


def require_label(label, num_classes: int = NUM_CLASSES) -> int:
    """``label`` as an ``int`` after checking it is a class index 0..num_classes-1."""
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


def require_labels(labels, n: int, what: str = "labels") -> np.ndarray:
    """``labels`` of shape ``(n,)``, integers 0..9, returned as ``int64``."""
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{what} must be {n} integer digits, one per image (shape ({n},)), "
            f"but got shape {labels.shape} and dtype {labels.dtype}."
        )
    if n and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(
            f"{what} must be digits 0-{NUM_CLASSES - 1}, but got values from {labels.min()} to {labels.max()}."
        )
    return labels.astype(np.int64)


def require_dataset(images, labels, what: str) -> tuple[np.ndarray, np.ndarray]:
    """A set of images ``(n, 28, 28)`` with its labels ``(n,)``, both checked; ``what`` names it."""
    images = require_images(images, f"{what} images")
    return images, require_labels(labels, len(images), f"{what} labels")
