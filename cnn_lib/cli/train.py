"""``python -m cnn_lib train``: the tutorial's run, or a fast mini-batch recipe.

The loop run prints the tutorial's log lines on standard output; either run
shows a progress bar (tqdm) on standard error when it is a terminal, and ends
with a summary line.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from tqdm import tqdm

from ..checkpoint import CheckpointError, load_checkpoint, require_checkpoint_path, save_checkpoint
from ..data import MNISTDataError, load_mnist
from ..evaluation import evaluate
from ..fast.models import Sequential
from ..fast.recipe import Recipe, new_model, run_recipe, split_validation
from ..model import TrainingDiverged
from ..network import TutorialCNN
from ..training import train_tutorial
from . import EXIT_USER_ERROR

FAST_OPTIONS = ("batch_size", "model", "optimizer", "dtype", "lr_decay", "validation")


def run_train(args: argparse.Namespace) -> int:
    """Train as ``args`` say; every user error becomes ``error: ...`` and exit status 2."""
    try:
        if args.save:
            require_checkpoint_path(args.save)  # before any training time is spent
        fast = any(getattr(args, option) is not None for option in FAST_OPTIONS)
        data = load_mnist(args.data, train_size=args.train_size, test_size=args.test_size,
                          subset_hint="--data subset")
        start_from = load_checkpoint(args.load) if args.load else None
        if fast:
            return run_fast(args, data, start_from)
        return run_loop(args, data, start_from)
    except (MNISTDataError, CheckpointError, TrainingDiverged, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


def progress_bar(args: argparse.Namespace, total: int, unit: str) -> tqdm:
    """A tqdm bar on standard error: shown when asked (``--progress``) or when it is a terminal."""
    disable = None if args.progress is None else not args.progress  # None: tqdm's own terminal test
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=disable, leave=False, dynamic_ncols=True)


def run_loop(args: argparse.Namespace, data: tuple, net: TutorialCNN | None) -> int:
    """The tutorial's run: the loop layers, SGD, one image at a time."""
    if net is not None and not isinstance(net, TutorialCNN):
        raise CheckpointError(f"{args.load!r} holds a fast {net.name!r} model; add --model {net.name} to train it.")
    train_images, train_labels, test_images, test_labels = data
    lr = 0.005 if args.lr is None else args.lr
    start = time.perf_counter()
    with progress_bar(args, args.epochs * len(train_images), "img") as bar:
        net, history = train_tutorial(
            train_images, train_labels, test_images, test_labels, num_epochs=args.epochs, lr=lr,
            seed=args.seed, net=net, log=lambda line: bar.write(line, file=sys.stdout),
            on_step=lambda epoch, i: bar.update(1),
        )
    seconds = time.perf_counter() - start
    print(f"\nSummary: {args.epochs} epoch(s) on {len(train_images)} {args.data} training images, "
          f"lr {lr}, seed {args.seed}: test accuracy {history.test.accuracy:.3f} "
          f"(loss {history.test.loss:.3f}) on {len(test_images)} test images; {seconds:.1f} s.")
    return save_if_asked(net, args.save)


def run_fast(args: argparse.Namespace, data: tuple, model: Sequential | None) -> int:
    """A fast mini-batch recipe built from the options (``cnn_lib.fast.recipe``)."""
    train_images, train_labels, test_images, test_labels = data
    recipe = Recipe(model=args.model or "tutorial", optimizer=args.optimizer or "sgd", lr=args.lr,
                    lr_decay=args.lr_decay or 1.0, num_epochs=args.epochs, batch_size=args.batch_size or 64,
                    seed=args.seed, dtype=args.dtype or "float32", validation=args.validation or 0)
    if model is not None and model.config() != new_model(recipe)[0].config():
        raise CheckpointError(f"{args.load!r} holds a {type(model).__name__} that is not the {recipe.model} model "
                              f"in {recipe.dtype}; choose --model and --dtype to match it.")
    split_validation(recipe, train_images, train_labels)      # too many held out: say so before training
    described = model or new_model(recipe)[0]
    print(f"Fast {recipe.model} model ({described.num_params()} weights, {recipe.dtype}), {recipe.optimizer} "
          f"lr {recipe.learning_rate} (decay {recipe.lr_decay} per epoch), batch size {recipe.batch_size}", flush=True)
    n = len(train_images) - recipe.validation                  # the images trained on
    with progress_bar(args, recipe.num_epochs * n, "img") as bar:
        done = {"images": 0}

        def on_batch(epoch: int, images_done: int) -> None:
            total = epoch * n + images_done
            bar.update(total - done["images"])
            done["images"] = total

        model, history = run_recipe(recipe, train_images, train_labels, model=model,
                                    log=lambda line: bar.write(line, file=sys.stdout), on_batch=on_batch)
    test = evaluate(model, test_images, test_labels)
    print("\n--- Testing the CNN ---")
    print("Test Loss: %.4f" % test.loss)
    print("Test Accuracy: %.4f" % test.accuracy)
    speed = (f"{history.seconds:.1f} s training, {history.images_per_second:.0f} images/s"
             if history.images_per_second else "no training")
    held_out = f" ({recipe.validation} more held out for validation)" if recipe.validation else ""
    print(f"\nSummary: {recipe.num_epochs} epoch(s) on {n} {args.data} training images{held_out}; {recipe.command(args.data)}: "
          f"test accuracy {test.accuracy:.4f} (loss {test.loss:.4f}) on {len(test_images)} test images; {speed}.")
    return save_if_asked(model, args.save)


def save_if_asked(model, path: str | None) -> int:
    """Save ``model`` to ``path`` when one was given; return the command's exit status."""
    if path:
        try:
            path = save_checkpoint(model, path)
        except (CheckpointError, OSError) as error:
            print(f"error: could not save the checkpoint: {error}", file=sys.stderr)
            return EXIT_USER_ERROR
        print(f"Saved the weights to {path}")
    return 0
