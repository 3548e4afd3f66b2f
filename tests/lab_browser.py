"""Run notebooks in JupyterLab inside headless Chromium and check what a reader would see.

Used by ``tests/test_browser.py``. Three pieces:

- ``JupyterLab(root_dir, work_dir)``: a ``jupyter lab`` server on 127.0.0.1, on a free port, with a
  random token, its configuration, settings, workspaces and runtime files in ``work_dir``, autosave
  off. Used as a context manager, it is stopped (its whole process group) whatever happens.
- ``chromium(work_dir)``: Debian's Chromium driven by Playwright, headless, with a fresh profile.
- ``run_notebook(browser, lab, path)``: opens one notebook as a reader would, waits for its kernel,
  clears the saved outputs, clicks Run > Run All Cells, waits until the run is over, and returns a
  ``NotebookReport`` whose ``problems`` list everything a reader would see go wrong.
- ``open_notebook(browser, lab, path, chinese_families)``: opens a notebook of the Chinese edition
  without running it (its code and outputs are the English notebook's) and checks its math and that its
  Chinese text is drawn with a real Chinese font (``check_chinese_text``).

What counts as a problem (each names the cell, numbered from 1 as in the status bar):

- a non-empty code cell without an execution count once the run is over (it never ran, e.g. because
  an earlier cell raised), or counts that do not go 1, 2, 3 ... in order;
- an error output (read from the live notebook model, so a ``SyntaxError`` counts too), or stderr
  text in a cell whose saved outputs had none;
- an image output that the browser could not decode or that takes no space on the page, or fewer
  images in a cell than its saved outputs hold (a plot that silently stopped appearing);
- a Markdown cell with math (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\begin{...}``) that MathJax
  did not typeset, typeset with an error or an undefined macro, or left as visible ``$...$`` text;
- a dialog left open (e.g. "Select Kernel", "Kernel Restarting"), or a run that did not finish in time.

Nothing here saves a notebook: JupyterLab's autosave is switched off, and no save command is used.
The caller decides what to serve (``tests/test_browser.py`` serves a temporary copy) and checks
the files on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container: Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",  # no traffic but to our own server
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# JupyterLab user settings written into the server's private settings folder.
LAB_SETTINGS = {
    # Never write the notebook back: the test checks the file's bytes afterwards.
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # No "get notified about Jupyter news?" toast over the screenshots, no request for it.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell in the page at once (no virtual scrolling), so every output can be inspected.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}

MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$|\\\(.+?\\\)|\\\[.+?\\\]|\\begin\{", re.S)


def find_chromium() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), or ``$CHROMIUM`` if set."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLab:
    """A private ``jupyter lab`` serving ``root_dir``; see the module docstring."""

    def __init__(self, root_dir: Path, work_dir: Path, python: str = sys.executable,
                 start_timeout: float = 90.0):
        self.root_dir = Path(root_dir)
        self.work_dir = Path(work_dir)
        self.python = python
        self.start_timeout = start_timeout
        self.token = secrets.token_hex(24)
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = self.work_dir / "jupyterlab.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, path: str) -> str:
        """The address that opens ``path`` (relative to ``root_dir``) in a fresh workspace."""
        return f"{self.url}/lab/tree/{urllib.request.quote(path)}?reset&token={self.token}"

    def __enter__(self) -> JupyterLab:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        settings = self.work_dir / "lab-settings"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(self.work_dir / "jupyter-config"),  # ignore ~/.jupyter
            JUPYTER_RUNTIME_DIR=str(self.work_dir / "jupyter-runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.work_dir / "lab-workspaces"),
            IPYTHONDIR=str(self.work_dir / "ipython"),  # the kernels' history goes here, not to ~
        )
        self.port = free_port()
        command = [
            self.python, "-m", "jupyter", "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",  # the port we chose, or fail
            f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to read the live notebook model
            "--LabApp.news_url=",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches its kernels too
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer within {self.start_timeout:.0f} s:\n"
                                       f"{self.log_tail()}") from None
                time.sleep(0.3)

    def api(self, method: str, path: str, timeout: float = 10):
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def sessions(self) -> list[dict]:
        return self.api("GET", "/api/sessions")

    def shut_down_kernels(self) -> None:
        """End every kernel the server runs (each notebook gets a fresh one)."""
        for kernel in self.api("GET", "/api/kernels"):
            with contextlib.suppress(OSError):
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            self.shut_down_kernels()
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # anything left in its group
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def chromium(work_dir: Path, executable: str | None = None, viewport=(1400, 1000)):
    """Yield a Playwright ``BrowserContext`` of headless Chromium with a fresh profile."""
    from playwright.sync_api import sync_playwright

    executable = executable or find_chromium()
    if not executable:
        raise RuntimeError("Chromium not found: apt-get install chromium")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(Path(work_dir) / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class NotebookReport:
    path: str
    problems: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    code_cells: int = 0
    images: int = 0
    math_cells: int = 0
    math_elements: int = 0
    screenshots: list[Path] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    fonts: dict[str, int] = field(default_factory=dict)  # glyphs drawn per font (the Chinese text check)
    chinese_characters: int = 0

    def summary(self) -> str:
        times = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        fonts = (f"{self.chinese_characters} Chinese characters checked, fonts {self.fonts}; "
                 if self.chinese_characters or self.fonts else "")
        return (f"{self.path}: {self.code_cells} code cells, {self.images} images, "
                f"{self.math_elements} math elements in {self.math_cells} Markdown cells; {fonts}{times}; "
                f"{len(self.problems)} problems")


# One snapshot of the open notebook as the page shows it.
STATE_JS = """
() => {
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Notebook-cell'));
  const status = Array.from(document.querySelectorAll('.jp-StatusBar-Item'))
    .map(e => e.textContent.trim()).find(t => / \\| \\S+$/.test(t) && !t.startsWith('Mode:')) || '';
  const dialog = document.querySelector('.jp-Dialog');
  return {
    cells: cells.map(c => ({
      kind: c.classList.contains('jp-CodeCell') ? 'code' : c.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw',
      prompt: (c.querySelector('.jp-InputArea-prompt') || {textContent: ''}).textContent.trim(),
      outputs: c.querySelectorAll('.jp-OutputArea-output').length,
    })),
    status: status,
    dialog: dialog ? dialog.innerText.replace(/\\s+/g, ' ').trim() : null,
  };
}
"""

# Scroll each output image into view, let the browser decode it, and measure it.
IMAGES_JS = """
async () => {
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Notebook-cell'));
  const found = [];
  for (let index = 0; index < cells.length; index++) {
    for (const img of cells[index].querySelectorAll('.jp-OutputArea-output img')) {
      img.scrollIntoView({block: 'center'});
      let decoded = true;
      try { await img.decode(); } catch (e) { decoded = false; }
      const box = img.getBoundingClientRect();
      found.push({cell: index, decoded: decoded, complete: img.complete,
                  natural: [img.naturalWidth, img.naturalHeight], box: [box.width, box.height]});
    }
  }
  return found;
}
"""

# For each Markdown cell: how MathJax rendered it.
MATH_JS = """
() => Array.from(document.querySelectorAll('.jp-Notebook .jp-Notebook-cell')).map(c => {
  const rendered = c.querySelector('.jp-MarkdownOutput');
  if (!c.classList.contains('jp-MarkdownCell') || !rendered) return null;
  const copy = rendered.cloneNode(true);
  copy.querySelectorAll('mjx-container, code, pre, script').forEach(e => e.remove());
  return {
    rendered: c.classList.contains('jp-mod-rendered'),
    containers: rendered.querySelectorAll('mjx-container').length,
    errors: Array.from(rendered.querySelectorAll('mjx-merror, [data-mjx-error]'))
      .map(e => e.getAttribute('data-mjx-error') || e.textContent)
      .concat(Array.from(rendered.querySelectorAll('mtext[mathcolor="red"]'))  // undefined macro
        .map(e => e.textContent).filter(t => t.startsWith('\\\\')).map(t => 'undefined ' + t))
      .slice(0, 3),
    text: copy.textContent,
  };
})
"""

# The notebook as JupyterLab holds it now (outputs included), from the exposed application object.
MODEL_JS = """
() => {
  const app = window.jupyterapp;
  const widget = app && app.shell.currentWidget;
  if (!widget || !widget.content || !widget.content.model) return null;
  return widget.content.model.toJSON();
}
"""

STDERR = "application/vnd.jupyter.stderr"


def source_of(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def saved_counts(cell: dict) -> tuple[int, bool]:
    """(image outputs, whether any stderr text) in a cell's saved outputs."""
    images = stderr = 0
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            stderr += 1
        images += sum(1 for mime in output.get("data", {}) if mime.startswith("image/"))
    return images, stderr > 0


