"""How good is a model on a set of images? One answer for every model of both families."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .digits import require_dataset


@dataclass
class Evaluation:
    """A model's results on ``n`` images.

    - ``probabilities``: shape ``(n, 10)``; ``predictions``: shape ``(n,)``, the most probable digits.
    - ``losses``: shape ``(n,)``, cross-entropy ``-ln p[label]`` per image.
    - ``loss``: their mean; ``accuracy``: the fraction predicted right.
    """

    probabilities: np.ndarray
    predictions: np.ndarray
    losses: np.ndarray
    loss: float
    accuracy: float


def evaluate(model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Run ``model`` (any model: ``TutorialCNN`` or a fast ``Sequential``) on ``images``
    ``(n, 28, 28)`` and compare with ``labels`` ``(n,)``. Changes nothing in the model's
    weights or gradients."""
    images, labels = require_dataset(images, labels, "test")
    probabilities = np.asarray(model.predict_proba(images))
    picked = probabilities[np.arange(len(labels)), labels].astype(np.float64)
    # A probability that rounded to 0 would give an infinite loss; the smallest float stands in.
    losses = -np.log(np.maximum(picked, np.finfo(probabilities.dtype).tiny))
    predictions = np.argmax(probabilities, axis=1)
    return Evaluation(probabilities=probabilities, predictions=predictions, losses=losses,
                      loss=float(np.mean(losses)), accuracy=float(np.mean(predictions == labels)))
