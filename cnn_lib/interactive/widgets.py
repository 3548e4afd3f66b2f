"""The notebooks' interactive widgets: thin ipywidgets layouts over ``cnn_lib.interactive``'s functions.

Each function returns a ``WidgetView``: it displays as the widget in JupyterLab, and as one stable
line of text elsewhere (a static page, nbval), and its ``state`` says what the view shows now, so a
notebook cell can check the view against the library. Each view's pictures are SVG in an ``HTML``
widget, and its text a ``data-*``-tagged line, which the browser tests read back.

- ``draw_digit()``: a canvas to draw on; the MNIST-like 28x28 digit, both shipped networks'
  probabilities, the feature maps and the saliency map (notebook 06).
- ``conv_window_explorer()``: an output pixel's 3x3 window forward, the pixels it sends gradient to
  backward, and the same gradient gathered through the rotated filter (notebook 05).
- ``pool_routing_explorer(conv_maps)``: a max-pool window, where its gradient goes, ties, the tie rule (04).
- ``step_size_explorer(check)``: a slider over h on notebook 02's error-versus-h curve.
- ``training_stepper(stepper)``: play, pause and one step through the tutorial's run (06).
"""

from __future__ import annotations

import html
import json

import numpy as np

from .digit import read_digit
from .drawing import mnist_like, rasterize_strokes
from .step_size import H_RANGE, BiasGradientCheck
from .stepper import TrainingStepper
from .svg import curve_svg, image_svg
from ..require import require_array, require_number, require_positive_int
from .windows import require_position, conv_backward_stamp, conv_forward_window, conv_gather_window, pool_routing


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError:
        raise ImportError("the interactive widgets need ipywidgets: pip install ipywidgets ipycanvas, "
                          "or install the project's lab extra: pip install -e '.[lab]'") from None
    return ipywidgets


class WidgetView:
    """An ipywidgets ``box`` with a fixed text form (``text``) and ``state``, a dict of what it shows now."""

    def __init__(self, box, text: str):
        self.box, self.text, self.state = box, text, {}

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.text  # instead of the widget's repr, which holds its changing values
        return bundle

    def __repr__(self) -> str:
        return self.text


def _line(text: str, **data) -> str:
    attributes = "".join(f' data-{key}="{html.escape(str(value))}"' for key, value in data.items())
    return f'<div class="cnn-line"{attributes} style="font-family: sans-serif; margin: 4px 0">{html.escape(text)}</div>'


# --- draw a digit ------------------------------------------------------------------------------------------

