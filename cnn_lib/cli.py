"""The command line: ``python -m cnn_lib train ...`` and ``python -m cnn_lib bench``.

``train`` runs the tutorial's training with its log lines on standard output,
a progress bar on standard error (when it is a terminal), and a final summary.
With ``--batch-size`` (or ``--model``/``--optimizer``) it trains a fast batched
model instead (``cnn_lib.models``). ``bench`` measures training speed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .network import TutorialCNN
from .training import evaluate, train_tutorial


class ProgressBar:
    """A one-line text progress bar that log lines can print above."""

    def __init__(self, total: int, stream=sys.stderr, enabled: bool | None = None, width: int = 30,
                 unit: str = "steps", every: int = 10, min_interval: float = 0.0):
        self.total = max(total, 1)
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.width = width
        self.unit = unit
        self.every = every
        self.min_interval = min_interval
        self.last_drawn = -float("inf")
        self.done = 0
        self.start = time.perf_counter()

    def update(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        if self.min_interval:  # batches: redraw at most every min_interval seconds
            now = time.perf_counter()
            if now - self.last_drawn < self.min_interval and done != self.total:
                return
            self.last_drawn = now
        if done % self.every == 0 or done == self.total:
            fraction = done / self.total
            filled = int(self.width * fraction)
            rate = done / max(time.perf_counter() - self.start, 1e-9)
            self.stream.write(
                f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} {self.unit} "
                f"({100 * fraction:3.0f}%, {rate:.0f} images/s)"
            )
            self.stream.flush()

    def log(self, line: str) -> None:
        """Print ``line`` on standard output without leaving a half bar behind."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
        print(line, flush=True)
        if self.enabled and 0 < self.done < self.total:
            self.update(self.done)

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_lib",
        description="Train the CNN of Victor Zhou's tutorial with NumPy loops.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train", help="train (and test) the tutorial's CNN",
        description="Train the tutorial's CNN: Conv3x3 (8 filters) -> MaxPool2 -> Softmax, SGD, one image at a time.",
    )
    train.add_argument("--epochs", type=non_negative_int, default=3, help="passes over the training images (default 3; 0 only tests)")
    train.add_argument("--lr", type=positive_float, default=None,
                       help="learning rate (default 0.005 for the loop run; with --batch-size: "
                            "0.1 for sgd, 0.02 for momentum, 0.001 for adam)")
    train.add_argument("--train-size", type=positive_int, default=None,
                       help="first N training images (default: all: 1,000 of the subset, 60,000 of full MNIST)")
    train.add_argument("--test-size", type=positive_int, default=None,
                       help="first N test images (default: all: 1,000 of the subset, 10,000 of full MNIST)")
    train.add_argument("--seed", type=int, default=0, help="seed for the initial weights and shuffles (default 0)")
    train.add_argument("--data", choices=("subset", "full"), default="subset",
                       help="'subset': the 1,000+1,000 images shipped with the package (offline); "
                            "'full': all of MNIST from MNIST_DIR or a verified, cached download")
    train.add_argument("--save", metavar="PATH.npz", help="save the trained weights here")
    train.add_argument("--load", metavar="PATH.npz", help="start from these saved weights")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar on standard error (default: when it is a terminal)")
    fast = train.add_argument_group(
        "fast batched training", "Any of these options trains a fast batched model (cnn_lib.models) instead of "
        "the tutorial's loop layers; the mean loss of each batch drives one optimiser step.")
    fast.add_argument("--batch-size", type=positive_int, default=None, help="images per batch (default 64)")
    fast.add_argument("--model", choices=("tutorial", "deep"), default=None,
                      help="'tutorial': the tutorial's network; 'deep': LeNet-like, about 99%% on full MNIST (default tutorial)")
    fast.add_argument("--optimizer", choices=("sgd", "momentum", "adam"), default=None, help="(default sgd)")
    fast.add_argument("--dtype", choices=("float32", "float64"), default=None, help="(default float32)")
    fast.add_argument("--lr-decay", type=positive_float, default=None,
                      help="multiply the learning rate by this after every epoch (default 1: constant)")

    bench = commands.add_parser(
        "bench", help="measure training speed: loop layers, fast layers, PyTorch if installed",
        description="Print one table of training images/s: the loop layers, the fast tutorial model at batch 1 "
                    "and 64 in float32 and float64, the deep model, and PyTorch on the CPU if it is importable.")
    bench.add_argument("--quick", action="store_true", help="tiny measurements (for tests; the numbers are rough)")
    return parser


