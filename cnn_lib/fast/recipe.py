"""A training recipe: every setting of a mini-batch run, and the one function that runs it.

The command line (``python -m cnn_lib train --batch-size ...``) and the
shipped pretrained networks (``cnn_lib.pretrained``) both run a ``Recipe``
through ``run_recipe``, so the same settings give the same weights either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..require import require_choice, require_count, require_dtype, require_positive_int
from .models import MODELS, Sequential
from .optim import DEFAULT_LR, OPTIMIZERS, ExponentialDecay, make_optimizer
from .training import FitHistory, fit


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a mini-batch training run, the seed included.

    ``lr=None`` means the optimiser's default (``DEFAULT_LR``). ``validation``: how many of
    the *last* training images to hold out, and score after every epoch instead of training
    on them (0: train on all).
    """

    model: str = "tutorial"
    optimizer: str = "sgd"
    lr: float | None = None
    lr_decay: float = 1.0
    num_epochs: int = 3
    batch_size: int = 64
    seed: int = 0
    dtype: str = "float32"
    validation: int = 0

    def __post_init__(self):
        require_choice("model", self.model, tuple(MODELS))
        require_choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        require_count("num_epochs", self.num_epochs)
        require_positive_int("batch_size", self.batch_size)
        require_count("seed", self.seed)
        require_dtype(self.dtype)
        require_count("validation", self.validation)
        make_optimizer(self.optimizer, self.lr)     # checks lr
        ExponentialDecay(self.lr_decay)             # checks lr_decay

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr

    def command(self, data: str = "full") -> str:
        """The equivalent ``python -m cnn_lib train`` command line."""
        return (f"python -m cnn_lib train --data {data} --model {self.model} --optimizer {self.optimizer} "
                f"--lr {self.learning_rate} --lr-decay {self.lr_decay} --epochs {self.num_epochs} "
                f"--batch-size {self.batch_size} --dtype {self.dtype} --seed {self.seed}"
                + (f" --validation {self.validation}" if self.validation else ""))


def new_model(recipe: Recipe) -> tuple[Sequential, np.random.Generator]:
    """The recipe's untrained model and the generator that drew it (it goes on to shuffle)."""
    rng = np.random.default_rng(recipe.seed)
    return MODELS[recipe.model](rng, np.dtype(recipe.dtype)), rng


def split_validation(recipe: Recipe, images: np.ndarray, labels: np.ndarray) -> tuple[tuple, tuple | None]:
    """``((train_images, train_labels), validation)``: the last ``recipe.validation`` images held out
    as ``validation = (images, labels)`` (``None`` when the recipe holds none out)."""
    if not recipe.validation:
        return (images, labels), None
    if recipe.validation >= len(images):
        raise ValueError(f"the recipe holds out {recipe.validation} images for validation, but there are only "
                         f"{len(images)} training images; hold out fewer.")
    kept = len(images) - recipe.validation
    return (images[:kept], labels[:kept]), (images[kept:], labels[kept:])


def run_recipe(recipe: Recipe, train_images: np.ndarray, train_labels: np.ndarray,
               model: Sequential | None = None, log: Callable[[str], None] | None = None,
               on_batch: Callable[[int, int], None] | None = None) -> tuple[Sequential, FitHistory]:
    """Train by ``recipe`` on ``train_images`` ``(n, 28, 28)`` and ``train_labels`` ``(n,)``.

    One ``np.random.default_rng(recipe.seed)`` draws the initial weights, then
    each epoch's shuffle: the same recipe and data give the same weights.
    ``model``: start from these weights instead (e.g. loaded from a checkpoint);
    it must be the recipe's kind of model. With ``recipe.validation``, the last
    that many images are held out and scored after every epoch (``history.validation_*``).
    """
    fresh, rng = new_model(recipe)
    model = fresh if model is None else model
    (train_images, train_labels), validation = split_validation(recipe, train_images, train_labels)
    history = fit(model, train_images, train_labels, batch_size=recipe.batch_size,
                  num_epochs=recipe.num_epochs, optimizer=make_optimizer(recipe.optimizer, recipe.lr),
                  schedule=ExponentialDecay(recipe.lr_decay), rng=rng, log=log, on_batch=on_batch,
                  validation=validation)
    return model, history