def draw_digit(strokes=(), size: int = 280, line_width: float = 20.0) -> WidgetView:
    """Draw with the mouse; on release the digit is read by both shipped networks (``read_digit``).

    ``strokes``: a drawing to start with (lists of ``(x, y)`` points, as ``rasterize_strokes`` takes)."""
    widgets = _ipywidgets()
    try:
        from ipycanvas import Canvas
    except ImportError:
        raise ImportError("drawing a digit needs ipycanvas: pip install ipycanvas, "
                          "or install the project's lab extra: pip install -e '.[lab]'") from None
    canvas = Canvas(width=size, height=size, layout=widgets.Layout(width=f"{size}px", height=f"{size}px"))
    canvas.add_class("cnn-draw-canvas")
    clear = widgets.Button(description="clear", icon="eraser")
    clear.add_class("cnn-draw-clear")
    shown = widgets.HTML()
    shown.add_class("cnn-draw-reading")
    view = WidgetView(widgets.VBox([widgets.HBox([canvas, shown]), clear]),
                      "[draw-a-digit widget: draw with the mouse in JupyterLab; the figure above shows the same views]")
    start_with, strokes = [list(stroke) for stroke in strokes], []
    drawing = [False]

    def paint_background():
        canvas.fill_style = "black"
        canvas.fill_rect(0, 0, size, size)
        canvas.stroke_style, canvas.fill_style = "white", "white"
        canvas.line_width, canvas.line_cap, canvas.line_join = line_width, "round", "round"

    def show():
        view.state = {"strokes": [list(s) for s in strokes]}
        if not strokes:
            shown.value = _line("Draw a digit on the black square (press, move, release).", prediction="none")
            return
        digit = mnist_like(rasterize_strokes(strokes, size, line_width))
        reading = read_digit(digit)
        view.state.update(digit=digit, reading=reading)
        shown.value = _draw_digit_html(reading, strokes)

    def down(x, y):
        drawing[0] = True
        strokes.append([(float(x), float(y))])
        canvas.fill_circle(x, y, line_width / 2)

    def move(x, y):
        if drawing[0]:
            last = strokes[-1][-1]
            strokes[-1].append((float(x), float(y)))
            canvas.stroke_line(last[0], last[1], x, y)

    def up(x, y):
        if drawing[0]:
            drawing[0] = False
            show()

    def clear_all(_button=None):
        strokes.clear()
        canvas.clear()
        paint_background()
        show()

    canvas.on_mouse_down(down)
    canvas.on_mouse_move(move)
    canvas.on_mouse_up(up)
    canvas.on_mouse_out(up)
    clear.on_click(clear_all)
    clear_all()
    for stroke in start_with:
        down(*stroke[0])
        for point in stroke[1:]:
            move(*point)
        drawing[0] = False
    if start_with:
        show()
    return view


def _draw_digit_html(reading, strokes) -> str:
    rows = []
    for name in ("tutorial", "deep"):
        p = reading.probabilities[name]
        bars = "".join(f'<span title="{k}: {p[k]:.3f}" style="display:inline-block; width:14px; margin-right:2px; '
                       f'text-align:center; font-size:10px">{k}<br><span style="display:inline-block; width:12px; '
                       f'height:{1 + 40 * p[k]:.0f}px; background:#1f77b4"></span></span>' for k in range(10))
        rows.append(f'<div class="cnn-prediction" data-network="{name}" data-prediction="{reading.prediction(name)}" '
                    f'data-probability="{p.max():.4f}" style="font-family:sans-serif; margin:2px 0">'
                    f'{name} network: <b>{reading.prediction(name)}</b> (p = {p.max():.3f})'
                    f'<div style="display:flex; align-items:flex-end">{bars}</div></div>')
    limit = max(float(np.abs(reading.saliency).max()), 1e-12)
    maps = reading.feature_maps
    grid = np.concatenate([np.pad(maps[:, :, f], 1, constant_values=np.nan) for f in range(8)], axis=1)
    return ("<div style='display:flex; flex-wrap:wrap; gap:4px'>"
            + image_svg(reading.image, "gray", 0, 255, pixel=5, title="input, 28x28", name="digit")
            + image_svg(reading.saliency, "RdBu_r", -limit, limit, pixel=5, title="saliency",
                        name="saliency")
            + "</div>" + "".join(rows)
            + image_svg(grid, "RdBu_r", -np.nanmax(np.abs(maps)), np.nanmax(np.abs(maps)), pixel=2,
                        title="the tutorial network's 8 feature maps", name="feature-maps")
            + f'<div class="cnn-strokes" data-strokes="{html.escape(json.dumps(strokes))}" hidden></div>')


# --- convolution: the window forward, the stamp backward, the rotated filter -------------------------------

