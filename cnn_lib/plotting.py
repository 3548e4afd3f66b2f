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


#: Resolution of the exported figures: sharp enough to project in a classroom.
FIGURE_DPI = 150


def save_figure(fig: plt.Figure, name: str) -> Path:
    """Save ``fig`` as ``figures/<name>.png``, byte-for-byte the same on every run of the same data.

    (The figures in ``ROUNDOFF_FIGURES`` plot round-off, whose data differ between machines.)
    """
    path = figures_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight", metadata={"Software": None})
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
    (``ncols`` per row; default 4, so 8 maps fill two rows, each large enough to project)."""
    limit = symmetric_limit(maps)
    vmin = -limit if cmap == "RdBu_r" else float(np.min(maps))
    channels = [maps[:, :, c] for c in range(maps.shape[2])]
    ncols = min(4, len(channels)) if ncols is None else ncols
    return plot_image_grid(channels, [f"map {c}" for c in range(len(channels))], title,
                           cmap, vmin, limit, unit, ncols, panel=(2.4, 2.6))


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


def plot_pool_routing(conv_map: np.ndarray, routed: np.ndarray, title: str,
                      zoom_origin: tuple[int, int] = (2, 14), zoom_size: int = 8) -> plt.Figure:
    """Where a 2x2 max-pool sends its gradient, on one channel (notebook 04).

    - ``conv_map``: the max-pool input, shape ``(h, w)``; ``routed``: ``(h, w)``, 1 where the
      gradient goes (``d_L_d_input`` for ``d_L_d_out = 1``), else 0.
    - ``zoom_origin``: top-left ``(row, column)`` of the zoomed square (even: on the 2x2 grid).

    Three panels: the map, the routing mask with the 2x2 windows drawn (so that the maxima of
    neighbouring windows do not merge into blobs), and a zoom with every value printed.
    """
    r0, c0 = zoom_origin
    h, w = conv_map.shape
    limit = symmetric_limit(conv_map)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.4), gridspec_kw={"width_ratios": [1, 1, 1.15]})
    shown = axes[0].imshow(conv_map, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(shown, ax=axes[0], label="activation", fraction=0.046, pad=0.04)
    axes[1].imshow(routed, cmap="Greys", vmin=0, vmax=1)
    for k in range(0, max(h, w) + 1, 2):           # the 2x2 windows
        axes[1].axhline(k - 0.5, color="tab:gray", linewidth=0.5)
        axes[1].axvline(k - 0.5, color="tab:gray", linewidth=0.5)
    for ax, colour in ((axes[0], "black"), (axes[1], "tab:red")):
        ax.add_patch(plt.Rectangle((c0 - 0.5, r0 - 0.5), zoom_size, zoom_size, fill=False, edgecolor=colour, linewidth=2.5))
        ax.set(xlabel="column", ylabel="row")
    axes[0].set_title("max-pool input (square: the zoom)")
    axes[1].set_title("gradient d_L_d_input for d_L_d_out = 1\n(black: 1; grey grid: the 2x2 windows)")
    zoom = conv_map[r0:r0 + zoom_size, c0:c0 + zoom_size]
    axes[2].imshow(zoom, cmap="RdBu_r", vmin=-limit, vmax=limit,
                   extent=(c0 - 0.5, c0 + zoom_size - 0.5, r0 + zoom_size - 0.5, r0 - 0.5))
    for (a, b), value in np.ndenumerate(zoom):
        is_routed = routed[r0 + a, c0 + b] == 1
        axes[2].text(c0 + b, r0 + a, f"{value:.2f}", ha="center", va="center", fontsize=10,
                     fontweight="bold" if is_routed else "normal")
        if is_routed:
            axes[2].add_patch(plt.Rectangle((c0 + b - 0.45, r0 + a - 0.45), 0.9, 0.9, fill=False,
                                            edgecolor="black", linewidth=2))
    for k in range(zoom_size // 2 + 1):
        axes[2].axhline(r0 - 0.5 + 2 * k, color="white", linewidth=4)
        axes[2].axvline(c0 - 0.5 + 2 * k, color="white", linewidth=4)
    axes[2].set(title="zoom (white grid: the 2x2 windows)\nboxed, bold: receives the gradient",
                xlabel="column", ylabel="row")
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
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
