"""The notebooks' widgets, driven in JupyterLab in headless Chromium as a reader would (issue 14).

One JupyterLab server (serving a temporary copy of ``notebooks/``) and one Chromium for all widgets. For
each notebook with a widget the test opens it, clears its outputs and runs only the code cells the widget
needs (``CELLS_TO_RUN``: all cells above it, or a named few for 06, whose full run takes over a minute),
then works the widget with the mouse and keyboard and checks what the view shows against the library,
computed here in the test process:

- 02: arrow keys on the h slider; the dot's h and the error shown are ``BiasGradientCheck.error_at(h)``;
- 04: arrow keys on the window slider, a click on the tie rule; the routing shown is ``pool_routing``'s;
- 05: arrow keys on the output and pixel sliders; the window, the stamp and the gathered value follow;
- 06: *one step* and *play* grow the loss curve by the points ``TrainingStepper`` gives; *clear*, then a
  stroke drawn with mouse events on the canvas: the predictions shown are the shipped networks' for the
  stroke the kernel received, replayed through ``rasterize_strokes`` and ``mnist_like``, and that stroke
  is the one the mouse drew.

Each interaction's response time (from the browser event to the first change of the widget's view, by a
``MutationObserver``) goes to ``test-artifacts/browser/widgets.txt``, and a screenshot of each widget in
use to ``test-artifacts/browser/widget-*.png``. The times are reported, not asserted.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

try:
    import lab_browser
    from test_browser import unavailable
except ImportError:  # imported as part of a package
    from . import lab_browser
    from .test_browser import unavailable

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
TIMINGS = ARTIFACTS / "widgets.txt"

# Which code cells to run before working a notebook's widgets: "above" (every code cell up to the last
# widget cell), or the cells whose source contains one of these strings (plus the widget cells).
CELLS_TO_RUN = {
    "02_softmax_backprop.ipynb": "above",
    "04_maxpool_backprop.ipynb": ["conv_out = net.conv.forward(preprocess(image))", "mask = pool.backward(np.ones_like(pooled))",
                                  "f = 5"],
    "05_conv_backprop.ipynb": ["train_images, train_labels, test_images, test_labels = load_subset()",
                               "stamped = demo_conv.backward(one_hot)"],
    "06_training_the_cnn.ipynb": ["train_images, train_labels, test_images, test_labels = load_subset()",
                                  "initial_filters = initial_net.conv.filters.copy()"],
}

# Run code cells one by one through JupyterLab's own command, each waiting for its reply.
RUN_CELLS_JS = """
async (indices) => {
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  for (const index of indices) {
    notebook.activeCellIndex = index;
    notebook.deselectAll();
    await app.commands.execute('notebook:run-cell');
  }
}
"""

# Arm a timer: from the next `event` (capture phase, anywhere) to the first change inside `selector`.
ARM_JS = """
([selector, event]) => {
  const view = document.querySelector(selector);
  window.__t0 = null;
  window.__latency = null;
  const start = () => { if (window.__t0 === null) window.__t0 = performance.now(); };
  document.addEventListener(event, start, {capture: true, once: true});
  const observer = new MutationObserver(() => {
    if (window.__t0 !== null && window.__latency === null) {
      window.__latency = performance.now() - window.__t0;
      observer.disconnect();
    }
  });
  observer.observe(view, {childList: true, subtree: true, characterData: true, attributes: true});
}
"""


class Timings:
    """Response times of the interactions, in ms, written to ``widgets.txt`` as they come."""

    def __init__(self, path: Path):
        self.path, self.rows = path, []
        path.write_text("Widget response times in JupyterLab, headless Chromium: from the browser event "
                        "(key, click, mouse up) to the first change of the widget's view.\n")

    def add(self, widget: str, action: str, ms: float) -> None:
        self.rows.append((widget, action, ms))
        with open(self.path, "a") as out:
            out.write(f"{widget:28} {action:44} {ms:7.0f} ms\n")

    def summary(self) -> None:
        times = np.array([ms for _, _, ms in self.rows])
        with open(self.path, "a") as out:
            out.write(f"{len(times)} interactions: median {np.median(times):.0f} ms, max {times.max():.0f} ms, "
                      f"{np.mean(times < 200):.0%} under 200 ms\n")


# Close the open notebook (if any) without a save dialog, then open `path` in the same JupyterLab page.
SWITCH_JS = """
async (path) => {
  const app = window.jupyterapp;
  await app.restored;
  for (const widget of Array.from(app.shell.widgets('main'))) {
    if (widget.context) { widget.context.model.dirty = false; }
    widget.dispose();
  }
  await app.commands.execute('docmanager:open', {path: path, factory: 'Notebook'});
}
"""


class Session:
    """One JupyterLab server and one page in Chromium, reused for every notebook (a page loads JupyterLab
    in several seconds on a busy machine; switching notebooks in it takes a fraction of that)."""

    def __init__(self, lab, browser, timings):
        self.lab, self.browser, self.timings = lab, browser, timings
        self.errors: list[str] = []
        self.page = browser.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(f"{lab.url}/lab?reset&token={lab.token}", timeout=90_000)
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the playwright package is missing: python3 tasks.py test installs it")
    if not lab_browser.find_chromium():
        unavailable("install chromium: apt-get install chromium")
    pytest.importorskip("ipycanvas", reason="the widgets need the lab extra: pip install -e '.[lab]'")
    work = tmp_path_factory.mktemp("widgets")
    site = work / "site"
    shutil.copytree(REPO_ROOT / "notebooks", site / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    timings = Timings(TIMINGS)
    with lab_browser.JupyterLab(site, work / "lab") as lab:
        with lab_browser.chromium(work) as browser:
            session = Session(lab, browser, timings)
            yield session
    if timings.rows:
        timings.summary()
    with open(TIMINGS, "a") as out:  # JavaScript errors in the page (JupyterLab's own, usually): listed, not failed on
        out.writelines(f"(page error) {error.splitlines()[0][:200]}\n" for error in session.errors)


def open_and_run(session, name: str):
    """Open notebook ``name``, clear its outputs, run the cells its widgets need; returns the page."""
    import nbformat

    notebook = nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4)
    widget_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "widget" in c.metadata.get("tags", [])]
    plan = CELLS_TO_RUN[name]
    if plan == "above":
        to_run = [i for i, c in enumerate(notebook.cells[:widget_cells[-1] + 1]) if c.cell_type == "code"]
    else:
        to_run = sorted({i for i, c in enumerate(notebook.cells) if c.cell_type == "code"
                         and any(needle in c.source for needle in plan)} | set(widget_cells))
    page = session.page
    session.lab.shut_down_kernels()                                   # the previous notebook's
    path = f"notebooks/{name}"
    opened = time.monotonic()
    page.evaluate(SWITCH_JS, path)
    page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Notebook-cell').length === n",
                           arg=len(notebook.cells), timeout=90_000)
    problem = lab_browser.wait_for_kernel_idle(page, session.lab, path, time.monotonic() + 90)
    assert problem is None, problem
    lab_browser.click_menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-OutputArea-output').length === 0",
                           timeout=10_000)
    started = time.monotonic()
    page.evaluate(RUN_CELLS_JS, to_run)
    deadline = time.monotonic() + 180
    while True:
        model = page.evaluate(lab_browser.MODEL_JS)
        cells = [model["cells"][i] for i in to_run]
        failed = [(i, o.get("ename"), o.get("evalue")) for i, c in zip(to_run, cells) for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not failed, f"{name}: cells raised {failed}"
        if all(isinstance(c.get("execution_count"), int) for c in cells):
            break
        assert time.monotonic() < deadline, f"{name}: the cells {to_run} did not finish within 180 s"
        time.sleep(0.3)
    print(f"{name}: opened with an idle kernel in {started - opened:.0f} s, ran {len(to_run)} code cells "
          f"in {time.monotonic() - started:.0f} s")
    return page, session.errors


def timed(session, page, widget: str, action: str, view: str, event: str, do, until: str, arg=None) -> None:
    """Arm the timer on ``view``, ``do()`` the interaction, wait for ``until`` (JS, true when the view is
    updated), and record the time from ``event`` to the view's first change."""
    page.evaluate(ARM_JS, [view, event])
    do()
    page.wait_for_function(until, arg=arg, timeout=20_000)
    page.wait_for_function("() => window.__latency !== null", timeout=5_000)
    session.timings.add(widget, action, page.evaluate("() => window.__latency"))


