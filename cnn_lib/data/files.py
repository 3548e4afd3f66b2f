"""The four MNIST files: what each must contain, and reading + verifying one.

A file is checked step by step, and each step can really fail:

1. it must decompress as gzip (a truncated or damaged download fails here),
   and at most the expected size + 1 bytes are decompressed, so a wrong,
   huge file cannot fill the memory;
2. its IDX header must say the right kind and count. The checksum below
   would catch these too, but "this is not an MNIST labels file" or
   "expected 60000 images but the header says 10000" says far more than a
   checksum mismatch;
3. it must have the published number of decompressed bytes;
4. the SHA-256 of the decompressed bytes must match the table ``EXPECTED``.

Nothing is checked after the checksum: once it matches, the bytes *are* the
published file, so its shape (N, 28, 28) and its labels 0-9 are known, and a
check of them could never fail. The bytes are then turned into an array by
``mnist.parse_idx`` from the ``mnist`` package.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import mnist
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

IMAGE_SIDE = 28  # images are IMAGE_SIDE x IMAGE_SIDE pixels

#: How error messages name the shipped subset, unless the caller says otherwise
#: (a command line passes e.g. subset_hint="--data subset").
SUBSET_HINT = "load_mnist('subset')"


def what_to_do(subset_hint: str = SUBSET_HINT) -> str:
    """The advice that ends an error message when the full dataset cannot be had."""
    return (
        "set MNIST_DIR to a folder holding the four MNIST .gz files "
        f"({', '.join(FILENAMES)}), or connect to the internet so they can be "
        f"downloaded, or use the shipped subset ({subset_hint})"
    )


def _decompress(file: BinaryIO, limit: int, where: str) -> bytes:
    """Return the decompressed bytes of the gzip stream ``file``.

    Reads at most ``limit + 1`` bytes so a wrong (e.g. huge) file cannot fill
    the memory; one byte more than expected is enough to report "too big".
    """
    try:
        with gzip.GzipFile(fileobj=file, mode="rb") as unzipped:
            return unzipped.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a truncated file raises EOFError;
        # flipped bytes usually give zlib.error or a CRC error (OSError).
        raise MNISTVerificationError(
            f"{where}: expected a complete gzip-compressed IDX file but it could not be "
            f"decompressed ({type(exc).__name__}: {exc}). The file is damaged or "
            "incomplete (an interrupted download?)."
        ) from None


def _check(raw: bytes, expected: dict, where: str) -> None:
    """Check the decompressed bytes ``raw`` against ``expected`` (one entry of
    ``EXPECTED``); raise ``MNISTVerificationError`` at the first difference."""
    kind, count, size = expected["kind"], expected["count"], expected["size"]
    where = f"{where} (decompressed)"
    if len(raw) < 8:
        raise MNISTVerificationError(
            f"{where}: expected an 8-byte IDX header but the file holds only {len(raw)} "
            "bytes (the file is cut short)."
        )
    magic, header_count = struct.unpack(">II", raw[:8])  # two big-endian 32-bit integers
    if magic != MAGIC[kind]:
        raise MNISTVerificationError(
            f"{where}: expected IDX magic number 0x{MAGIC[kind]:08x} ({kind}) but found "
            f"0x{magic:08x}. This is not an MNIST {kind} file."
        )
    if header_count != count:
        raise MNISTVerificationError(
            f"{where}: expected {count} {kind} but the header says {header_count}."
        )
    if len(raw) != size:
        found = "more" if len(raw) > size else len(raw)
        raise MNISTVerificationError(
            f"{where}: expected {size} bytes but found {found} "
            "(the file is cut short or has extra data)."
        )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected["sha256"]:
        raise MNISTVerificationError(
            f"{where}: expected SHA-256 {expected['sha256']} but found {digest}. "
            "The file is damaged or is not the original MNIST file."
        )


def read_idx_gz(file: BinaryIO, name: str, where: str) -> np.ndarray:
    """Decompress the gzip stream ``file``, check that it is the MNIST file
    ``name`` (a key of ``EXPECTED``) and return its contents.

    ``where`` names the file in error messages (a path or a URL).

    Returns:
        ``(count, 28, 28)`` uint8 images or ``(count,)`` uint8 labels.

    Raises:
        MNISTVerificationError: the contents are not the expected file.
    """
    expected = EXPECTED[name]
    raw = _decompress(file, expected["size"], where)
    _check(raw, expected, where)
    return mnist.parse_idx(io.BytesIO(raw))


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
        MNISTDataError: ``path`` is a directory, or the file cannot be read
            (e.g. permission denied).
        FileNotFoundError, NotADirectoryError: the file does not exist (the
            second when a folder on its path is in fact a file).
    """
    path = Path(path)
    name = name or path.name
    if name not in EXPECTED:
        raise MNISTDataError(f"{path}: expected one of the MNIST files {', '.join(EXPECTED)}.")
    if path.is_dir():
        raise MNISTDataError(
            f"{path} is a directory, not a file: expected the MNIST file {name} there. "
            "Move that directory away (or delete it), then try again."
        )
    try:
        file = open(path, "rb")
    except (FileNotFoundError, NotADirectoryError):
        raise  # no such file: the caller knows what that means where it looked
    except PermissionError:
        raise MNISTDataError(
            f"{path} cannot be read: permission denied. Make it readable "
            f"(e.g. chmod u+r {path}), or replace it with a copy you can read."
        ) from None
    except OSError as exc:
        raise MNISTDataError(f"{path} cannot be read: {exc.strerror or exc}.") from None
    with file:
        return read_idx_gz(file, name, str(path))
