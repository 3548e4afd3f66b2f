"""Networks trained on full MNIST, shipped with the package, and the recipes that made them.

Training the deep network takes about 1.5 minutes on two cores, too long to
repeat each time notebook 08 runs. So the weights are trained once with a
*recipe* (every setting, the seed included), saved next to this module, and
loaded by the notebook; a test retrains each recipe and checks it reproduces
the shipped weights. To retrain by hand::

    python -m cnn_lib.pretrained deep        # or: tutorial; add --out PATH.npz

which runs the same as the command line
``python -m cnn_lib train --data full --model deep --optimizer adam --lr 0.001
--lr-decay 0.7 --epochs 10 --batch-size 64 --seed 0``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint, save_checkpoint
from .models import MODELS, FitHistory, Sequential, fit
from .optim import make_optimizer

PRETRAINED_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run on full MNIST (60,000 training images)."""

    model: str
    optimizer: str
    lr: float
    lr_decay: float
    num_epochs: int
    batch_size: int = 64
    seed: int = 0
    dtype: str = "float32"

    def command(self) -> str:
        """The equivalent ``python -m cnn_lib train`` command line."""
        return (f"python -m cnn_lib train --data full --model {self.model} --optimizer {self.optimizer} "
                f"--lr {self.lr} --lr-decay {self.lr_decay} --epochs {self.num_epochs} "
                f"--batch-size {self.batch_size} --dtype {self.dtype} --seed {self.seed}")


RECIPES = {
    "tutorial": Recipe(model="tutorial", optimizer="momentum", lr=0.05, lr_decay=0.85, num_epochs=20),
    "deep": Recipe(model="deep", optimizer="adam", lr=0.001, lr_decay=0.7, num_epochs=10),
}


def checkpoint_path(name: str) -> Path:
    """Where the shipped weights of recipe ``name`` live (``pretrained_<name>.npz``)."""
    _check_name(name)
    return PRETRAINED_DIR / f"pretrained_{name}.npz"


def history_path(name: str) -> Path:
    """Where the shipped training history of recipe ``name`` lives (``pretrained_<name>.json``)."""
    _check_name(name)
    return PRETRAINED_DIR / f"pretrained_{name}.json"


def train_recipe(name: str, train_images: np.ndarray, train_labels: np.ndarray,
                 log=None) -> tuple[Sequential, FitHistory]:
    """Train recipe ``name`` on ``train_images`` ``(n, 28, 28)`` exactly as the command line does.

    One ``np.random.default_rng(seed)`` draws the initial weights, then each
    epoch's shuffle: the same recipe and data give the same weights.
    """
    recipe = RECIPES[_check_name(name)]
    rng = np.random.default_rng(recipe.seed)
    model = MODELS[recipe.model](rng, np.dtype(recipe.dtype))
    optimizer = make_optimizer(recipe.optimizer, recipe.lr)
    history = fit(model, train_images, train_labels, batch_size=recipe.batch_size,
                  num_epochs=recipe.num_epochs, optimizer=optimizer, rng=rng, log=log,
                  lr_decay=recipe.lr_decay)
    return model, history


def load_pretrained(name: str) -> tuple[Sequential, dict]:
    """The shipped network ``name`` and its training record.

    The record (a dict) holds the recipe, the per-epoch training loss and
    accuracy, the per-batch losses, and the test accuracy measured when it was
    trained.
    """
    model = load_checkpoint(checkpoint_path(name))
    record = json.loads(history_path(name).read_text())
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
        "batch_loss": [round(float(loss), 6) for loss in history.batch_loss],
        "test_accuracy": test_accuracy,
    }
    path.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return path


def _check_name(name: str) -> str:
    if name not in RECIPES:
        raise ValueError(f"no pretrained network called {name!r}; choose one of {sorted(RECIPES)}.")
    return name


def main(argv: list[str] | None = None) -> int:
    from .data import load_full
    from .models import evaluate

    parser = argparse.ArgumentParser(prog="python -m cnn_lib.pretrained",
                                     description="Retrain a shipped network on full MNIST from its recipe.")
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--out", type=Path, help="where to write the .npz (default: the shipped file)")
    args = parser.parse_args(argv)
    train_images, train_labels, test_images, test_labels = load_full()
    print(RECIPES[args.name].command(), flush=True)
    model, history = train_recipe(args.name, train_images, train_labels, log=lambda line: print(line, flush=True))
    accuracy = evaluate(model, test_images, test_labels).accuracy
    path = save_pretrained(args.name, model, history, accuracy, args.out)
    print(f"Test accuracy {accuracy:.4f}; wrote {path} and {path.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