def line_data(page, view: str) -> dict:
    """The ``data-*`` attributes of the view's text line (``cnn_lib.interactive.widgets._line``)."""
    return page.evaluate("sel => Object.assign({}, document.querySelector(sel + ' .cnn-line').dataset)", view)


def shoot(page, selector: str, name: str) -> None:
    """A screenshot of the cell holding ``selector``, in use."""
    cell = page.locator(".jp-Cell", has=page.locator(selector)).first
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    cell.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))


def press(page, slider: str, key: str, times: int = 1):
    """Focus the handle of the ipywidgets slider with class ``slider`` and press ``key``."""
    handle = page.locator(f".{slider} .noUi-handle").first
    handle.focus()
    for _ in range(times):
        page.keyboard.press(key)


@pytest.fixture(scope="module")
def subset():
    from cnn_lib import load_subset

    return load_subset()


def test_step_size_slider_moves_the_point_on_the_curve(session, subset):
    from cnn_lib.interactive import BiasGradientCheck

    page, errors = open_and_run(session, "02_softmax_backprop.ipynb")
    check = BiasGradientCheck(subset[0][0], int(subset[1][0]))
    view = ".cnn-h-view"
    page.wait_for_selector(f"{view} .cnn-line")
    assert line_data(page, view)["h"] == "0.0001"
    for target in ("1e-05", "1e-06", "1e-07", "1e-08"):               # four steps of 0.25 decades each
        for quarter in range(4):
            timed(session, page, "02 h slider", f"ArrowLeft towards h = {target}", view, "keydown",
                  lambda: press(page, "cnn-h-slider", "ArrowLeft"),
                  "([sel, n]) => document.querySelector(sel + ' .cnn-line').dataset.h !== n",
                  [view, line_data(page, view)["h"]])
        shown = line_data(page, view)
        assert float(shown["h"]) == pytest.approx(float(target), rel=1e-9)
        assert shown["error"] == f"{check.error_at(float(target)):.3g}"     # the library's value at that h
        dot = page.evaluate(f"() => document.querySelector('{view} circle').dataset.x")
        assert float(dot) == pytest.approx(float(target), rel=1e-2)
    shoot(page, view, "02-step-size")


