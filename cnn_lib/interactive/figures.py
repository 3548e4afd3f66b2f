"""The static figure beside the draw-a-digit widget: what the widget shows, for one scripted drawing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..plotting import symmetric_limit
from .digit import NETWORKS, DigitReading

#: A 4 drawn in two strokes on the widget's 280x280 canvas, (x, y) points as mouse events give them.
EXAMPLE_STROKES = [[(95, 40), (80, 100), (65, 165), (210, 160)], [(165, 60), (160, 150), (152, 250)]]


def plot_digit_reading(ink: np.ndarray, reading: DigitReading) -> plt.Figure:
    """Top: the drawing ``ink`` ``(h, w)``, the MNIST-like digit, both networks' probabilities, the saliency
    map; bottom: the tutorial network's 8 feature maps (``reading`` from ``read_digit``)."""
    fig = plt.figure(figsize=(15, 5.6))
    grid = fig.add_gridspec(2, 8, height_ratios=[1.5, 1], hspace=0.45, wspace=0.35)
    panels = [fig.add_subplot(grid[0, 0:2]), fig.add_subplot(grid[0, 2:4]), fig.add_subplot(grid[0, 4:6]),
              fig.add_subplot(grid[0, 6:8])]
    panels[0].imshow(ink, cmap="gray")
    panels[0].set_title("drawn on the canvas\n(280x280 pixels)")
    panels[1].imshow(reading.image, cmap="gray", vmin=0, vmax=255)
    panels[1].set_title("MNIST-like 28x28 input:\n20x20 box, centred by mass")
    for offset, name in zip((-0.2, 0.2), NETWORKS):
        panels[2].bar(np.arange(10) + offset, reading.probabilities[name], width=0.4,
                      label=f"{name} network: {reading.prediction(name)}")
    panels[2].set(xticks=range(10), xlabel="digit", ylabel="probability", ylim=(0, 1.05), title="what the networks read")
    panels[2].legend(fontsize=8, loc="upper left")
    limit = symmetric_limit(reading.saliency)
    panels[3].imshow(reading.saliency, cmap="RdBu_r", vmin=-limit, vmax=limit)
    panels[3].contour(reading.image, levels=[128], colors="black", linewidths=0.6)
    panels[3].set_title(f"saliency for {reading.prediction()}\n(red: more ink, less sure)")
    for ax in (panels[0], panels[1], panels[3]):
        ax.set_xticks([])
        ax.set_yticks([])
    limit = symmetric_limit(reading.feature_maps)
    for f in range(8):
        ax = fig.add_subplot(grid[1, f])
        ax.imshow(reading.feature_maps[:, :, f], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"feature map {f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