def conv_window_explorer(filter_: np.ndarray | None = None, input_shape: tuple[int, int] = (7, 7),
                         i: int = 0, j: int = 0, pixel: int = 1) -> WidgetView:
    """Sliders for an output pixel ``(i, j)`` and one ``pixel`` (1-9, reading order) of its window.

    The defaults are notebook 05's demo: the filter 1..9 and a 7x7 input."""
    widgets = _ipywidgets()
    filter_ = np.arange(1.0, 10.0).reshape(3, 3) if filter_ is None else np.asarray(filter_, dtype=float)
    out_shape = (input_shape[0] - 2, input_shape[1] - 2)
    conv_forward_window(i, j, out_shape)  # (checks i and j)
    wide = {"style": {"description_width": "initial"}}
    i = widgets.IntSlider(i, 0, out_shape[0] - 1, description="output row i", **wide)
    j = widgets.IntSlider(j, 0, out_shape[1] - 1, description="output col j", **wide)
    k = widgets.IntSlider(pixel, 1, 9, description="stamped pixel 1-9", **wide)
    for slider, name in ((i, "i"), (j, "j"), (k, "k")):
        slider.add_class(f"cnn-conv-{name}")
    shown = widgets.HTML()
    shown.add_class("cnn-conv-view")
    view = WidgetView(widgets.VBox([widgets.HBox([i, j, k]), shown]),
                      "[conv window explorer: move the sliders in JupyterLab; the figure above shows the same views]")

    def show(_change=None):
        a, b = divmod(k.value - 1, 3)
        view.state = _conv_state(i.value, j.value, a, b, filter_, input_shape)
        shown.value = _conv_html(view.state, filter_, input_shape)

    for slider in (i, j, k):
        slider.observe(show, "value")
    show()
    return view


def _conv_state(i, j, a, b, filter_, input_shape) -> dict:
    out_shape = (input_shape[0] - 2, input_shape[1] - 2)
    m, n = i + a, j + b
    return {"output": (i, j), "window": conv_forward_window(i, j, out_shape),
            "stamp": conv_backward_stamp(i, j, filter_, input_shape), "pixel": (m, n),
            "gather": conv_gather_window(m, n, out_shape)}


def _conv_html(state, filter_, input_shape) -> str:
    (i, j), (m, n) = state["output"], state["pixel"]
    out_shape = (input_shape[0] - 2, input_shape[1] - 2)
    weights = np.full(input_shape, "", dtype=object)
    for p in state["window"]:
        weights[p.row, p.col] = f"×{filter_[p.a, p.b]:g}"
    one_hot = np.zeros(out_shape)
    one_hot[i, j] = 1
    stamp_numbers = np.where(state["stamp"] != 0, np.vectorize(lambda v: f"{v:g}")(state["stamp"]), "")
    padded = np.pad(one_hot, 2)
    rotated = np.rot90(filter_, 2)
    gather_numbers = np.full(padded.shape, "", dtype=object)
    for a in range(3):
        for b in range(3):
            gather_numbers[m + a, n + b] = f"×{rotated[a, b]:g}"
    received = sum(one_hot[p.row, p.col] * rotated[p.a, p.b] for p in state["gather"])
    pictures = [
        image_svg(np.zeros(input_shape), "Greys", 0, 1, pixel=30, boxes=[(i, j, 3, 3, "#d62728")], numbers=weights,
                  title=f"forward: out[{i}, {j}] reads", name="forward", grid=True),
        image_svg(one_hot, "Greys", 0, 2, pixel=30, boxes=[(i, j, 1, 1, "#d62728")],
                  title=f"d_L_d_out: 1 at ({i}, {j})", name="d_L_d_out", grid=True),
        image_svg(state["stamp"], "Blues", 0, 2 * filter_.max(), pixel=30, boxes=[(m, n, 1, 1, "#2ca02c")],
                  numbers=stamp_numbers, title="d_L_d_input: filter stamped", name="stamp", grid=True),
        image_svg(padded, "Greys", 0, 2, pixel=24, boxes=[(m, n, 3, 3, "#2ca02c")], numbers=gather_numbers,
                  title=f"({m}, {n}) gathers: rotated filter", name="gather", grid=True),
    ]
    text = (f"output ({i}, {j}) reads input rows {i}-{i + 2}, columns {j}-{j + 2}; backward it sends the filter "
            f"unrotated to the same pixels. Pixel ({m}, {n}) gathers {received:g} = d_L_d_input[{m}, {n}] "
            f"through the filter rotated by 180°.")
    return ("<div style='display:flex; flex-wrap:wrap; gap:8px; align-items:flex-start'>" + "".join(pictures)
            + "</div>" + _line(text, output=f"{i},{j}", pixel=f"{m},{n}", received=f"{received:g}"))