def click_menu(page, menu: str, item: str) -> None:
    page.click(f".lm-MenuBar-itemLabel:text-is('{menu}')")
    page.click(f".lm-Menu-itemLabel:text-is('{item}')")


def wait_for_kernel_idle(page, lab: JupyterLab, path: str, deadline: float) -> str | None:
    """Wait until the status bar shows a kernel's name and "Idle" and the server agrees.

    The toolbar's execution indicator reads idle before any kernel exists, so it is not enough.
    Returns None when ready, else what went wrong.
    """
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(STATE_JS)
        if state["dialog"]:
            return f"a dialog is open instead of an idle kernel: {state['dialog'][:300]}"
        name, _, status = state["status"].rpartition(" | ")
        if status == "Idle" and name and name != "No Kernel":
            kernels = [s["kernel"] for s in lab.sessions() if s.get("path") == path and s.get("kernel")]
            if kernels and all(k.get("execution_state") == "idle" for k in kernels):
                return None
        time.sleep(0.5)
    return f"the kernel never became idle (status bar: {state and state['status']!r})"


def wait_for_math(page, cells: list[int], timeout: float) -> None:
    """Until every given cell holds typeset math, or MathJax has added nothing for 2 s."""
    deadline, last, calm_since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        counts = [m and m["containers"] for m in (page.evaluate(MATH_JS)[i] for i in cells)]
        if all(counts):
            return
        if counts != last:
            last, calm_since = counts, time.monotonic()
        elif any(counts) and time.monotonic() - calm_since > 2:
            return
        time.sleep(0.25)


