"""``python -m cnn_lib.data``: say where MNIST data would come from;
``--download`` fetches and verifies the full dataset now."""

from __future__ import annotations

import argparse
import logging
from typing import Sequence

from . import (
    SUBSET_PATH,
    MNISTDataError,
    default_cache_dir,
    full_mnist_available,
    load_full,
)
from .full import user_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_lib.data", description="Show where MNIST data comes from."
    )
    parser.add_argument(
        "--download", action="store_true", help="fetch and verify the full dataset now"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    print(f"Shipped subset: {SUBSET_PATH} ({'present' if SUBSET_PATH.is_file() else 'MISSING'})")
    user = user_dir(None)
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
    raise SystemExit(main())
