"""A diagram of the tutorial's network, drawn with matplotlib (notebook 00).

One picture of the whole of notebooks 01-05: every array's shape on the way
forward (top) and every gradient's shape on the way back (bottom), with the
learned arrays and their gradients under the layers that own them.

- ``tutorial_shapes(net, image, label)`` runs one forward and one backward pass
  of a ``TutorialCNN`` and returns the shape of every array it made, by name;
- ``TUTORIAL_SHAPES`` is what it returns for a 28x28 digit and 8 filters;
- ``draw_network(shapes)`` draws the diagram from such a dict and returns the
  ``Figure`` (the notebook shows it and exports it with ``save_figure``).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

from .digits import preprocess
from .network import TutorialCNN

Shape = tuple[int, ...]

#: The shapes of one pass through ``TutorialCNN()`` on a 28x28 image (checked by notebook 00 and
#: tests/test_diagram.py against a real pass): forward arrays, learned arrays, and gradients.
TUTORIAL_SHAPES: dict[str, Shape] = {
    "image": (28, 28),
    "conv": (26, 26, 8),
    "pooled": (13, 13, 8),
    "flat": (1352,),
    "out": (10,),
    "filters": (8, 3, 3),
    "weights": (1352, 10),
    "biases": (10,),
    "d_L_d_out": (10,),
    "d_L_d_pooled": (13, 13, 8),
    "d_L_d_conv": (26, 26, 8),
    "d_L_d_image": (28, 28),
    "d_L_d_filters": (8, 3, 3),
    "d_L_d_weights": (1352, 10),
    "d_L_d_biases": (10,),
}

FORWARD_COLOUR = "black"
BACKWARD_COLOUR = "tab:red"
UNUSED_COLOUR = "0.6"


def tutorial_shapes(net: TutorialCNN, image: np.ndarray, label: int) -> dict[str, Shape]:
    """Run ``image`` (shape ``(28, 28)``, values 0..255) forward and back through ``net``, changing
    no weight, and return the shape of every array of the pass, with the keys of ``TUTORIAL_SHAPES``."""
    x = preprocess(image)
    conv = net.conv.forward(x)
    pooled = net.pool.forward(conv)
    out = net.softmax.forward(pooled)
    d_L_d_out = TutorialCNN.initial_gradient(out, label)
    d_L_d_pooled = net.softmax.backward(d_L_d_out)
    d_L_d_conv = net.pool.backward(d_L_d_pooled)
    d_L_d_image = net.conv.backward(d_L_d_conv)
    arrays = {
        "image": x, "conv": conv, "pooled": pooled, "flat": net.softmax.last_input, "out": out,
        "filters": net.conv.filters, "weights": net.softmax.weights, "biases": net.softmax.biases,
        "d_L_d_out": d_L_d_out, "d_L_d_pooled": d_L_d_pooled, "d_L_d_conv": d_L_d_conv,
        "d_L_d_image": d_L_d_image, "d_L_d_filters": net.conv.d_L_d_filters,
        "d_L_d_weights": net.softmax.d_L_d_weights, "d_L_d_biases": net.softmax.d_L_d_biases,
    }
    return {name: tuple(int(n) for n in array.shape) for name, array in arrays.items()}


def format_shape(shape: Shape) -> str:
    """A shape as NumPy prints it: ``(26, 26, 8)``, ``(10,)``."""
    return str(tuple(int(n) for n in shape))


def draw_network(shapes: Mapping[str, Shape] = TUTORIAL_SHAPES,
                 title: str = "The tutorial's CNN: what flows forward, and what flows back") -> plt.Figure:
    """Draw the network as boxes and arrows, labelled with the shapes in ``shapes``.

    - ``shapes``: the keys of ``TUTORIAL_SHAPES`` (e.g. from ``tutorial_shapes``), each a shape tuple.
    - Top row of arrows (black): the forward pass, the shape of each array between two layers.
    - Bottom row (red): the backward pass, dL/d(that array), from the loss back to the image.
      The first layer does not need dL/dimage: that arrow is grey and dashed.
    - Under the two layers with weights: the learned arrays and, in red, their gradients.
    Returns the ``Figure``.
    """
    missing = [name for name in TUTORIAL_SHAPES if name not in shapes]
    if missing:
        raise KeyError(f"draw_network needs the shape of every array of TUTORIAL_SHAPES; missing: {missing}")
    s = {name: format_shape(shape) for name, shape in shapes.items()}
    num_filters, filter_h, filter_w = shapes["filters"]
    fig, ax = plt.subplots(figsize=(14.6, 4.6))
    ax.set_xlim(0, 14.6)
    ax.set_ylim(0, 4.5)
    ax.set_axis_off()

    # Five boxes in a row: the image, the three layers, the loss: (title, detail, width).
    y, height, gap = 3.2, 1.3, 1.45
    boxes = [
        ("input x", f"{s['image']}\nimage / 255 \u2212 0.5", 1.75),
        ("Conv3x3", f"{num_filters} filters {filter_h}x{filter_w}\nvalid, stride 1", 1.75),
        ("MaxPool2", "max of each\n2x2 block", 1.55),
        ("Softmax", f"flatten to {s['flat']}\nt = input · w + b\nout = softmax(t)", 2.0),
        ("loss L", "\u2212ln out[c]\n(c: true digit)", 1.5),
    ]
    lefts = 0.1 + np.cumsum([0] + [width + gap for _, _, width in boxes[:-1]])
    for left, (name, detail, width) in zip(lefts, boxes):
        _box(ax, left, y - height / 2, width, height, "#eef3fa", "#4a6a94")
        ax.text(left + width / 2, y + 0.36, name, ha="center", va="center", fontsize=13, fontweight="bold")
        ax.text(left + width / 2, y - 0.2, detail, ha="center", va="center", fontsize=10, linespacing=1.3)

    # Arrows between neighbouring boxes: forward above the middle line, backward below it.
    forward = [("x", s["image"]), ("conv", s["conv"]), ("pooled", s["pooled"]), ("out", s["out"])]
    backward = [("dL/dimage", s["d_L_d_image"]), ("dL/dconv", s["d_L_d_conv"]),
                ("dL/dpooled", s["d_L_d_pooled"]), ("dL/dout", s["d_L_d_out"])]
    for k in range(4):
        start, end = lefts[k] + boxes[k][2] + 0.08, lefts[k + 1] - 0.08
        middle = (start + end) / 2
        _arrow(ax, (start, y + 0.25), (end, y + 0.25), FORWARD_COLOUR)
        ax.text(middle, y + 0.38, "\n".join(forward[k]), ha="center", va="bottom", fontsize=11,
                color=FORWARD_COLOUR, linespacing=1.25)
        unused = k == 0  # the first layer's input gradient: computable, but nothing uses it
        colour = UNUSED_COLOUR if unused else BACKWARD_COLOUR
        _arrow(ax, (end, y - 0.25), (start, y - 0.25), colour, dashed=unused)
        label = "\n".join(backward[k]) + ("\n(not needed)" if unused else "")
        ax.text(middle, y - 0.38, label, ha="center", va="top", fontsize=11, color=colour, linespacing=1.25)

    # The learned arrays under the two layers that own them, each with its gradient (red).
    params = {1: [("filters", "d_L_d_filters", "dL/dfilters")],
              3: [("weights", "d_L_d_weights", "dL/dw"), ("biases", "d_L_d_biases", "dL/db")]}
    for k, names in params.items():
        centre = lefts[k] + boxes[k][2] / 2
        width = 2.3 * len(names)
        ax.plot([centre, centre], [y - height / 2 - 0.04, 1.45], color="#4a6a94", linewidth=1.5)
        _box(ax, centre - width / 2, 0.55, width, 0.9, "white", "#4a6a94")
        ax.text(centre, 1.18, ",  ".join(f"{name} {s[name]}" for name, _, _ in names),
                ha="center", va="center", fontsize=11)
        ax.text(centre, 0.8, ",  ".join(f"{label} {s[key]}" for _, key, label in names),
                ha="center", va="center", fontsize=11, color=BACKWARD_COLOUR)

    ax.text(7.3, 0.12, "black: the forward pass, with the shape of each array.   red: the backward pass, "
            "the gradient of the loss L (same shape as its array).   Below: the learned arrays.",
            ha="center", va="center", fontsize=10, color="0.3")
    ax.set_title(title, fontsize=14)
    return fig


def _box(ax: plt.Axes, left: float, bottom: float, width: float, height: float, face: str,
         edge: str) -> None:
    ax.add_patch(FancyBboxPatch((left, bottom), width, height, boxstyle="round,pad=0.03,rounding_size=0.12",
                                facecolor=face, edgecolor=edge, linewidth=1.5))


def _arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float], colour: str,
           dashed: bool = False) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.6, "mutation_scale": 16,
                            "linestyle": "--" if dashed else "-", "shrinkA": 0, "shrinkB": 0})