def run_train(args: argparse.Namespace) -> int:
    from .data import MNISTDataError, load_mnist

    fast = any(value is not None for value in (args.batch_size, args.model, args.optimizer, args.dtype, args.lr_decay))
    try:
        train_images, train_labels, test_images, test_labels = load_mnist(
            args.data, train_size=args.train_size, test_size=args.test_size
        )
    except (MNISTDataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if fast:
        return run_fast_train(args, train_images, train_labels, test_images, test_labels)
    args.lr = 0.005 if args.lr is None else args.lr

    net = None
    if args.load:
        try:
            net = load_checkpoint(args.load, TutorialCNN(np.random.default_rng(args.seed)))
        except CheckpointError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    bar = ProgressBar(args.epochs * len(train_images), enabled=args.progress)
    start = time.perf_counter()
    net, history = train_tutorial(
        train_images, train_labels, test_images, test_labels,
        num_epochs=args.epochs, lr=args.lr, seed=args.seed, net=net,
        log=bar.log, on_step=lambda epoch, i: bar.update(epoch * len(train_images) + i + 1),
    )
    bar.close()
    seconds = time.perf_counter() - start

    images_seen = args.epochs * len(train_images) + len(test_images)
    print(
        f"\nSummary: {args.epochs} epoch(s) on {len(train_images)} {args.data} training images, "
        f"lr {args.lr}, seed {args.seed}: test accuracy {history.test.accuracy:.3f} "
        f"(loss {history.test.loss:.3f}) on {len(test_images)} test images; "
        f"{seconds:.1f} s ({images_seen / max(seconds, 1e-9):.0f} images/s)."
    )
    return save_if_asked(net, args.save)


def save_if_asked(net, path: str | None) -> int:
    """Save ``net`` to ``path`` when one was given; return the command's exit status."""
    if path:
        try:
            path = save_checkpoint(net, path)
        except (CheckpointError, OSError) as error:
            print(f"error: could not save the checkpoint: {error}", file=sys.stderr)
            return 2
        print(f"Saved the weights to {path}")
    return 0


def run_fast_train(args: argparse.Namespace, train_images, train_labels, test_images, test_labels) -> int:
    """``train`` with the fast batched layers: mini-batches, any model and optimiser."""
    from .models import MODELS, evaluate, fit
    from .optim import make_optimizer

    name, optimizer_name = args.model or "tutorial", args.optimizer or "sgd"
    batch_size, dtype = args.batch_size or 64, np.dtype(args.dtype or "float32")
    rng = np.random.default_rng(args.seed)
    model = MODELS[name](rng, dtype)
    if args.load:
        try:
            model = load_checkpoint(args.load, model)
        except CheckpointError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    optimizer = make_optimizer(optimizer_name, args.lr)
    lr = optimizer.lr  # fit decays optimizer.lr; the summary reports where it started
    print(f"Fast {name} model ({model.num_params()} weights, {dtype.name}), {optimizer}, batch size {batch_size}",
          flush=True)

    n = len(train_images)
    bar = ProgressBar(args.epochs * n, enabled=args.progress, unit="images", every=1, min_interval=0.1)
    start = time.perf_counter()
    history = fit(model, train_images, train_labels, batch_size=batch_size, num_epochs=args.epochs,
                  optimizer=optimizer, rng=rng, log=bar.log, lr_decay=args.lr_decay or 1.0,
                  on_batch=lambda epoch, done: bar.update(epoch * n + done))
    bar.close()
    test = evaluate(model, test_images, test_labels)
    seconds = time.perf_counter() - start
    print("\n--- Testing the CNN ---")
    print("Test Loss: %s" % test.loss)
    print("Test Accuracy: %s" % test.accuracy)
    images_seen = args.epochs * n + len(test_images)
    print(
        f"\nSummary: {args.epochs} epoch(s) on {n} {args.data} training images, {name} model, "
        f"{optimizer_name} lr {lr} (decay {args.lr_decay or 1.0} per epoch), "
        f"batch size {batch_size}, {dtype.name}, seed {args.seed}: "
        f"test accuracy {test.accuracy:.4f} (loss {test.loss:.4f}) on {len(test_images)} test images; "
        f"{seconds:.1f} s ({images_seen / max(seconds, 1e-9):.0f} images/s; "
        f"training {history.images_per_second:.0f} images/s)."
    )
    return save_if_asked(model, args.save)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # e.g. "Downloading ..." for --data full
    if args.command == "train":
        return run_train(args)
    if args.command == "bench":
        from .bench import run_bench

        return run_bench(quick=args.quick)
    return 2  # unreachable: argparse requires a command
