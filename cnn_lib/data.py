"""Loading the MNIST handwritten digits.

Two sources of data are available:

* **The shipped subset** (``load_subset``): the first 1,000 training images and
  the first 1,000 test images of MNIST, stored inside this package in
  ``cnn_lib/mnist_subset.npz``. It needs no internet and no extra files,
  and it is what the notebooks train on by default.
* **The full dataset** (``load_full``): all 60,000 training and 10,000 test
  images, read from the four standard MNIST ``.gz`` files. They are looked for,
  in this order:

  1. the ``mnist_dir`` argument, or else the ``MNIST_DIR`` environment
     variable: a folder you already have that holds the four files. It is only
     read, never written to: a missing or damaged file there is an error.
  2. otherwise a per-user cache folder (the ``cache_dir`` argument, else the
     ``CNN_FROM_SCRATCH_CACHE`` environment variable, else
     ``$XDG_CACHE_HOME/cnn-from-scratch/mnist``, else
     ``~/.cache/cnn-from-scratch/mnist``). Files missing from the cache are
     downloaded into it, through the ``mnist`` package, from the mirrors in
     ``MIRRORS``.

Every file is checked before its data is used, wherever it came from: it must
decompress, start with the right IDX header, hold the right number of items,
and its decompressed bytes must have the published size and SHA-256 checksum
(the table ``EXPECTED``). Any problem raises ``MNISTDataError`` with a message
saying which file, what was expected, what was found, and what to do.

``load_mnist`` is the one-call entry point: ``load_mnist("subset")`` or
``load_mnist("full", train_size=5000)``.

Shapes and types of everything returned:

* images: ``(N, 28, 28)`` ``uint8`` arrays, pixel values 0 (background) to 255 (ink)
* labels: ``(N,)`` ``uint8`` arrays, digit values 0 to 9; label ``i`` goes with image ``i``

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, and is
distributed under the Creative Commons Attribution-Share Alike 3.0 licence.

Run ``python -m cnn_lib.data`` to see where the data would come from, and
``python -m cnn_lib.data --download`` to fetch the full dataset into the cache.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import shutil
import socket
import tempfile
import urllib.error
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

__all__ = [
    "MNISTDataError",
    "MNISTVerificationError",
    "MNISTDownloadError",
    "MIRRORS",
    "EXPECTED",
    "FILENAMES",
    "SUBSET_PATH",
    "SUBSET_SIZE",
    "load_subset",
    "load_full",
    "load_mnist",
    "full_mnist_available",
    "read_idx_file",
    "default_cache_dir",
]

log = logging.getLogger(__name__)

# Type of the four arrays every loader returns:
# (train_images, train_labels, test_images, test_labels)
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

#: Mirrors of the original MNIST files, tried in this order. The original host
#: (yann.lecun.com, the ``mnist`` package's default) now answers HTTP 403.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: The four files, in the order their arrays are returned.
FILENAMES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

#: What each file must contain once decompressed. ``kind`` is "images"
#: (IDX magic 0x00000803, shape (count, 28, 28)) or "labels" (IDX magic
#: 0x00000801, shape (count,)); ``size`` is the number of decompressed bytes
#: and ``sha256`` their checksum. The .gz wrappers differ between mirrors, so
#: only the decompressed bytes are checked.
EXPECTED: dict[str, dict] = {
    "train-images-idx3-ubyte.gz": {
        "kind": "images",
        "count": 60000,
        "size": 47040016,
        "sha256": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    "train-labels-idx1-ubyte.gz": {
        "kind": "labels",
        "count": 60000,
        "size": 60008,
        "sha256": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    "t10k-images-idx3-ubyte.gz": {
        "kind": "images",
        "count": 10000,
        "size": 7840016,
        "sha256": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    "t10k-labels-idx1-ubyte.gz": {
        "kind": "labels",
        "count": 10000,
        "size": 10008,
        "sha256": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
}

#: IDX magic numbers: two zero bytes, data type 0x08 (unsigned byte), number of dimensions.
_MAGIC = {"images": 0x00000803, "labels": 0x00000801}

IMAGE_SIDE = 28

#: The subset shipped with the package, and how many images of each split it holds.
SUBSET_PATH: Path = Path(__file__).resolve().with_name("mnist_subset.npz")
SUBSET_SIZE = 1000
_SUBSET_KEYS = ("train_images", "train_labels", "test_images", "test_labels")

_WHAT_TO_DO = (
    "set MNIST_DIR to a folder holding the four MNIST .gz files "
    f"({', '.join(FILENAMES)}), or connect to the internet so they can be "
    "downloaded, or use the shipped subset (load_mnist('subset'))"
)


class MNISTDataError(Exception):
    """Any failure to find, download, read or verify MNIST data."""


class MNISTVerificationError(MNISTDataError):
    """A file exists but its contents are not the expected MNIST data."""


class MNISTDownloadError(MNISTDataError):
    """A file could not be downloaded from any mirror."""


# --------------------------------------------------------------------------
# The shipped subset
# --------------------------------------------------------------------------


def load_subset(path: str | os.PathLike | None = None) -> Arrays:
    """Load the 1,000 + 1,000 image subset shipped inside the package.

    Args:
        path: the ``.npz`` file to read; defaults to ``SUBSET_PATH``
            (``cnn_lib/mnist_subset.npz``). Only tests need to change it.

    Returns:
        ``(train_images, train_labels, test_images, test_labels)``:
        images ``(1000, 28, 28)`` uint8 (0-255), labels ``(1000,)`` uint8 (0-9).

    Raises:
        MNISTDataError: the file is missing, damaged, or holds the wrong arrays.
    """
    path = Path(path) if path is not None else SUBSET_PATH
    fix = (
        "reinstall the package (the file is part of it), or rebuild it with "
        "'python tools/make_subset.py' from a source checkout"
    )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in _SUBSET_KEYS}
    except FileNotFoundError:
        raise MNISTDataError(f"{path}: the MNIST subset file is missing; {fix}.") from None
    except KeyError as exc:
        raise MNISTDataError(
            f"{path}: expected the arrays {', '.join(_SUBSET_KEYS)} but {exc} is missing; {fix}."
        ) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise MNISTDataError(
            f"{path}: expected a NumPy .npz archive but it could not be read "
            f"({type(exc).__name__}: {exc}); {fix}."
        ) from None

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
    return tuple(arrays[key] for key in _SUBSET_KEYS)  # type: ignore[return-value]


# --------------------------------------------------------------------------
# Reading and checking one IDX file
# --------------------------------------------------------------------------


def _decompress(path: Path, limit: int) -> bytes:
    """Return the decompressed bytes of the gzip file ``path``.

    Reads at most ``limit + 1`` bytes so a wrong (e.g. huge) file cannot fill
    the memory; one byte more than expected is enough to report "too big".
    """
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(limit + 1)
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a truncated file raises EOFError;
        # flipped bytes usually give zlib.error or a CRC error (OSError).
        raise MNISTVerificationError(
            f"{path}: expected a complete gzip-compressed IDX file but it could not be "
            f"decompressed ({type(exc).__name__}: {exc}). The file is damaged or "
            "incomplete (an interrupted download?)."
        ) from None


def _parse_and_check(path: Path, raw: bytes, expected: dict) -> np.ndarray:
    """Check the decompressed bytes ``raw`` of ``path`` against ``expected``
    (one entry of ``EXPECTED``) and return them as a uint8 array:
    ``(count, 28, 28)`` for images, ``(count,)`` for labels."""
    kind, count = expected["kind"], expected["count"]
    ndim = 3 if kind == "images" else 1
    want_dims = (count, IMAGE_SIDE, IMAGE_SIDE) if kind == "images" else (count,)
    where = f"{path} (decompressed)"

    if len(raw) < 4:
        raise MNISTVerificationError(
            f"{where}: expected an IDX header but the file holds only {len(raw)} bytes."
        )
    magic = int.from_bytes(raw[:4], "big")
    if magic != _MAGIC[kind]:
        raise MNISTVerificationError(
            f"{where}: expected IDX magic number 0x{_MAGIC[kind]:08x} ({kind}) but found "
            f"0x{magic:08x}. This is not an MNIST {kind} file."
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise MNISTVerificationError(
            f"{where}: expected a {header_size}-byte IDX header but the file holds only "
            f"{len(raw)} bytes."
        )
    dims = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    if dims[0] != count:
        raise MNISTVerificationError(
            f"{where}: expected {count} {kind} but the header says {dims[0]}."
        )
    if dims != want_dims:
        raise MNISTVerificationError(
            f"{where}: expected dimensions {want_dims} but the header says {dims}."
        )
    n_items = int(np.prod(dims))
    if len(raw) - header_size != n_items:
        raise MNISTVerificationError(
            f"{where}: expected {n_items} data bytes after the header but found "
            f"{'more' if len(raw) - header_size > n_items else len(raw) - header_size} "
            "(the file is cut short or has extra data)."
        )
    if len(raw) != expected["size"]:
        raise MNISTVerificationError(
            f"{where}: expected {expected['size']} bytes but found {len(raw)}."
        )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected["sha256"]:
        raise MNISTVerificationError(
            f"{where}: expected SHA-256 {expected['sha256']} but found {digest}. "
            "The file is damaged or is not the original MNIST file."
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)
    if kind == "labels" and n_items and data.max() > 9:  # cannot happen if the checksum matched
        raise MNISTVerificationError(f"{where}: expected labels 0-9 but found {data.max()}.")
    return data.copy()  # a writable array that does not keep `raw` alive


def read_idx_file(path: str | os.PathLike, name: str | None = None) -> np.ndarray:
    """Read one gzip-compressed MNIST IDX file and verify it completely.

    Args:
        path: the ``.gz`` file.
        name: which MNIST file it is supposed to be (a key of ``EXPECTED``);
            defaults to the file's own name.

    Returns:
        ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels.

    Raises:
        MNISTVerificationError: the file is damaged or is not the expected one.
        FileNotFoundError: the file does not exist.
    """
    path = Path(path)
    name = name or path.name
    try:
        expected = EXPECTED[name]
    except KeyError:
        raise MNISTDataError(
            f"{path}: expected one of the MNIST files {', '.join(EXPECTED)}."
        ) from None
    raw = _decompress(path, expected["size"])
    return _parse_and_check(path, raw, expected)


# --------------------------------------------------------------------------
# Where the full dataset lives
# --------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """The per-user cache folder for the full dataset (it may not exist yet):
    ``$CNN_FROM_SCRATCH_CACHE``, else ``$XDG_CACHE_HOME/cnn-from-scratch/mnist``,
    else ``~/.cache/cnn-from-scratch/mnist``."""
    if os.environ.get("CNN_FROM_SCRATCH_CACHE"):
        return Path(os.environ["CNN_FROM_SCRATCH_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "cnn-from-scratch" / "mnist"


def _user_dir(mnist_dir: str | os.PathLike | None) -> tuple[Path, str] | None:
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
    user = _user_dir(mnist_dir)
    folder = user[0] if user else (Path(cache_dir) if cache_dir else default_cache_dir())
    return all((folder / name).is_file() for name in FILENAMES)


# --------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------


@contextlib.contextmanager
def _socket_timeout(seconds: float | None) -> Iterator[None]:
    """Temporarily give every new network connection a timeout of ``seconds``
    (``mnist.download_file`` has no timeout parameter of its own).

    The default timeout is process-wide, so it is restored right after the download.
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _describe_network_error(exc: BaseException, timeout: float | None) -> str:
    """A short plain-language description of a failed download."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.ContentTooShortError):
        return "the download was cut short"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout} s (timed out)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"host name not found ({reason}); are you offline?"
    return f"{type(reason).__name__}: {reason}"


def _download(name: str, cache: Path, mirrors: Sequence[str], timeout: float | None) -> np.ndarray:
    """Download ``name`` into ``cache`` and return its verified data.

    Each mirror is tried in turn. The file is downloaded into a fresh temporary
    folder inside ``cache``, verified there, and only then moved to
    ``cache/name`` (``os.replace``, which is atomic), so a failed or interrupted
    download never leaves a bad file where a good one is expected.
    """
    try:
        import mnist  # the PyPI package "mnist", used for the actual download
    except ImportError:
        raise MNISTDownloadError(
            f"{name}: downloading needs the 'mnist' package (pip install mnist); "
            f"alternatively {_WHAT_TO_DO}."
        ) from None
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MNISTDownloadError(
            f"{cache}: expected a writable cache folder for {name} but it could not be "
            f"created ({exc}); set CNN_FROM_SCRATCH_CACHE to a writable folder, "
            f"or {_WHAT_TO_DO}."
        ) from None

    failures: list[str] = []
    saved_url = mnist.datasets_url
    try:
        for mirror in mirrors:
            base = mirror if mirror.endswith("/") else mirror + "/"
            url = base + name
            try:
                tmp_dir = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
            except OSError as exc:
                raise MNISTDownloadError(
                    f"{cache}: expected a writable cache folder for {name} but could not "
                    f"write to it ({exc}); set CNN_FROM_SCRATCH_CACHE to a writable folder, "
                    f"or {_WHAT_TO_DO}."
                ) from None
            try:
                log.info("Downloading %s", url)
                mnist.datasets_url = base
                try:
                    with _socket_timeout(timeout):
                        tmp_file = Path(mnist.download_file(name, target_dir=str(tmp_dir)))
                except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
                    failures.append(f"  {url}: {_describe_network_error(exc, timeout)}")
                    continue
                try:
                    data = read_idx_file(tmp_file, name)
                except MNISTVerificationError as exc:
                    failures.append(f"  {url}: downloaded, but the file is bad: {exc}")
                    continue
                os.replace(tmp_file, cache / name)
                log.info("Saved %s", cache / name)
                return data
            finally:
                shutil.rmtree(tmp_dir, ignore_errors=True)
    finally:
        mnist.datasets_url = saved_url

    raise MNISTDownloadError(
        f"{cache / name}: expected to download {name} but every mirror failed:\n"
        + "\n".join(failures or ["  (no mirrors were given)"])
        + f"\nWhat to do: {_WHAT_TO_DO}."
    )


# --------------------------------------------------------------------------
# The full dataset
# --------------------------------------------------------------------------


def load_full(
    mnist_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float | None = 30,
    subset_hint: str | None = None,
) -> Arrays:
    """Load the full MNIST dataset, downloading it into the cache if needed.

    Args:
        mnist_dir: a folder holding the four MNIST ``.gz`` files. Defaults to
            the ``MNIST_DIR`` environment variable. When given, it is used
            as-is and nothing is downloaded.
        cache_dir: where downloaded files are kept; defaults to
            ``default_cache_dir()``.
        mirrors: base URLs to download from, tried in order; defaults to ``MIRRORS``.
        timeout: seconds to wait for the network before giving up on a mirror.

    Returns:
        ``(train_images, train_labels, test_images, test_labels)``: images
        ``(60000, 28, 28)`` and ``(10000, 28, 28)`` uint8 (0-255), labels
        ``(60000,)`` and ``(10000,)`` uint8 (0-9).

    Raises:
        MNISTDataError: a file is missing, damaged, or could not be downloaded.
    """
    user = _user_dir(mnist_dir)
    if user is not None:
        folder, given_by = user
        arrays = []
        for name in FILENAMES:
            path = folder / name
            try:
                arrays.append(read_idx_file(path, name))
            except FileNotFoundError:
                raise MNISTDataError(
                    f"{path}: {given_by} points to {folder}, which should hold {name}, "
                    f"but the file is not there. Put the four MNIST .gz files "
                    f"({', '.join(FILENAMES)}) in that folder, or unset MNIST_DIR to use "
                    "the download cache."
                ) from None
            except MNISTVerificationError as exc:
                raise MNISTVerificationError(
                    f"{exc}\nThis file comes from {given_by} ({folder}); it was left "
                    "untouched. Replace it with a good copy, or unset MNIST_DIR to use "
                    "the download cache."
                ) from None
        return tuple(arrays)  # type: ignore[return-value]

    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    mirrors = tuple(MIRRORS if mirrors is None else mirrors)
    arrays = []
    for name in FILENAMES:
        path = cache / name
        data = None
        if path.is_file():
            try:
                data = read_idx_file(path, name)
            except MNISTVerificationError as exc:
                message = f"Deleting a damaged file from the MNIST cache and downloading it again: {exc}"
                log.warning(message)
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                try:
                    path.unlink(missing_ok=True)
                except OSError as unlink_exc:
                    raise MNISTDataError(
                        f"{path}: this cached file is damaged and could not be deleted "
                        f"({unlink_exc}); delete it by hand and try again."
                    ) from exc
        if data is None:
            data = _download(name, cache, mirrors, timeout)
        arrays.append(data)
    return tuple(arrays)  # type: ignore[return-value]


# --------------------------------------------------------------------------
# One entry point
# --------------------------------------------------------------------------


def _check_size(value: int | None, available: int, what: str) -> int:
    if value is None:
        return available
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be a positive whole number or None, got {value!r}")
    if not 1 <= value <= available:
        raise ValueError(f"{what} must be between 1 and {available} (the images available), got {value}")
    return int(value)


def load_mnist(
    data: str = "subset", train_size: int | None = None, test_size: int | None = None,
    subset_hint: str | None = None,
) -> Arrays:
    """Load MNIST and keep the first ``train_size`` / ``test_size`` images.

    Args:
        data: ``"subset"`` for the 1,000 + 1,000 images shipped with the
            package (no download), or ``"full"`` for 60,000 + 10,000 (see
            ``load_full``: uses ``MNIST_DIR`` or downloads into the cache).
        train_size: how many training images to keep (the first ones); None keeps all.
        test_size: how many test images to keep (the first ones); None keeps all.

    Returns:
        ``(train_images, train_labels, test_images, test_labels)``: images
        ``(N, 28, 28)`` uint8 (0-255), labels ``(N,)`` uint8 (0-9).

    Raises:
        ValueError: ``data`` is not "subset"/"full", or a size is not a whole
            number between 1 and the number of images available.
        MNISTDataError: the data could not be loaded.
    """
    if data == "subset":
        loader = load_subset
    elif data == "full":
        loader = load_full
    else:
        raise ValueError(f"data must be 'subset' or 'full', got {data!r}")
    if train_size is not None:  # catch bad sizes before any (slow) loading
        _check_size(train_size, 60000, "train_size")
    if test_size is not None:
        _check_size(test_size, 10000, "test_size")
    train_x, train_y, test_x, test_y = loader()
    n_train = _check_size(train_size, len(train_x), "train_size")
    n_test = _check_size(test_size, len(test_x), "test_size")
    return train_x[:n_train], train_y[:n_train], test_x[:n_test], test_y[:n_test]


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m cnn_lib.data", description="Show where MNIST data comes from."
    )
    parser.add_argument(
        "--download", action="store_true", help="fetch and verify the full dataset now"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    print(f"Shipped subset: {SUBSET_PATH} ({'present' if SUBSET_PATH.is_file() else 'MISSING'})")
    user = _user_dir(None)
    if user:
        print(f"Full dataset:   {user[0]} (from MNIST_DIR; never downloaded into)")
    else:
        print(f"Full dataset:   {default_cache_dir()} (download cache)")
    print(f"Full dataset present: {'yes' if full_mnist_available() else 'no'}")
    if args.download:
        try:
            train_x, _, test_x, _ = load_full()
        except MNISTDataError as exc:
            print(f"Error: {exc}")
            return 1
        print(f"OK: {len(train_x)} training and {len(test_x)} test images, all verified.")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
