"""Plots and displays shared by the notebooks, so no notebook copies another's code.

Every function returns the matplotlib ``Figure`` it made; the notebook shows
it with ``plt.show()`` and may export it with ``save_figure``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

DIGITS = list(range(10))


# Figures whose plotted data are dominated by floating-point round-off: the errors of central
# differences at tiny steps h (notebook 02) and the loss minus its tangent line near a kink of max
# (notebook 05). Their pixels change with the CPU and the BLAS library (the order in which a matrix
# product adds its terms), so a re-export need not give the same bytes. The notebooks export them like
# every other figure; tests/test_browser.py compares every other figure byte for byte and checks these
# only as PNGs of the committed size.
ROUNDOFF_FIGURES = ("02_softmax_backprop_h_sweep", "05_conv_backprop_kink")


def figures_dir() -> Path:
    """The repository's ``figures/`` folder (or ``./figures`` outside a checkout)."""
    repo_figures = Path(__file__).resolve().parent.parent / "figures"
    return repo_figures if repo_figures.is_dir() else Path.cwd() / "figures"


def save_figure(fig: plt.Figure, name: str) -> Path:
    """Save ``fig`` as ``figures/<name>.png``, byte-for-byte the same on every run of the same data.

    (The figures in ``ROUNDOFF_FIGURES`` plot round-off, whose data differ between machines.)
    """
    path = figures_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
    return path


def show_source(obj):
    """Display the source code of a ``cnn_lib`` function, class or method, highlighted.

    The notebooks show the library's code this way rather than copying it, so
    the text and the code cannot drift apart.
    """
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


def symmetric_limit(values: np.ndarray) -> float:
    """The largest absolute value, for colour scales centred on zero."""
    limit = float(np.max(np.abs(values)))
    return limit if limit > 0 else 1.0


def plot_digit(image: np.ndarray, title: str, ax: plt.Axes | None = None, colorbar: bool = True,
               unit: str = "pixel value") -> plt.Figure:
    """Show one grey-scale image (shape ``(h, w)``) with a labelled colour bar."""
    fig, ax = _figure_and_axes(ax, (3.6, 3.2))
    shown = ax.imshow(image, cmap="gray")
    ax.set_title(title)
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    if colorbar:
        fig.colorbar(shown, ax=ax, label=unit, fraction=0.046, pad=0.04)
    return fig


def plot_filters(filters: np.ndarray, title: str, limit: float | None = None,
                 unit: str = "weight", ncols: int | None = None) -> plt.Figure:
    """Show ``filters`` of shape ``(num_filters, k, k)`` side by side on one diverging scale
    (``ncols`` per row; default all in one row)."""
    limit = symmetric_limit(filters) if limit is None else limit
    return plot_image_grid(list(filters), [f"filter {f}" for f in range(len(filters))], title,
                           "RdBu_r", -limit, limit, unit, ncols, panel=(1.3, 1.9))


def plot_feature_maps(maps: np.ndarray, title: str, cmap: str = "RdBu_r",
                      unit: str = "activation", ncols: int | None = None) -> plt.Figure:
    """Show the channels of ``maps`` (shape ``(h, w, num_channels)``) on one shared scale
    (``ncols`` per row; default all in one row)."""
    limit = symmetric_limit(maps)
    vmin = -limit if cmap == "RdBu_r" else float(np.min(maps))
    channels = [maps[:, :, c] for c in range(maps.shape[2])]
    return plot_image_grid(channels, [f"map {c}" for c in range(len(channels))], title,
                           cmap, vmin, limit, unit, ncols, panel=(1.6, 2.1))


def plot_image_grid(images: list[np.ndarray], titles: list[str], title: str, cmap: str, vmin: float,
                    vmax: float, unit: str, ncols: int | None = None,
                    panel: tuple[float, float] = (1.6, 2.1)) -> plt.Figure:
    """Small images in a grid of ``ncols`` columns, one colour scale from ``vmin`` to ``vmax``
    labelled ``unit``; ``panel`` is the width of one panel and the height of one row, in inches."""
    ncols = len(images) if ncols is None else ncols
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols + 1, panel[1] * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, image, name in zip(axes.ravel(), images, titles):
        ax.set_axis_on()
        shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=axes, label=unit, fraction=0.02, pad=0.02)
    fig.suptitle(title, y=1.02)
    return fig


def plot_probabilities(probabilities: np.ndarray, label: int, title: str,
                       ax: plt.Axes | None = None) -> plt.Figure:
    """Bar chart of the 10 class probabilities, the true digit's bar highlighted."""
    fig, ax = _figure_and_axes(ax, (5, 2.8))
    colors = ["tab:orange" if digit == label else "tab:blue" for digit in DIGITS]
    ax.bar(DIGITS, probabilities, color=colors)
    ax.axhline(0.1, color="gray", linestyle="--", linewidth=1, label="uniform guess 1/10")
    ax.set_xticks(DIGITS)
    ax.set_xlabel(f"digit (orange: the true label {label})")
    ax.set_ylabel("probability")
    ax.set_ylim(0, max(0.2, float(np.max(probabilities)) * 1.1))
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: row = true digit, column = predicted digit."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (np.asarray(labels, dtype=int), np.asarray(predictions, dtype=int)), 1)
    return matrix


def plot_confusion_matrix(matrix: np.ndarray, title: str) -> plt.Figure:
    """Show a confusion matrix with its counts written in the cells."""
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    shown = ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if count > matrix.max() / 2 else "black")
    ax.set_xticks(DIGITS)
    ax.set_yticks(DIGITS)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, label="number of test images", fraction=0.046, pad=0.04)
    return fig


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each run of ``window`` consecutive values (length ``len(values) - window + 1``)."""
    values = np.asarray(values, dtype=float)
    if not 1 <= window <= len(values):
        raise ValueError(f"window must be between 1 and {len(values)}, but got {window}.")
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    return (cumulative[window:] - cumulative[:-window]) / window


def _figure_and_axes(ax: plt.Axes | None, figsize: tuple[float, float]) -> tuple[plt.Figure, plt.Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax
