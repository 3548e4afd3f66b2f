"""The computations behind the notebooks' interactive widgets, as plain functions (issue 14).

Each widget in ``cnn_lib.interactive.widgets`` is a thin layer of ipywidgets over one of these:

- ``drawing``: strokes -> ink image -> an MNIST-like 28x28 digit (``rasterize_strokes``, ``mnist_like``);
- ``digit``: what the shipped networks make of a digit (``read_digit``: probabilities of both,
  feature maps and saliency of the tutorial's);
- ``windows``: the conv window of an output pixel forward, the pixels it sends gradient to backward
  (the 180-degree rotation of notebook 05), and max-pool routing under each tie rule (notebook 04);
- ``step_size``: the error of notebook 02's gradient check at a step ``h``;
- ``stepper``: the tutorial's training run, 100 steps at a time (notebook 06);
- ``svg``: the small pictures the widgets show (SVG, with a PNG inside for images).

None of these needs ipywidgets; ``widgets`` imports it when called.
"""

from .digit import DigitReading, predict, read_digit, saliency, shipped_networks
from .drawing import centre_of_mass, ink_box, mnist_like, rasterize_strokes
from .step_size import BiasGradientCheck
from .stepper import TrainingStepper
from .windows import conv_backward_stamp, conv_forward_window, conv_gather_window, pool_routing

__all__ = [
    "BiasGradientCheck", "DigitReading", "TrainingStepper", "centre_of_mass", "conv_backward_stamp",
    "conv_forward_window", "conv_gather_window", "ink_box", "mnist_like", "pool_routing", "predict",
    "rasterize_strokes", "read_digit", "saliency", "shipped_networks",
]
