"""Small pictures for the widgets, as SVG text: quick to make (no matplotlib figure), and readable in the page.

- ``image_svg(values, ...)``: an array as a picture (a PNG inside the SVG, one square per entry),
  with optional boxes drawn round entries and numbers written on them.
- ``curve_svg(curves, ...)``: lines on linear or log axes, with an optional marked point.

Every box and marked point carries ``data-*`` attributes saying what it shows (e.g.
``data-box="3,4,3,3"`` for rows 3-5, columns 4-6), so a browser test can read the picture back.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np


def png_data_uri(values: np.ndarray, cmap: str = "gray", vmin: float | None = None,
                 vmax: float | None = None) -> str:
    """``values`` ``(h, w)`` as a PNG, one pixel per entry, coloured by the matplotlib colormap ``cmap``."""
    from matplotlib import colormaps
    from PIL import Image

    values = np.asarray(values, dtype=float)
    low = float(np.nanmin(values)) if vmin is None else vmin
    high = float(np.nanmax(values)) if vmax is None else vmax
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    rgba = (colormaps[cmap](np.clip(scaled, 0, 1)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_svg(values: np.ndarray, cmap: str = "gray", vmin: float | None = None, vmax: float | None = None,
              pixel: int = 8, boxes=(), numbers: np.ndarray | None = None, title: str = "",
              name: str = "", grid: bool = False) -> str:
    """An SVG of ``values`` ``(h, w)``, each entry a ``pixel`` x ``pixel`` square.

    - ``boxes``: ``(row, col, height, width, colour)`` rectangles round entries.
    - ``numbers``: ``(h, w)`` array of strings (``""`` for none) written on the entries.
    - ``title``: a line of text above the picture; ``name``: its ``data-name`` attribute.
    - ``grid``: thin grey lines between the entries.
    """
    height, width = np.shape(values)
    top = 16 if title else 0
    page_width = max(width * pixel, int(6.5 * len(title)))  # room for the title
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{page_width}" height="{height * pixel + top}" '
             f'data-name="{html.escape(name)}" style="margin: 2px 6px">']
    if title:
        parts.append(f'<text x="0" y="12" font-size="12" font-family="sans-serif">{html.escape(title)}</text>')
    parts.append(f'<image x="0" y="{top}" width="{width * pixel}" height="{height * pixel}" '
                 f'preserveAspectRatio="none" style="image-rendering: pixelated" '
                 f'href="{png_data_uri(values, cmap, vmin, vmax)}"/>')
    if grid:
        for row in range(height + 1):
            parts.append(f'<line x1="0" y1="{top + row * pixel}" x2="{width * pixel}" y2="{top + row * pixel}" stroke="#ccc"/>')
        for col in range(width + 1):
            parts.append(f'<line x1="{col * pixel}" y1="{top}" x2="{col * pixel}" y2="{top + height * pixel}" stroke="#ccc"/>')
    if numbers is not None:
        for (row, col), text in np.ndenumerate(numbers):
            if text:
                parts.append(f'<text x="{(col + 0.5) * pixel}" y="{top + (row + 0.5) * pixel}" '
                             f'font-size="{min(pixel * 0.42, 15):.0f}" '
                             f'text-anchor="middle" dominant-baseline="central" font-family="sans-serif">'
                             f'{html.escape(str(text))}</text>')
    for row, col, box_height, box_width, colour in boxes:
        parts.append(f'<rect x="{col * pixel}" y="{top + row * pixel}" width="{box_width * pixel}" '
                     f'height="{box_height * pixel}" fill="none" stroke="{colour}" stroke-width="2" '
                     f'data-box="{row},{col},{box_height},{box_width}"/>')
    parts.append("</svg>")
    return "".join(parts)


def curve_svg(curves: dict, log_x: bool = False, log_y: bool = False, point: tuple[float, float] | None = None,
              x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
              width: int = 420, height: int = 240, x_label: str = "", y_label: str = "", name: str = "") -> str:
    """An SVG line plot: ``curves`` maps a label to ``(xs, ys)``; ``point`` ``(x, y)`` is marked by a red dot.

    Each curve is a ``<polyline data-curve=label data-points=N>``; the dot is ``<circle data-x data-y>``.
    """
    margin_left, margin_right, margin_top, margin_bottom = 56, 12, 10, 34
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
    transform_x = np.log10 if log_x else (lambda v: np.asarray(v, dtype=float))
    transform_y = np.log10 if log_y else (lambda v: np.asarray(v, dtype=float))
    all_x = np.concatenate([np.asarray(xs, dtype=float) for xs, _ in curves.values()] or [np.zeros(1)])
    all_y = np.concatenate([np.asarray(ys, dtype=float) for _, ys in curves.values()] or [np.zeros(1)])
    x_low, x_high = x_range or (float(all_x.min()), float(all_x.max()))
    y_low, y_high = y_range or (float(all_y.min()), float(all_y.max()))
    x_low, x_high = float(transform_x(x_low)), float(transform_x(x_high))
    y_low, y_high = float(transform_y(y_low)), float(transform_y(y_high))
    x_high, y_high = max(x_high, x_low + 1e-12), max(y_high, y_low + 1e-12)
    plot_width, plot_height = width - margin_left - margin_right, height - margin_top - margin_bottom

    def to_page(xs, ys):
        px = margin_left + (transform_x(xs) - x_low) / (x_high - x_low) * plot_width
        py = margin_top + (1 - (transform_y(ys) - y_low) / (y_high - y_low)) * plot_height
        return px, py

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" data-name="{html.escape(name)}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect x="{margin_left}" y="{margin_top}" width="{plot_width}" height="{plot_height}" fill="white" stroke="#999"/>']
    for value, anchor in ((x_low, "start"), (x_high, "end")):
        text = f"1e{value:.0f}" if log_x else f"{value:g}"
        parts.append(f'<text x="{margin_left + (value - x_low) / (x_high - x_low) * plot_width}" '
                     f'y="{height - margin_bottom + 13}" text-anchor="{anchor}">{text}</text>')
    for value in (y_low, y_high):
        text = f"1e{value:.0f}" if log_y else f"{value:.2g}"
        y = margin_top + (1 - (value - y_low) / (y_high - y_low)) * plot_height
        parts.append(f'<text x="{margin_left - 4}" y="{y + 4}" text-anchor="end">{text}</text>')
    parts.append(f'<text x="{margin_left + plot_width / 2}" y="{height - 4}" text-anchor="middle">{html.escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{margin_top + plot_height / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {margin_top + plot_height / 2})">{html.escape(y_label)}</text>')
    for number, (label, (xs, ys)) in enumerate(curves.items()):
        px, py = to_page(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px, py))
        colour = colours[number % len(colours)]
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5" '
                     f'data-curve="{html.escape(label)}" data-points="{len(px)}"/>')
        parts.append(f'<text x="{margin_left + 6}" y="{margin_top + 14 + 13 * number}" fill="{colour}">{html.escape(label)}</text>')
    if point is not None:
        px, py = to_page(np.array([point[0]]), np.array([point[1]]))
        parts.append(f'<circle cx="{px[0]:.1f}" cy="{py[0]:.1f}" r="5" fill="#d62728" '
                     f'data-x="{point[0]:.3g}" data-y="{point[1]:.3g}"/>')
    parts.append("</svg>")
    return "".join(parts)