# --- max-pool routing ------------------------------------------------------------------------------------

def pool_routing_explorer(conv_maps: np.ndarray, channel: int = 5, I: int = 0, J: int = 0) -> WidgetView:
    """Sliders for a channel and a window ``(I, J)`` of ``conv_maps`` ``(h, w, channels)``, and the tie rule."""
    widgets = _ipywidgets()
    conv_maps = require_array(conv_maps, "conv_maps", 3, "(h, w, channels): the max-pool's input, every channel")
    channel = require_position("channel", channel, conv_maps.shape[2])
    pool_routing(conv_maps[:, :, channel], I, J)  # (checks I and J)
    wide = {"style": {"description_width": "initial"}}
    channel_slider = widgets.IntSlider(channel, 0, conv_maps.shape[2] - 1, description="channel", **wide)
    I_slider = widgets.IntSlider(I, 0, conv_maps.shape[0] // 2 - 1, description="window row I", **wide)
    J_slider = widgets.IntSlider(J, 0, conv_maps.shape[1] // 2 - 1, description="window col J", **wide)
    ties = widgets.ToggleButtons(options=["first", "all"], value="first", description="ties")
    for control, name in ((channel_slider, "channel"), (I_slider, "I"), (J_slider, "J"), (ties, "ties")):
        control.add_class(f"cnn-pool-{name}")
    shown = widgets.HTML()
    shown.add_class("cnn-pool-view")
    view = WidgetView(widgets.VBox([widgets.HBox([channel_slider, I_slider, J_slider]), ties, shown]),
                      "[max-pool routing explorer: move the sliders in JupyterLab; the figure above shows the same]")

    def show(_change=None):
        conv_map = conv_maps[:, :, channel_slider.value]
        routing = pool_routing(conv_map, I_slider.value, J_slider.value, ties.value)
        view.state = {"channel": channel_slider.value, "routing": routing}
        limit = max(float(np.abs(conv_map).max()), 1e-12)
        row, col = 2 * routing.I, 2 * routing.J
        numbers = np.vectorize(lambda v: f"{v:.3f}")(routing.values)
        receivers = [(r, c, 1, 1, "black") for r, c in zip(*np.nonzero(routing.receives))]
        maximum = [(r, c, 1, 1, "#ff7f0e") for r, c in zip(*np.nonzero(routing.is_max & (routing.receives == 0)))]
        shown.value = (
            "<div style='display:flex; gap:12px; align-items:flex-start'>"
            + image_svg(conv_map, "RdBu_r", -limit, limit, pixel=9, boxes=[(row, col, 2, 2, "black")],
                        title=f"channel {channel_slider.value}, window ({routing.I}, {routing.J})", name="map")
            + image_svg(routing.values, "RdBu_r", -limit, limit, pixel=70, numbers=numbers, boxes=maximum + receivers,
                        title="black: gets it; orange: tied, gets none", name="window")
            + "</div>" + _line(routing.describe(), window=f"{routing.I},{routing.J}", ties=routing.ties,
                               receivers=int(routing.receives.sum()), tied=int(routing.is_max.sum())))

    for control in (channel_slider, I_slider, J_slider, ties):
        control.observe(show, "value")
    show()
    return view


# --- the step h of a gradient check ----------------------------------------------------------------------

def step_size_explorer(check: BiasGradientCheck, hs: np.ndarray | None = None, h: float = 1e-4) -> WidgetView:
    """A log slider over h; the dot on the error-versus-h curve of ``check`` (notebook 02) follows it."""
    widgets = _ipywidgets()
    h = require_number("h", h, low=H_RANGE[0], high=H_RANGE[1])
    hs = np.logspace(np.log10(H_RANGE[0]), np.log10(H_RANGE[1]), 37) if hs is None else np.asarray(hs)
    curve = check.curve(hs)
    slider = widgets.FloatLogSlider(value=h, base=10, min=np.log10(H_RANGE[0]), max=np.log10(H_RANGE[1]),
                                    step=0.25, description="step h", readout_format=".0e")
    slider.add_class("cnn-h-slider")
    shown = widgets.HTML()
    shown.add_class("cnn-h-view")
    view = WidgetView(widgets.VBox([slider, shown]),
                      "[step-size explorer: move the slider in JupyterLab; the figure above shows the same curve]")

    def show(_change=None):
        error = check.error_at(slider.value)
        view.state = {"h": slider.value, "error": error}
        floor = max(float(curve.min()), 1e-16) / 3
        shown.value = (curve_svg({"real layer, d_L_d_b": (hs, np.maximum(curve, floor))}, log_x=True, log_y=True,
                                 point=(slider.value, max(error, floor)), x_label="step h",
                                 y_label="worst relative error", name="h-curve")
                       + _line(f"h = {slider.value:.1e}: worst relative error {error:.1e}",
                               h=f"{slider.value:.3g}", error=f"{error:.3g}"))

    slider.observe(show, "value")
    show()
    return view


# --- step through training -------------------------------------------------------------------------------

def training_stepper(stepper: TrainingStepper, max_blocks: int = 30, interval_ms: int = 400) -> WidgetView:
    """Play / pause / one step through ``stepper`` (100 images a step); the loss curve and the filters follow."""
    widgets = _ipywidgets()
    max_blocks, interval_ms = require_positive_int("max_blocks", max_blocks), require_positive_int("interval_ms", interval_ms)
    play = widgets.Play(value=0, min=0, max=max_blocks, step=1, interval=interval_ms, description="play")
    play.add_class("cnn-train-play")
    one_step = widgets.Button(description="one step (100 images)", icon="step-forward",
                              layout=widgets.Layout(width="auto"))
    one_step.add_class("cnn-train-step")
    shown = widgets.HTML()
    shown.add_class("cnn-train-view")
    view = WidgetView(widgets.VBox([widgets.HBox([play, one_step]), shown]),
                      "[training stepper: press play or step in JupyterLab; the figures above show the whole run]")

    def show():
        view.state = {"steps": stepper.steps, "curve_loss": list(stepper.curve_loss), "filters": stepper.filters}
        xs, ys = [0] + stepper.curve_step, [np.log(10)] + stepper.curve_loss   # the curve starts at ln 10
        limit = float(np.abs(np.concatenate([stepper.filters, stepper.initial_filters])).max())
        filters = np.concatenate([np.pad(f, 1, constant_values=np.nan) for f in stepper.filters], axis=1)
        last = (f"after {stepper.steps} steps (epoch {(stepper.steps - 1) // len(stepper.images) + 1}): "
                f"loss of the last 100 {stepper.curve_loss[-1]:.3f}, accuracy {stepper.curve_accuracy[-1]:.0%}"
                if stepper.curve_loss else "not trained yet: press play or one step")
        shown.value = (curve_svg({"loss, average of 100 steps": (xs, ys)}, x_range=(0, max(1000, xs[-1])),
                                 y_range=(0, 2.5), x_label="training step", y_label="loss (nats)", name="loss-curve")
                       + image_svg(filters, "RdBu_r", -limit, limit, pixel=12, title="the 8 filters now",
                                   name="filters")
                       + _line(last, steps=stepper.steps, points=len(stepper.curve_loss)))

    def advance(_change=None):
        stepper.step()
        show()

    def on_play(change):
        if change["new"] > change["old"]:  # a tick forward (not the stop button's rewind to 0)
            advance()

    play.observe(on_play, "value")
    one_step.on_click(advance)
    show()
    return view
