"""Build cnn_lib/data/mnist_subset.npz, the MNIST subset shipped with the package.

It holds the first 1,000 training and the first 1,000 test images and labels of
MNIST, taken from the four standard .gz files after verifying their checksums:

    python tools/make_subset.py MNIST_FOLDER [--out PATH]

MNIST_FOLDER is the folder holding the four MNIST .gz files; it may be left
out when the environment variable MNIST_DIR names that folder.

The output is deterministic: the .npz is a zip archive written with a fixed
timestamp, so running this twice gives byte-identical files (np.savez_compressed
would embed the current time).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from cnn_lib.atomic_write import atomic_write  # noqa: E402
from cnn_lib.data import (  # noqa: E402
    FILENAMES,
    SUBSET_PATH,
    SUBSET_SIZE,
    MNISTDataError,
    read_idx_file,
)

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip file can hold


def write_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed .npz (readable by np.load) with fixed
    timestamps and order, complete or not at all (``atomic_write``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as file, zipfile.ZipFile(file, "w") as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mnist_dir",
        nargs="?",
        default=os.environ.get("MNIST_DIR") or None,
        metavar="MNIST_FOLDER",
        help="folder holding the four MNIST .gz files (default: $MNIST_DIR)",
    )
    parser.add_argument("--out", default=str(SUBSET_PATH), help=f"output file (default: {SUBSET_PATH})")
    args = parser.parse_args(argv)
    if args.mnist_dir is None:
        parser.error(
            "expected the folder holding the four MNIST .gz files "
            f"({', '.join(FILENAMES)}): give it as MNIST_FOLDER or set MNIST_DIR"
        )

    folder = Path(args.mnist_dir)
    try:
        train_x, train_y, test_x, test_y = (read_idx_file(folder / name) for name in FILENAMES)
    except (MNISTDataError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n = SUBSET_SIZE
    arrays = {
        "train_images": train_x[:n],
        "train_labels": train_y[:n],
        "test_images": test_x[:n],
        "test_labels": test_y[:n],
    }
    out = Path(args.out)
    write_npz_deterministic(out, arrays)
    print(f"Wrote {out} ({out.stat().st_size:,} bytes) from {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
