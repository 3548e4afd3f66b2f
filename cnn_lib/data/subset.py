"""The MNIST subset shipped inside the package: the first 1,000 training and
the first 1,000 test images of MNIST, in ``mnist_subset.npz`` next to this
module. It needs no internet and no extra files.

``tools/make_subset.py`` builds it from the four original files.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import MNISTDataError
from .files import IMAGE_SIDE

#: The subset shipped with the package, and how many images of each split it holds.
SUBSET_PATH: Path = Path(__file__).resolve().with_name("mnist_subset.npz")
SUBSET_SIZE = 1000
SUBSET_KEYS = ("train_images", "train_labels", "test_images", "test_labels")

# (train_images, train_labels, test_images, test_labels)
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def load_subset(path: str | os.PathLike | None = None) -> Arrays:
    """Load the 1,000 + 1,000 image subset shipped inside the package.

    Args:
        path: the ``.npz`` file to read; defaults to ``SUBSET_PATH``
            (``cnn_lib/data/mnist_subset.npz``). Only tests need to change it.

    Returns:
        ``(train_images, train_labels, test_images, test_labels)``:
        images ``(1000, 28, 28)`` uint8 (0-255), labels ``(1000,)`` uint8 (0-9).

    Raises:
        MNISTDataError: the file is missing, damaged, or holds the wrong arrays.
    """
    path = Path(path) if path is not None else SUBSET_PATH
    fix = (
        "reinstall the package (the file is part of it), or rebuild it with "
        "'python tools/make_subset.py MNIST_FOLDER' from a source checkout"
    )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in SUBSET_KEYS}
    except FileNotFoundError:
        raise MNISTDataError(f"{path}: the MNIST subset file is missing; {fix}.") from None
    except KeyError as exc:
        raise MNISTDataError(
            f"{path}: expected the arrays {', '.join(SUBSET_KEYS)} but {exc} is missing; {fix}."
        ) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise MNISTDataError(
            f"{path}: expected a NumPy .npz archive but it could not be read "
            f"({type(exc).__name__}: {exc}); {fix}."
        ) from None

    # The subset has no checksum, so every property the notebooks rely on is checked here.
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        for name, arr, shape in (
            (f"{split}_images", images, (SUBSET_SIZE, IMAGE_SIDE, IMAGE_SIDE)),
            (f"{split}_labels", labels, (SUBSET_SIZE,)),
        ):
            if arr.shape != shape or arr.dtype != np.uint8:
                raise MNISTDataError(
                    f"{path}: expected {name} to be a {shape} uint8 array but found "
                    f"{arr.shape} {arr.dtype}; {fix}."
                )
        if labels.max(initial=0) > 9:
            raise MNISTDataError(
                f"{path}: expected {split}_labels to be digits 0-9 but found "
                f"{int(labels.max())}; {fix}."
            )
    return tuple(arrays[key] for key in SUBSET_KEYS)  # type: ignore[return-value]
