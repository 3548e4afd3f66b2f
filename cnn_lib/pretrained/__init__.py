"""Networks trained on full MNIST, shipped with the package, and the recipes that made them.

Training the deep network takes over 2 minutes on two cores, too long to
repeat each time notebook 08 runs (and the tutorial's network at one image per
step, Zhou's own full-MNIST comparison, about as long). So the weights are trained once with a
``Recipe`` (every setting, the seed included), saved in this folder
(``<name>.npz`` with a training record ``<name>.json``) and loaded by the
notebook; a test retrains each recipe and checks it reproduces the shipped
weights. To retrain by hand::

    python -m cnn_lib.pretrained deep        # or: tutorial, tutorial-batch1; add --out PATH.npz

which runs exactly what ``RECIPES["deep"].command()`` does on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..atomic_write import atomic_write
from ..checkpoint import load_checkpoint, save_checkpoint
from ..fast.models import Sequential
from ..fast.recipe import Recipe, run_recipe
from ..fast.training import FitHistory
from ..require import require_choice

PRETRAINED_DIR = Path(__file__).resolve().parent

RECIPES = {
    "tutorial": Recipe(model="tutorial", optimizer="momentum", lr=0.05, lr_decay=0.85, num_epochs=20, validation=5000),
    "deep": Recipe(model="deep", optimizer="adam", lr=0.002, lr_decay=0.7, num_epochs=10, validation=5000),
    # Zhou's own comparison: his network in Keras on full MNIST, one image per step, SGD 0.005, 3 epochs
    "tutorial-batch1": Recipe(model="tutorial", optimizer="sgd", lr=0.005, num_epochs=3, batch_size=1),
}


#: The settings each shipped mini-batch recipe was chosen from: ``(lr, lr_decay)`` pairs, everything
#: else as in ``RECIPES``. The one with the best validation accuracy after the last epoch (then the
#: lowest validation loss) is the recipe; ``<name>-selection.json`` records them all (notebook 08).
CANDIDATES = {
    "tutorial": ((0.05, 0.85), (0.05, 1.0), (0.02, 0.85), (0.1, 0.85)),
    "deep": ((0.001, 0.7), (0.001, 1.0), (0.002, 0.7), (0.0005, 0.7)),
}


def candidate_recipes(name: str) -> list[Recipe]:
    """The recipes ``RECIPES[name]`` was chosen from (``CANDIDATES``)."""
    return [dataclasses.replace(RECIPES[name], lr=lr, lr_decay=decay)
            for lr, decay in CANDIDATES[require_choice("name", name, tuple(CANDIDATES))]]


def selection_path(name: str) -> Path:
    """Where the validation results of ``name``'s candidate recipes live."""
    return PRETRAINED_DIR / f"{require_choice('name', name, tuple(CANDIDATES))}-selection.json"


def select_recipe(name: str, train_images: np.ndarray, train_labels: np.ndarray, log=None) -> list[dict]:
    """Train every candidate recipe of ``name`` on ``train_images`` ``(n, 28, 28)`` less the validation
    images it holds out; one row per candidate (its recipe and command, the validation loss and
    accuracy after every epoch), best first. The test images are not touched."""
    rows = []
    for recipe in candidate_recipes(name):
        if log:
            log(recipe.command())
        _, history = run_recipe(recipe, train_images, train_labels, log=log)
        rows.append({"recipe": asdict(recipe), "command": recipe.command(),
                     "validation_loss": history.validation_loss, "validation_accuracy": history.validation_accuracy})
    return sorted(rows, key=lambda row: (-row["validation_accuracy"][-1], row["validation_loss"][-1]))


def load_selection(name: str) -> list[dict]:
    """The shipped validation results of ``name``'s candidate recipes, best first (``select_recipe``)."""
    return json.loads(selection_path(name).read_text())


def checkpoint_path(name: str) -> Path:
    """Where the shipped weights of recipe ``name`` live."""
    return PRETRAINED_DIR / f"{require_choice('name', name, tuple(RECIPES))}.npz"


def record_path(name: str) -> Path:
    """Where the shipped training record of recipe ``name`` lives."""
    return checkpoint_path(name).with_suffix(".json")


def train_recipe(name: str, train_images: np.ndarray, train_labels: np.ndarray,
                 log=None) -> tuple[Sequential, FitHistory]:
    """Train recipe ``name`` on ``train_images`` ``(n, 28, 28)`` exactly as the command line does."""
    return run_recipe(RECIPES[require_choice("name", name, tuple(RECIPES))], train_images, train_labels, log=log)


def load_pretrained(name: str) -> tuple[Sequential, dict]:
    """The shipped network ``name`` and its training record.

    The record (a dict) holds the recipe, the per-epoch training loss and
    accuracy, the per-batch losses, and the test accuracy measured when it was
    trained.
    """
    model = load_checkpoint(checkpoint_path(name))
    record = json.loads(record_path(name).read_text())
    return model, record


def save_pretrained(name: str, model: Sequential, history: FitHistory, test_accuracy: float,
                    out: Path | None = None) -> Path:
    """Write ``model``'s weights and its training record for recipe ``name``."""
    path = Path(out) if out is not None else checkpoint_path(name)
    save_checkpoint(model, path)
    record = {
        "recipe": asdict(RECIPES[name]),
        "command": RECIPES[name].command(),
        "epoch_loss": history.epoch_loss,
        "epoch_accuracy": history.epoch_accuracy,
        "epoch_lr": history.epoch_lr,
        "schedule": history.schedule,
        "batch_loss": [round(float(loss), 6) for loss in history.batch_loss],
        "validation_loss": history.validation_loss,
        "validation_accuracy": history.validation_accuracy,
        "test_accuracy": test_accuracy,
    }
    with atomic_write(path.with_suffix(".json")) as file:
        file.write((json.dumps(record, indent=1) + "\n").encode())
    return path


def main(argv: list[str] | None = None) -> int:
    from ..data import load_full
    from ..evaluation import evaluate

    parser = argparse.ArgumentParser(prog="python -m cnn_lib.pretrained",
                                     description="Retrain a shipped network on full MNIST from its recipe.")
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--out", type=Path, help="where to write the .npz (default: the shipped file)")
    parser.add_argument("--select", action="store_true",
                        help="instead, train every candidate recipe and write their validation results "
                             "(<name>-selection.json); the test images are not used")
    args = parser.parse_args(argv)
    train_images, train_labels, test_images, test_labels = load_full()
    if args.select:
        rows = select_recipe(args.name, train_images, train_labels, log=lambda line: print(line, flush=True))
        with atomic_write(selection_path(args.name)) as file:
            file.write((json.dumps(rows, indent=1) + "\n").encode())
        print(f"Best on the validation images: {rows[0]['command']}; wrote {selection_path(args.name)}")
        return 0
    print(RECIPES[args.name].command(), flush=True)
    model, history = train_recipe(args.name, train_images, train_labels, log=lambda line: print(line, flush=True))
    accuracy = evaluate(model, test_images, test_labels).accuracy
    path = save_pretrained(args.name, model, history, accuracy, args.out)
    print(f"Test accuracy {accuracy:.4f}; wrote {path} and {path.with_suffix('.json')}")
    return 0
