"""The full MNIST dataset (60,000 + 10,000 images): where it lives, and loading it.

The four files are looked for, in this order:

1. the ``mnist_dir`` argument, or else the ``MNIST_DIR`` environment variable:
   a folder you already have that holds the four files. It is only read,
   never written to: a missing or damaged file there is an error.
2. otherwise a per-user cache folder (``default_cache_dir()``). Files missing
   from the cache are downloaded into it from the mirrors in ``MIRRORS``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .download import MIRRORS, download
from .errors import MNISTDataError, MNISTVerificationError
from .files import FILENAMES, SUBSET_HINT, read_idx_file
from .subset import Arrays, load_subset


def default_cache_dir() -> Path:
    """The per-user cache folder for the full dataset (it may not exist yet):
    ``$CNN_FROM_SCRATCH_CACHE``, else ``$XDG_CACHE_HOME/cnn-from-scratch/mnist``,
    else ``~/.cache/cnn-from-scratch/mnist``."""
    if os.environ.get("CNN_FROM_SCRATCH_CACHE"):
        return Path(os.environ["CNN_FROM_SCRATCH_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "cnn-from-scratch" / "mnist"


def user_dir(mnist_dir: str | os.PathLike | None) -> tuple[Path, str] | None:
    """The user's own MNIST folder and how it was given, or None."""
    if mnist_dir is not None:
        return Path(mnist_dir).expanduser(), "the mnist_dir argument"
    env = os.environ.get("MNIST_DIR")
    if env:
        return Path(env).expanduser(), "MNIST_DIR"
    return None


def full_mnist_available(
    mnist_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None
) -> bool:
    """True if the four full-MNIST files are present locally, without any
    network access: in ``mnist_dir`` / ``MNIST_DIR`` if set, else in the cache.

    Only checks that the files exist; ``load_full`` verifies their contents.
    """
    user = user_dir(mnist_dir)
    folder = user[0] if user else (Path(cache_dir) if cache_dir else default_cache_dir())
    return all((folder / name).is_file() for name in FILENAMES)


def load_full(
    mnist_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float | None = 30,
    deadline: float | None = 300,
    subset_hint: str = SUBSET_HINT,
) -> Arrays:
    """Load the full MNIST dataset, downloading it into the cache if needed.

    Args:
        mnist_dir: a folder holding the four MNIST ``.gz`` files. Defaults to
            the ``MNIST_DIR`` environment variable. When given, it is used
            as-is and nothing is downloaded.
        cache_dir: where downloaded files are kept; defaults to
            ``default_cache_dir()``.
        mirrors: base URLs to download from (or one URL), tried in order;
            defaults to ``MIRRORS``.
        timeout: seconds to wait for a connection, or for the next piece of a
            file, before giving up on a mirror (None: wait forever).
        deadline: seconds one mirror may take to send a whole file before it
            is abandoned, so a mirror that trickles a few bytes at a time
            cannot hold things up for ever (None: no limit). The largest file
            is about 10 MB: raise this on a very slow connection.
        subset_hint: how error messages name the shipped subset in their
            advice ("... or use the shipped subset (load_mnist('subset'))").
            A command line passes its own option instead, e.g.
            ``subset_hint="--data subset"``.

    Returns:
        ``(train_images, train_labels, test_images, test_labels)``: images
        ``(60000, 28, 28)`` and ``(10000, 28, 28)`` uint8 (0-255), labels
        ``(60000,)`` and ``(10000,)`` uint8 (0-9).

    Raises:
        MNISTDataError: a file is missing, damaged, unreadable, or could not be
            downloaded. The message ends with what to do.
    """
    arrays = []
    user = user_dir(mnist_dir)
    if user is not None:
        folder, given_by = user
        for name in FILENAMES:
            arrays.append(_read_from_user_dir(folder, given_by, name, subset_hint))
    else:
        cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        if mirrors is None:
            mirrors = MIRRORS
        elif isinstance(mirrors, str):  # one URL, not a list of its characters
            mirrors = (mirrors,)
        for name in FILENAMES:
            arrays.append(_read_through_cache(cache, name, mirrors, timeout, deadline, subset_hint))
    return tuple(arrays)  # type: ignore[return-value]


