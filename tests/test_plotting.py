"""The shared plotting helpers the notebooks use."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnn_lib import Softmax, plotting


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    matrix = plotting.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], num_classes=3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_moving_average():
    np.testing.assert_allclose(plotting.moving_average([1, 2, 3, 4], 2), [1.5, 2.5, 3.5])
    with pytest.raises(ValueError, match="window must be between 1 and 4"):
        plotting.moving_average([1, 2, 3, 4], 5)


def test_saved_figures_are_the_same_bytes_every_time(tmp_path, monkeypatch):
    monkeypatch.setattr(plotting, "figures_dir", lambda: tmp_path)
    images = []
    for _ in range(2):
        fig = plotting.plot_filters(np.random.default_rng(0).standard_normal((8, 3, 3)), "filters")
        images.append(plotting.save_figure(fig, "check").read_bytes())
        plt.close(fig)
    assert images[0] == images[1]
    assert images[0][:8] == b"\x89PNG\r\n\x1a\n"


def test_show_source_displays_the_library_code():
    code = plotting.show_source(Softmax.forward)
    assert "def forward(self, input" in code.data


def test_figures_are_exported_at_classroom_resolution(tmp_path, monkeypatch):
    """150 dpi or more: a figure projected in a classroom stays readable."""
    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    from cnn_lib import plotting

    monkeypatch.setattr(plotting, "figures_dir", lambda: tmp_path)
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    path = plotting.save_figure(fig, "resolution")
    plt.close(fig)
    assert plotting.FIGURE_DPI >= 150
    height, width = imread(path).shape[:2]
    assert width >= 4 * 150 * 0.8 and height >= 2 * 150 * 0.8   # bbox_inches="tight" trims a little
