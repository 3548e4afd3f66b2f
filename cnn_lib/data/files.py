"""The four MNIST files: what each must contain, and reading + verifying one.

Every file is checked before its data is used, wherever it came from: it must
decompress, start with the right IDX header, hold the right number of items,
and its decompressed bytes must have the published size and SHA-256 checksum
(the table ``EXPECTED``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from .errors import MNISTDataError, MNISTVerificationError

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
MAGIC = {"images": 0x00000803, "labels": 0x00000801}

IMAGE_SIDE = 28

#: What to do when the full dataset cannot be had (ends every such error message).
WHAT_TO_DO = (
    "set MNIST_DIR to a folder holding the four MNIST .gz files "
    f"({', '.join(FILENAMES)}), or connect to the internet so they can be "
    "downloaded, or use the shipped subset (load_mnist('subset'))"
)


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
    if magic != MAGIC[kind]:
        raise MNISTVerificationError(
            f"{where}: expected IDX magic number 0x{MAGIC[kind]:08x} ({kind}) but found "
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
