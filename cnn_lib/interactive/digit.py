"""What the shipped networks make of one digit: probabilities, feature maps, saliency (the draw-a-digit widget).

- ``shipped_networks()``: the two networks trained on full MNIST that ship in ``cnn_lib.pretrained``
  (the tutorial's and the deep one), loaded once.
- ``read_digit(image)``: a ``DigitReading`` of a 28x28 digit: both networks' probabilities, the
  tutorial network's 8 feature maps and its saliency map (notebook 05, section 5).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..conv import Conv3x3
from ..digits import preprocess, require_images
from ..network import TutorialCNN
from ..training import copy_weights

NETWORKS = ("tutorial", "deep")


@functools.lru_cache(maxsize=1)
def shipped_networks() -> dict:
    """``{"tutorial": model, "deep": model}``, the shipped full-MNIST networks (``load_pretrained``)."""
    from ..pretrained import load_pretrained

    return {name: load_pretrained(name)[0] for name in NETWORKS}


@functools.lru_cache(maxsize=1)
def tutorial_loop_network() -> TutorialCNN:
    """The shipped tutorial network as the readable loop layers (``TutorialCNN``), in float64."""
    net = TutorialCNN(np.random.default_rng(0))
    copy_weights(shipped_networks()["tutorial"], net)
    return net


@dataclass
class DigitReading:
    """What the networks see in one digit.

    - ``image``: the digit, ``(28, 28)``, pixels 0..255.
    - ``probabilities``: ``{"tutorial": (10,), "deep": (10,)}``, each network's softmax output.
    - ``feature_maps``: ``(26, 26, 8)``, the tutorial network's convolution output.
    - ``saliency``: ``(28, 28)``, ``dL/dx`` for ``L = -ln p(predicted digit)`` of the tutorial network:
      positive (red) where brightening the pixel lowers its confidence, negative where it raises it.
    """

    image: np.ndarray
    probabilities: dict
    feature_maps: np.ndarray
    saliency: np.ndarray

    def prediction(self, network: str = "tutorial") -> int:
        """The digit ``network`` ("tutorial" or "deep") gives the highest probability."""
        return int(np.argmax(self.probabilities[network]))


def predict(image: np.ndarray) -> dict:
    """``{"tutorial": (10,), "deep": (10,)}``: each shipped network's probabilities for ``image`` ``(28, 28)``."""
    image = require_images(np.asarray(image)[np.newaxis], "image")
    return {name: model.predict_proba(image)[0].astype(np.float64) for name, model in shipped_networks().items()}


def feature_maps(image: np.ndarray) -> np.ndarray:
    """``(26, 26, 8)``: the shipped tutorial network's 8 filters slid over ``image`` ``(28, 28)``."""
    conv = Conv3x3(8, np.random.default_rng(0))
    conv.filters = tutorial_loop_network().conv.filters
    return conv.forward(preprocess(image))


def saliency(image: np.ndarray, label: int | None = None) -> np.ndarray:
    """``(28, 28)``: ``dL/dx``, ``L = -ln p(label)`` of the shipped tutorial network, for the scaled image x.

    ``label`` defaults to the network's own prediction. As in notebook 05, on pixels that feed a tied
    max-pool window (most of the flat background) the value is the tie rule's convention, not a slope.
    """
    net = tutorial_loop_network()
    out, _, _ = net.forward(image, 0)  # (the label given to forward only sets the loss it returns)
    label = int(np.argmax(out)) if label is None else label
    return net.backward(out, label)


def read_digit(image: np.ndarray) -> DigitReading:
    """Everything the draw-a-digit widget shows for ``image`` ``(28, 28)``, pixels 0..255."""
    image = require_images(np.asarray(image)[np.newaxis], "image")[0].astype(np.float64)
    probabilities = predict(image)
    return DigitReading(image=image, probabilities=probabilities, feature_maps=feature_maps(image),
                        saliency=saliency(image, int(np.argmax(probabilities["tutorial"]))))