def test_pool_routing_follows_the_window_and_the_tie_rule(session, subset):
    from cnn_lib import TutorialCNN, preprocess
    from cnn_lib.interactive import pool_routing

    page, errors = open_and_run(session, "04_maxpool_backprop.ipynb")
    conv_map = TutorialCNN(np.random.default_rng(0)).conv.forward(preprocess(subset[0][0]))[:, :, 5]
    view = ".cnn-pool-view"
    page.wait_for_selector(f"{view} .cnn-line")
    seen_ties = set()
    for key, slider, times in (("ArrowRight", "cnn-pool-J", 5), ("ArrowRight", "cnn-pool-I", 5),
                               ("ArrowLeft", "cnn-pool-J", 5)):
        for _ in range(times):
            before = line_data(page, view)["window"]
            timed(session, page, "04 max-pool routing", f"{key} on {slider.split('-')[-1]}", view, "keydown",
                  lambda: press(page, slider, key),
                  "([sel, w]) => document.querySelector(sel + ' .cnn-line').dataset.window !== w", [view, before])
            I, J = map(int, line_data(page, view)["window"].split(","))
            expected = pool_routing(conv_map, I, J, "first")
            assert page.inner_text(f"{view} .cnn-line") == expected.describe()
            assert page.locator(f"{view} svg[data-name=map] rect[data-box='{2 * I},{2 * J},2,2']").count() == 1
            seen_ties.add(expected.tied)
    assert (I, J) == (5, 0) and pool_routing(conv_map, I, J).tied       # a background window: the rules differ
    for rule in ("all", "first"):
        timed(session, page, "04 max-pool routing", f"tie rule -> {rule}", view, "click",
              lambda: page.locator(".cnn-pool-ties button", has_text=rule).click(),
              "([sel, r]) => document.querySelector(sel + ' .cnn-line').dataset.ties === r", [view, rule])
        expected = pool_routing(conv_map, I, J, rule)
        shown = line_data(page, view)
        assert page.inner_text(f"{view} .cnn-line") == expected.describe()
        assert int(shown["receivers"]) == int(expected.receives.sum()) == (int(expected.is_max.sum()) if rule == "all" else 1)
        if rule == "all":
            shoot(page, view, "04-pool-routing")
    assert seen_ties == {True, False}, "the walk should cross tied and untied windows"