def _read_from_user_dir(folder: Path, given_by: str, name: str, subset_hint: str) -> np.ndarray:
    """Read ``folder / name`` from the user's own folder, which is never written to."""
    path = folder / name
    instead = "unset MNIST_DIR" if given_by == "MNIST_DIR" else "leave out mnist_dir"
    otherwise = f"or {instead} to use the download cache, or use the shipped subset ({subset_hint})."
    try:
        return read_idx_file(path, name)
    except (FileNotFoundError, NotADirectoryError):
        raise MNISTDataError(
            f"{path}: {given_by} points to {folder}, which should hold {name}, but the "
            f"file is not there. Put the four MNIST .gz files ({', '.join(FILENAMES)}) "
            f"in that folder, {otherwise}"
        ) from None
    except MNISTVerificationError as exc:
        raise MNISTVerificationError(
            f"{exc}\nThis file comes from {given_by} ({folder}); it was left untouched. "
            f"Replace it with a good copy, {otherwise}"
        ) from None
    except MNISTDataError as exc:  # a directory, or a file that cannot be read
        raise MNISTDataError(f"{exc} Or use the shipped subset ({subset_hint}).") from None


def _read_through_cache(
    cache: Path,
    name: str,
    mirrors: Sequence[str],
    timeout: float | None,
    deadline: float | None,
    subset_hint: str,
) -> np.ndarray:
    """Read ``cache / name``; download it first if it is missing or damaged."""
    path = cache / name
    try:
        return read_idx_file(path, name)
    except (FileNotFoundError, NotADirectoryError):
        pass  # not downloaded yet
    except MNISTVerificationError as exc:
        warnings.warn(  # the one notice: a warning can be caught, filtered or turned into an error
            f"Deleting a damaged file from the MNIST cache and downloading it again: {exc}",
            RuntimeWarning,
            stacklevel=3,  # points at the caller of load_full
        )
        try:
            path.unlink(missing_ok=True)
        except OSError as unlink_exc:
            raise MNISTDataError(
                f"{path}: this cached file is damaged and could not be deleted "
                f"({unlink_exc}); delete it by hand and try again, or use the shipped "
                f"subset ({subset_hint})."
            ) from exc
    except MNISTDataError as exc:  # a directory, or a file that cannot be read: left alone
        raise MNISTDataError(f"{exc} Or use the shipped subset ({subset_hint}).") from None
    return download(name, cache, mirrors, timeout, deadline, subset_hint)


def _check_size(value: int | None, available: int, what: str) -> int:
    if value is None:
        return available
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be a positive whole number or None, got {value!r}")
    if not 1 <= value <= available:
        raise ValueError(f"{what} must be between 1 and {available} (the images available), got {value}")
    return int(value)


def load_mnist(
    data: str = "subset",
    train_size: int | None = None,
    test_size: int | None = None,
    *,
    subset_hint: str = SUBSET_HINT,
) -> Arrays:
    """Load MNIST and keep the first ``train_size`` / ``test_size`` images.

    Args:
        data: ``"subset"`` for the 1,000 + 1,000 images shipped with the
            package (no download), or ``"full"`` for 60,000 + 10,000 (see
            ``load_full``: uses ``MNIST_DIR`` or downloads into the cache).
        train_size: how many training images to keep (the first ones); None keeps all.
        test_size: how many test images to keep (the first ones); None keeps all.
        subset_hint: how error messages name the shipped subset in their advice;
            the default suits Python code, a command line passes its own
            option, e.g. ``subset_hint="--data subset"``.

    Returns:
        ``(train_images, train_labels, test_images, test_labels)``: images
        ``(N, 28, 28)`` uint8 (0-255), labels ``(N,)`` uint8 (0-9).

    Raises:
        ValueError: ``data`` is not "subset"/"full", or a size is not a whole
            number between 1 and the number of images available.
        MNISTDataError: the data could not be loaded.
    """
    if data not in ("subset", "full"):
        raise ValueError(f"data must be 'subset' or 'full', got {data!r}")
    if train_size is not None:  # catch bad sizes before any (slow) loading
        _check_size(train_size, 60000, "train_size")
    if test_size is not None:
        _check_size(test_size, 10000, "test_size")
    if data == "subset":
        train_x, train_y, test_x, test_y = load_subset()
    else:
        train_x, train_y, test_x, test_y = load_full(subset_hint=subset_hint)
    n_train = _check_size(train_size, len(train_x), "train_size")
    n_test = _check_size(test_size, len(test_x), "test_size")
    return train_x[:n_train], train_y[:n_train], test_x[:n_test], test_y[:n_test]