def check_math(page, notebook: dict, report: NotebookReport) -> None:
    """Every Markdown cell with math shows it typeset by MathJax, without errors or leftover TeX."""
    problems = report.problems
    math_cells = [i for i, c in enumerate(notebook["cells"])
                  if c["cell_type"] == "markdown" and MATH.search(source_of(c))]
    report.math_cells = len(math_cells)
    if not math_cells:
        return
    wait_for_math(page, math_cells, timeout=30.0)
    math = page.evaluate(MATH_JS)
    for i in math_cells:
        rendered = math[i]
        if rendered is None or not rendered["rendered"]:
            problems.append(f"cell {i + 1}: Markdown cell not rendered")
            continue
        report.math_elements += rendered["containers"]
        if rendered["containers"] == 0:
            problems.append(f"cell {i + 1}: its math was not typeset (no MathJax output)")
        if rendered["errors"]:
            problems.append(f"cell {i + 1}: MathJax reports errors: {rendered['errors']}")
        leftover = re.search(r"\$[^$\s][^$]*\$|\\\(|\\\[", rendered["text"])
        if leftover:
            problems.append(f"cell {i + 1}: TeX left as text: {leftover.group(0)[:80]!r}")


def goto_notebook(page, lab: JupyterLab, path: str, cell_count: int, report: NotebookReport,
                  load_timeout: float) -> bool:
    """Open ``path`` in ``page`` and wait until its ``cell_count`` cells are shown and its kernel is idle;
    record the time in ``report.seconds["open"]``. False (with the problem in the report) if the kernel
    did not come up in time."""
    started = time.monotonic()
    page.goto(lab.page_url(path), timeout=load_timeout * 1000)
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-Notebook .jp-Notebook-cell').length === n",
        arg=cell_count, timeout=load_timeout * 1000)
    problem = wait_for_kernel_idle(page, lab, path, started + load_timeout)
    report.seconds["open"] = time.monotonic() - started
    if problem:
        report.problems.append(problem)
        return False
    return True


