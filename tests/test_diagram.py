"""The network diagram of notebook 00 (``cnn_lib.diagram``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnn_lib import TutorialCNN, load_subset
from cnn_lib.diagram import TUTORIAL_SHAPES, draw_network, format_shape, tutorial_shapes


def figure_text(fig: plt.Figure) -> str:
    """Every piece of text drawn on the figure (titles included), one per line."""
    return "\n".join(text.get_text() for text in fig.findobj(plt.Text))


def test_the_documented_shapes_are_those_of_a_real_pass():
    images, labels, _, _ = load_subset()
    net = TutorialCNN(rng=np.random.default_rng(0))
    weights_before = {name: array.copy() for name, array in net.params().items()}
    assert tutorial_shapes(net, images[0], int(labels[0])) == TUTORIAL_SHAPES
    for name, array in net.params().items():  # one pass forward and back changes no weight
        np.testing.assert_array_equal(array, weights_before[name], err_msg=name)


def test_format_shape_prints_like_numpy():
    assert format_shape((26, 26, 8)) == "(26, 26, 8)"
    assert format_shape((10,)) == "(10,)"
    assert format_shape(np.zeros((13, 13, 8)).shape) == "(13, 13, 8)"


def test_the_diagram_labels_every_shape_forward_and_back():
    fig = draw_network()
    try:
        assert isinstance(fig, plt.Figure)
        text = figure_text(fig)
        for label in ["(28, 28)", "(26, 26, 8)", "(13, 13, 8)", "(1352,)", "(10,)",  # forward
                      "dL/dout\n(10,)", "dL/dpooled\n(13, 13, 8)", "dL/dconv\n(26, 26, 8)",  # backward
                      "dL/dfilters (8, 3, 3)", "dL/dw (1352, 10)", "dL/db (10,)",
                      "filters (8, 3, 3)", "weights (1352, 10)", "Conv3x3", "MaxPool2", "Softmax"]:
            assert label in text, f"{label!r} is not on the diagram"
    finally:
        plt.close(fig)


def test_the_diagram_draws_the_shapes_it_is_given():
    shapes = dict(TUTORIAL_SHAPES, conv=(30, 30, 16), d_L_d_conv=(30, 30, 16), filters=(16, 3, 3),
                  d_L_d_filters=(16, 3, 3))
    fig = draw_network(shapes)
    try:
        text = figure_text(fig)
        assert "(30, 30, 16)" in text and "dL/dfilters (16, 3, 3)" in text and "16 filters 3x3" in text
        assert "(26, 26, 8)" not in text
    finally:
        plt.close(fig)


def test_a_missing_shape_is_a_clear_error():
    shapes = {name: shape for name, shape in TUTORIAL_SHAPES.items() if name != "d_L_d_pooled"}
    with pytest.raises(KeyError, match="d_L_d_pooled"):
        draw_network(shapes)
    plt.close("all")