def test_conv_window_explorer_shows_window_stamp_and_rotation(session):
    from cnn_lib.interactive import conv_backward_stamp

    page, errors = open_and_run(session, "05_conv_backprop.ipynb")
    view = ".cnn-conv-view"
    page.wait_for_selector(f"{view} .cnn-line")
    assert line_data(page, view)["output"] == "1,2"
    filter_ = np.arange(1.0, 10.0).reshape(3, 3)
    for slider, key, expect_output in (("cnn-conv-i", "ArrowRight", "2,2"), ("cnn-conv-j", "ArrowLeft", "2,1")):
        before = line_data(page, view)["output"]
        timed(session, page, "05 conv window", f"{key} on {slider.split('-')[-1]}", view, "keydown",
              lambda: press(page, slider, key),
              "([sel, o]) => document.querySelector(sel + ' .cnn-line').dataset.output !== o", [view, before])
        assert line_data(page, view)["output"] == expect_output
    i, j = 2, 1
    assert page.locator(f"{view} svg[data-name=forward] rect[data-box='{i},{j},3,3']").count() == 1
    stamp_numbers = page.eval_on_selector_all(f"{view} svg[data-name=stamp] text", "els => els.map(e => e.textContent)")
    stamp = conv_backward_stamp(i, j, filter_, (7, 7))
    assert stamp_numbers[1:] == [f"{v:g}" for v in stamp[stamp != 0]]  # (after the title) 1..9, unrotated
    for k in range(2, 10):                                            # the pixel slider: 1 -> 9
        before = line_data(page, view)["pixel"]
        timed(session, page, "05 conv window", "ArrowRight on pixel", view, "keydown",
              lambda: press(page, "cnn-conv-k", "ArrowRight"),
              "([sel, p]) => document.querySelector(sel + ' .cnn-line').dataset.pixel !== p", [view, before])
        a, b = divmod(k - 1, 3)
        shown = line_data(page, view)
        assert shown["pixel"] == f"{i + a},{j + b}" and shown["received"] == f"{filter_[a, b]:g}"
        assert page.locator(f"{view} svg[data-name=gather] rect[data-box='{i + a},{j + b},3,3']").count() == 1
    shoot(page, view, "05-conv-window")