def run_notebook(browser, lab: JupyterLab, path: str, artifacts: Path | None = None,
                 run_timeout: float = 180.0, load_timeout: float = 90.0) -> NotebookReport:
    """Open ``path`` (relative to the server's root), Run All, and check the page; see module doc."""
    notebook = json.loads((lab.root_dir / path).read_text(encoding="utf-8"))
    report = NotebookReport(path=path)
    problems = report.problems
    stem = Path(path).stem
    page = browser.new_page()
    page.on("pageerror", lambda error: report.page_errors.append(str(error)))
    try:
        # Open it, as a reader would, and wait for its kernel.
        if not goto_notebook(page, lab, path, len(notebook["cells"]), report, load_timeout):
            return report

        # Clear the saved outputs, so every count and plot seen afterwards comes from this run.
        click_menu(page, "Edit", "Clear Outputs of All Cells")
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-Notebook .jp-OutputArea-output').length === 0",
            timeout=10_000)

        # Run > Run All Cells, then wait until nothing is queued and the kernel is idle again.
        started = time.monotonic()
        click_menu(page, "Run", "Run All Cells")
        expected = [i for i, c in enumerate(notebook["cells"])
                    if c["cell_type"] == "code" and source_of(c).strip()]
        report.code_cells = len(expected)
        state, calm = None, 0
        while True:
            state = page.evaluate(STATE_JS)
            prompts = [c["prompt"] for c in state["cells"]]
            busy = any("*" in p for p in prompts)
            counted = any(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
            idle = state["status"].endswith("| Idle")
            calm = calm + 1 if (not busy and idle and (counted or not expected)) else 0
            if calm >= 3 or state["dialog"]:
                break
            if time.monotonic() - started > run_timeout:
                running = [i + 1 for i, p in enumerate(prompts) if "*" in p]
                problems.append(f"Run All did not finish within {run_timeout:.0f} s "
                                f"(cells still queued or running: {running})")
                break
            time.sleep(0.5)
        report.seconds["run"] = time.monotonic() - started
        if state["dialog"]:
            problems.append(f"a dialog opened during the run: {state['dialog'][:300]}")

        # Errors and stderr, from the live model (the page renders both the same way).
        model = page.evaluate(MODEL_JS)
        if model is None:
            problems.append("cannot read the notebook model (window.jupyterapp missing)")
            model = {"cells": []}
        for i, (cell, saved) in enumerate(zip(model["cells"], notebook["cells"])):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.get("traceback", [])))
                    problems.append(f"cell {i + 1} raised {output.get('ename')}: "
                                    f"{output.get('evalue')}\n{trace[-1500:]}")
                elif (output.get("output_type") == "stream" and output.get("name") == "stderr"
                      and not saved_counts(saved)[1]):
                    problems.append(f"cell {i + 1} wrote to stderr, which its saved outputs do not: "
                                    f"{''.join(output.get('text', ''))[:500]!r}")

        # Every non-empty code cell ran, once, in order, in one fresh kernel.
        counts, never_ran = [], []
        # (A cell whose code is collapsed, jupyter.source_hidden, shows no prompt: read its count
        # from the live model instead.)
        model_cells = model["cells"] if len(model["cells"]) == len(state["cells"]) else [{}] * len(state["cells"])
        for i in expected:
            match = re.fullmatch(r"\[(\d+)\]:", state["cells"][i]["prompt"])
            hidden_count = model_cells[i].get("execution_count") if not state["cells"][i]["prompt"] else None
            if match:
                counts.append(int(match.group(1)))
            elif isinstance(hidden_count, int):
                counts.append(hidden_count)
            else:
                never_ran.append(i)
        if never_ran:
            problems.append(f"{len(never_ran)} code cells never ran (no execution count): cell "
                            + ", ".join(str(i + 1) for i in never_ran))
        if counts and counts != list(range(1, len(counts) + 1)):
            problems.append(f"execution counts are not 1, 2, 3, ... in order: {counts}")

        # Every image decoded and takes space; no cell lost a plot it had when saved.
        images = page.evaluate(IMAGES_JS)
        report.images = len(images)
        for image in images:
            if not (image["decoded"] and image["complete"] and min(image["natural"]) > 0):
                problems.append(f"cell {image['cell'] + 1}: an output image did not render "
                                f"(decoded {image['decoded']}, natural size {image['natural']})")
            elif min(image["box"]) <= 0:
                problems.append(f"cell {image['cell'] + 1}: an output image takes no space on the "
                                f"page (box {image['box']})")
        for i, cell in enumerate(notebook["cells"]):
            if i in never_ran:
                continue  # reported above
            want = saved_counts(cell)[0]
            have = sum(1 for image in images if image["cell"] == i)
            if have < want:
                problems.append(f"cell {i + 1} shows {have} images, but its saved outputs hold {want}")

        # Markdown math typeset by MathJax (it works asynchronously: give it time).
        check_math(page, notebook, report)

        # Screenshots: the top of the notebook, and its first plot.
        if artifacts is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
            page.evaluate("() => document.querySelector('.jp-Notebook .jp-Notebook-cell').scrollIntoView()")
            page.wait_for_timeout(300)
            shot = artifacts / f"{stem}-top.png"
            page.screenshot(path=str(shot))
            report.screenshots.append(shot)
            if images:
                page.evaluate("""() => document.querySelector('.jp-Notebook .jp-OutputArea-output img')
                                 .scrollIntoView({block: 'center'})""")
                page.wait_for_timeout(300)
                shot = artifacts / f"{stem}-plot.png"
                page.screenshot(path=str(shot))
                report.screenshots.append(shot)
        return report
    except Exception as error:  # a timeout or a broken page: report it with a picture
        problems.append(f"browser check stopped: {type(error).__name__}: {error}")
        if artifacts is not None:
            with contextlib.suppress(Exception):
                artifacts.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(artifacts / f"{stem}-failure.png"))
        return report
    finally:
        with contextlib.suppress(Exception):
            page.close()
        with contextlib.suppress(Exception):
            lab.shut_down_kernels()


