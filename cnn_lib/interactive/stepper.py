"""The tutorial's training run, one log line at a time (the step-through-training widget, notebook 06).

``TrainingStepper`` takes exactly the steps of ``train_tutorial(..., seed, fast=True)``: the same
initial weights and shuffles from one ``np.random.default_rng(seed)``, one SGD step per image. Each
call of ``step()`` trains the next ``REPORT_EVERY`` (100) images, the block the tutorial's log line
averages, and adds one point to the loss curve; ``filters`` are the conv filters as they are now.
"""

from __future__ import annotations

import numpy as np

from ..digits import require_dataset
from ..network import TutorialCNN
from ..require import require_learning_rate
from ..training import REPORT_EVERY, fast_twin


class TrainingStepper:
    """The tutorial's run, paused between blocks of ``REPORT_EVERY`` steps.

    - ``train_images`` ``(n, 28, 28)``, ``train_labels`` ``(n,)``; ``n`` a multiple of ``REPORT_EVERY``.
    - ``seed``, ``lr``: as ``train_tutorial``'s.
    - ``curve_step``, ``curve_loss``, ``curve_accuracy``: one entry per block trained, as
      ``History.window_step`` etc.; ``filters``: ``(8, 3, 3)``, now; ``initial_filters``: before step 1.
    """

    def __init__(self, train_images: np.ndarray, train_labels: np.ndarray, seed: int = 0, lr: float = 0.005):
        self.images, self.labels = require_dataset(train_images, train_labels, "training")
        if len(self.images) % REPORT_EVERY:
            raise ValueError(f"the stepper trains blocks of {REPORT_EVERY} images, so it needs a multiple of "
                             f"{REPORT_EVERY} training images, but got {len(self.images)}. Pass e.g. the first "
                             f"{len(self.images) // REPORT_EVERY * REPORT_EVERY or REPORT_EVERY}.")
        self.lr = require_learning_rate(lr, "lr")
        self.rng = np.random.default_rng(seed)
        net = TutorialCNN(self.rng)                   # drawn first, as in train_tutorial
        self.initial_filters = net.conv.filters.copy()
        self.model = fast_twin(net)                  # the batched twin takes the same steps, faster
        self.steps = 0                               # images trained so far
        self.order = np.arange(0)                    # this epoch's shuffled order
        self.curve_step: list[int] = []
        self.curve_loss: list[float] = []
        self.curve_accuracy: list[float] = []

    @property
    def filters(self) -> np.ndarray:
        """The conv filters now, ``(8, 3, 3)``."""
        return self.model.params()["0.filters"][..., 0].copy()

    @property
    def epoch(self) -> int:
        """The epoch the next step belongs to, from 1."""
        return self.steps // len(self.images) + 1

    def step(self) -> float:
        """Train the next ``REPORT_EVERY`` images; returns their average loss (the new curve point)."""
        n = len(self.images)
        if self.steps % n == 0:                      # a new epoch: shuffle, as train_tutorial does
            self.order = self.rng.permutation(n)
        start = self.steps % n
        total_loss, correct = 0.0, 0
        for index in self.order[start:start + REPORT_EVERY]:
            loss, right = self.model.train(self.images[index], int(self.labels[index]), self.lr)
            total_loss += loss
            correct += right
        self.steps += REPORT_EVERY
        self.curve_step.append(self.steps)
        self.curve_loss.append(total_loss / REPORT_EVERY)
        self.curve_accuracy.append(correct / REPORT_EVERY)
        return self.curve_loss[-1]