def test_training_stepper_and_drawing_a_digit(session, subset):
    from cnn_lib.interactive import TrainingStepper, mnist_like, rasterize_strokes, read_digit

    page, errors = open_and_run(session, "06_training_the_cnn.ipynb")

    # Step through training: one step, then play and pause.
    view = ".cnn-train-view"
    page.wait_for_selector(f"{view} .cnn-line")
    reference = TrainingStepper(subset[0], subset[1], seed=0)
    assert line_data(page, view)["points"] == "0"
    timed(session, page, "06 training stepper", "one step (100 images)", view, "click",
          lambda: page.locator(".cnn-train-step").click(),
          "sel => document.querySelector(sel + ' .cnn-line').dataset.points === '1'", view)
    reference.step()
    assert f"loss of the last 100 {reference.curve_loss[-1]:.3f}" in page.inner_text(f"{view} .cnn-line")
    assert page.locator(f"{view} polyline[data-points='2']").count() == 1  # ln 10 at step 0, and the new point
    play = page.locator(".cnn-train-play button").first           # play, and the same button pauses
    timed(session, page, "06 training stepper", "play: first tick", view, "click", lambda: play.click(),
          "sel => Number(document.querySelector(sel + ' .cnn-line').dataset.points) >= 2", view)
    page.wait_for_function("sel => Number(document.querySelector(sel + ' .cnn-line').dataset.points) >= 4", arg=view,
                           timeout=20_000)
    play.click()                                                       # pause
    page.wait_for_timeout(1500)                                        # (a tick already sent may still land)
    points = int(line_data(page, view)["points"])
    page.wait_for_timeout(1500)
    assert int(line_data(page, view)["points"]) == points, "paused, the curve must stop growing"
    for _ in range(points - 1):
        reference.step()
    assert f"loss of the last 100 {reference.curve_loss[-1]:.3f}" in page.inner_text(f"{view} .cnn-line")
    assert page.locator(f"{view} polyline[data-points='{points + 1}']").count() == 1
    shoot(page, view, "06-training-stepper")

    # Draw a digit: clear, then one stroke with mouse events.
    view = ".cnn-draw-reading"
    timed(session, page, "06 draw a digit", "clear", view, "click", lambda: page.locator(".cnn-draw-clear").click(),
          "sel => document.querySelector(sel + ' .cnn-line[data-prediction=none]') !== null", view)
    canvas = page.locator("canvas.cnn-draw-canvas, .cnn-draw-canvas canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    stroke = [(70, 60), (200, 55), (190, 90), (150, 160), (125, 235)]  # a 7, in canvas pixels
    sent = []

    def draw():
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            for t in np.linspace(0, 1, 6)[1:]:
                x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                page.mouse.move(box["x"] + x, box["y"] + y)
                sent.append((x, y))
        page.mouse.up()

    timed(session, page, "06 draw a digit", "mouse up after a stroke of 21 points", view, "mouseup", draw,
          "sel => document.querySelector(sel + ' .cnn-prediction') !== null", view)
    received = json.loads(page.get_attribute(f"{view} .cnn-strokes", "data-strokes"))
    assert len(received) == 1 and len(received[0]) == len(sent) + 1          # mouse down + every move
    scale = 280 / box["width"]
    assert np.allclose(np.array(received[0][1:]), np.array(sent) * scale, atol=1.0)
    expected = read_digit(mnist_like(rasterize_strokes(received)))
    for network in ("tutorial", "deep"):
        shown = page.get_attribute(f"{view} .cnn-prediction[data-network={network}]", "data-prediction")
        probability = page.get_attribute(f"{view} .cnn-prediction[data-network={network}]", "data-probability")
        assert int(shown) == expected.prediction(network)
        assert float(probability) == pytest.approx(expected.probabilities[network].max(), abs=1e-4)
    shoot(page, view, "06-draw-a-digit")
    timed(session, page, "06 draw a digit", "clear", view, "click", lambda: page.locator(".cnn-draw-clear").click(),
          "sel => document.querySelector(sel + ' .cnn-line[data-prediction=none]') !== null", view)
