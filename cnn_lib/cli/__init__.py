"""The command line: ``python -m cnn_lib train ...`` and ``python -m cnn_lib bench``.

- ``train`` (``cnn_lib.cli.train``): the tutorial's training with its log lines,
  or with ``--batch-size``/``--model``/... a fast mini-batch recipe.
- ``bench`` (``cnn_lib.cli.bench``): training speed of every version.

Every user error ends as one ``error: ...`` line on standard error and a
non-zero exit status, never a Python traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..fast.models import MODELS
from ..fast.optim import DEFAULT_LR, OPTIMIZERS

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text}")
        return value
    return parse


def number_in(low: float, high: float, high_closed: bool = False):
    """An argparse type: a number in the interval (low, high) or (low, high]."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not (low < value < high or (high_closed and value == high)):
            raise argparse.ArgumentTypeError(
                f"must be a number in ({low:g}, {high:g}{']' if high_closed else ')'}, got {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_lib",
        description="Train the CNN of Victor Zhou's tutorial with NumPy, and measure its speed.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train", help="train (and test) the tutorial's CNN",
        description="Train the tutorial's CNN: Conv3x3 (8 filters) -> MaxPool2 -> Softmax, SGD, one image at a time.",
    )
    train.add_argument("--epochs", type=whole_number(0), default=3, help="passes over the training images (default 3; 0 only tests)")
    default_lrs = ", ".join(f"{name} {lr}" for name, lr in DEFAULT_LR.items())
    train.add_argument("--lr", type=number_in(0, float("inf")), default=None,
                       help=f"learning rate (default: the optimiser's, {default_lrs}; the loop run uses sgd)")
    train.add_argument("--train-size", type=whole_number(1), default=None,
                       help="first N training images (default: all: 1,000 of the subset, 60,000 of full MNIST)")
    train.add_argument("--test-size", type=whole_number(1), default=None,
                       help="first N test images (default: all: 1,000 of the subset, 10,000 of full MNIST)")
    train.add_argument("--seed", type=whole_number(0), default=0, help="seed for the initial weights and shuffles (default 0)")
    train.add_argument("--data", choices=("subset", "full"), default="subset",
                       help="'subset': the 1,000+1,000 images shipped with the package (offline); "
                            "'full': all of MNIST from MNIST_DIR or a verified, cached download")
    train.add_argument("--save", metavar="PATH.npz", help="save the trained weights here (checked before training)")
    train.add_argument("--load", metavar="PATH.npz", help="start from these saved weights")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar on standard error (default: when it is a terminal)")
    fast = train.add_argument_group(
        "fast batched training", "Any of these options trains a fast batched model (cnn_lib.fast) instead of "
        "the tutorial's loop layers; the mean loss of each batch drives one optimiser step.")
    fast.add_argument("--batch-size", type=whole_number(1), default=None, help="images per batch (default 64)")
    fast.add_argument("--model", choices=tuple(MODELS), default=None,
                      help="'tutorial': the tutorial's network; 'deep': LeNet-like, about 99%% on full MNIST (default tutorial)")
    fast.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=None, help="(default sgd)")
    fast.add_argument("--dtype", choices=("float32", "float64"), default=None, help="(default float32)")
    fast.add_argument("--lr-decay", type=number_in(0, 1, high_closed=True), default=None,
                      help="multiply the learning rate by this after every epoch, in (0, 1] (default 1: constant)")
    fast.add_argument("--validation", type=whole_number(1), default=None, metavar="N",
                      help="hold out the last N training images and score them after every epoch (default: none)")

    bench = commands.add_parser(
        "bench", help="measure training speed: loop layers, fast layers, PyTorch if installed",
        description="Print one table of training images/s: the loop layers, the fast tutorial model at batch 1 "
                    "and 64 in float32 and float64, the deep model, and PyTorch on the CPU if it is importable.")
    bench.add_argument("--quick", action="store_true", help="tiny measurements (for tests; the numbers are rough)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # e.g. "Downloading ..." for --data full
    try:
        if args.command == "train":
            from .train import run_train

            return run_train(args)
        from .bench import run_bench

        return run_bench(quick=args.quick)
    except KeyboardInterrupt:
        print("\nerror: interrupted; nothing was saved.", file=sys.stderr)
        return EXIT_INTERRUPTED