# Chinese text (the Chinese edition, notebooks/zh/). Two views of the same question, "is it drawn with a
# real Chinese font?": which fonts Chromium used for the text (its own record, read over the DevTools
# protocol), and whether the characters come out as distinct glyphs with ink, none of them the box that a
# browser draws for a character no font has (drawn here for U+0378, a code point no font has).
GLYPHS_JS = """
(sample) => {
  const text = document.querySelector('.jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown p');
  const family = getComputedStyle(text).fontFamily;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 40;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (character) => {
    context.clearRect(0, 0, 40, 40);
    context.font = `32px ${family}`;
    context.textBaseline = 'top';
    context.fillText(character, 4, 4);
    const alpha = context.getImageData(0, 0, 40, 40).data.filter((_, k) => k % 4 === 3);
    return {bits: Array.from(alpha, a => (a > 127 ? 1 : 0)).join(''), ink: alpha.filter(a => a > 0).length};
  };
  return {family: family, missing: draw('\\u0378'),
          glyphs: Array.from(sample, c => Object.assign({character: c}, draw(c)))};
}
"""

MARKDOWN_TEXT_JS = """
() => Array.from(document.querySelectorAll('.jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown'))
  .map(e => e.innerText).join('\\n')
"""

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def chinese_font_families() -> set[str]:
    """Every family name (and alias) of the fonts fontconfig lists for Chinese (``fc-list :lang=zh``)."""
    if not shutil.which("fc-list"):
        return set()
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    return {name.strip() for line in listed.splitlines() for name in line.split(",") if name.strip()}


def fonts_used(page, selector: str, limit: int = 40) -> dict[str, int]:
    """Glyphs drawn per font family in the text of the elements matching ``selector`` (Chromium's record)."""
    session = page.context.new_cdp_session(page)
    try:
        session.send("DOM.enable")
        session.send("CSS.enable")
        root = session.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        fonts: dict[str, int] = {}
        for node in session.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})["nodeIds"][:limit]:
            for font in session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]:
                fonts[font["familyName"]] = fonts.get(font["familyName"], 0) + int(font["glyphCount"])
        return fonts
    finally:
        with contextlib.suppress(Exception):
            session.detach()


def check_chinese_text(page, report: NotebookReport, chinese_families: set[str], sample: str | None = None,
                       sample_size: int = 24) -> None:
    """The Markdown's Chinese characters are drawn with a Chinese font, as real, distinct glyphs.

    ``sample``: the characters whose glyphs to check (default: the first distinct Chinese characters
    of the rendered Markdown); the self-test passes characters that no font has.
    """
    problems = report.problems
    if sample is None:
        sample = "".join(dict.fromkeys(CHINESE.findall(page.evaluate(MARKDOWN_TEXT_JS))))[:sample_size]
    if len(sample) < 2:
        problems.append(f"the rendered Markdown holds no Chinese text to check (found {sample!r})")
        return
    report.fonts = fonts_used(page, ".jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown p")
    chinese = {family: glyphs for family, glyphs in report.fonts.items() if family in chinese_families}
    if not chinese:
        problems.append(f"the Chinese text was drawn with {report.fonts or 'no font'}, none of them a font for "
                        f"Chinese (fc-list :lang=zh lists {sorted(chinese_families) or 'none'})")
    drawn = page.evaluate(GLYPHS_JS, sample)
    boxes = [g["character"] for g in drawn["glyphs"] if g["bits"] == drawn["missing"]["bits"]]
    blank = [g["character"] for g in drawn["glyphs"] if g["ink"] == 0]
    distinct = len({g["bits"] for g in drawn["glyphs"]})
    if boxes or blank:
        problems.append(f"characters drawn as the missing-glyph box {boxes} or not at all {blank}, in the "
                        f"font {drawn['family']}")
    if distinct < len(sample):
        problems.append(f"{len(sample)} different Chinese characters drawn as only {distinct} different shapes "
                        f"(missing-glyph boxes?): {sample}")
    report.chinese_characters = len(sample)


def open_notebook(browser, lab: JupyterLab, path: str, chinese_families: set[str], artifacts: Path | None = None,
                  load_timeout: float = 90.0, sample: str | None = None) -> NotebookReport:
    """Open ``path`` as a reader would, without running it: its math typeset, its Chinese text drawn."""
    notebook = json.loads((lab.root_dir / path).read_text(encoding="utf-8"))
    report = NotebookReport(path=path)
    page = browser.new_page()
    page.on("pageerror", lambda error: report.page_errors.append(str(error)))
    try:
        if not goto_notebook(page, lab, path, len(notebook["cells"]), report, load_timeout):
            return report
        check_math(page, notebook, report)
        check_chinese_text(page, report, chinese_families, sample)
        if artifacts is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
            stem = Path(path).stem
            page.evaluate("() => document.querySelector('.jp-Notebook .jp-Notebook-cell').scrollIntoView()")
            page.wait_for_timeout(300)
            page.screenshot(path=str(artifacts / f"zh-{stem}-top.png"))
            page.evaluate("() => document.querySelector('.jp-Notebook mjx-container[display=\"true\"]')"
                          ".scrollIntoView({block: 'center'})")
            page.wait_for_timeout(300)
            page.screenshot(path=str(artifacts / f"zh-{stem}-math.png"))
        return report
    except Exception as error:  # a timeout or a broken page: report it with a picture
        report.problems.append(f"browser check stopped: {type(error).__name__}: {error}")
        if artifacts is not None:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(artifacts / f"zh-{Path(path).stem}-failure.png"))
        return report
    finally:
        with contextlib.suppress(Exception):
            page.close()
        with contextlib.suppress(Exception):
            lab.shut_down_kernels()
