"""Every notebook of the series opens, runs and renders in JupyterLab in a real (headless) browser.

One JupyterLab server and one Chromium serve all notebooks in turn. The server serves a temporary
copy of ``notebooks/``; afterwards the copy and the repository's notebooks must still hold the
same bytes (nothing saved them), and so must the notebook's own figures in ``figures/``
(``<notebook name>_*.png``: the notebooks re-export their plots, byte for byte the same). The exceptions
are the figures listed in ``cnn_lib.plotting.ROUNDOFF_FIGURES``, which plot floating-point round-off and so
differ from one CPU to another: each must still be there afterwards and decode as a PNG of the size it had.
What counts as a problem on the page is listed in ``tests/lab_browser.py``. Screenshots go to
``test-artifacts/browser/`` (git-ignored).

These tests carry the ``browser`` marker: ``pytest -m "not browser"`` leaves them out. They need
Debian's Chromium and the ``playwright`` package (``python3 tasks.py test`` installs both when it
can). Without them they skip, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from cnn_lib.plotting import ROUNDOFF_FIGURES

try:
    import lab_browser
except ImportError:  # imported as part of a package
    from . import lab_browser

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
RUN_TIMEOUT = 180.0  # seconds for Run All in one notebook; the slowest (training) needs ~30 s


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip, with the reason; but under CI a browser test that cannot run is a failure."""
    if in_ci():
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def digests(folder: Path, pattern: str) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob(pattern))}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of the PNG at ``path``, after decoding all of it (raises if it is no valid PNG)."""
    from PIL import Image  # installed with matplotlib

    with Image.open(path) as image:
        if image.format != "PNG":
            raise ValueError(f"not a PNG but {image.format}")
        image.load()
        return image.size


def roundoff_figure_problems(before: dict[str, tuple[int, int]]) -> list[str]:
    """Each figure of round-off that was there before the run is still there, a PNG of the same size."""
    problems = []
    for name, size in before.items():
        path = REPO_ROOT / "figures" / name
        try:
            after = png_size(path)
        except (OSError, ValueError) as error:
            problems.append(f"figures/{name} is no longer a readable PNG after the run: {error}")
            continue
        if after != size:
            problems.append(f"the run re-exported figures/{name} at {after[0]}x{after[1]} pixels, "
                            f"not {size[0]}x{size[1]} as before")
    return problems


class Session:
    def __init__(self, lab, browser, site: Path):
        self.lab, self.browser, self.site = lab, browser, site
        # The served copies' bytes as copied: JupyterLab must leave them so.
        self.served = {p.name: p.read_bytes() for p in (site / "notebooks").glob("*.ipynb")}


@pytest.fixture(scope="module")
def lab_session(tmp_path_factory):
    """JupyterLab serving a copy of ``notebooks/`` (and a self-test folder), plus headless Chromium."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the playwright package is missing: python3 tasks.py test installs it")
    if not lab_browser.find_chromium():
        unavailable("install chromium: apt-get install chromium")
    work = tmp_path_factory.mktemp("browser")
    site = work / "site"
    shutil.copytree(REPO_ROOT / "notebooks", site / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (site / "selftest").mkdir()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "summary.txt").write_text("")
    with lab_browser.JupyterLab(site, work / "lab") as lab:
        with lab_browser.chromium(work) as browser:
            yield Session(lab, browser, site)


def record(report) -> None:
    with open(ARTIFACTS / "summary.txt", "a") as summary:
        summary.write(report.summary() + "\n")
        summary.writelines(f"    {line}\n" for p in report.problems for line in p.splitlines()[:3])
        # JavaScript errors in the page: JupyterLab's own, usually; listed, not failed on.
        summary.writelines(f"    (page error) {e.splitlines()[0][:200]}\n" for e in report.page_errors)
    print(report.summary())


def test_the_series_has_notebooks():
    assert NOTEBOOKS, "no notebooks/[0-9][0-9]_*.ipynb to open in the browser"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_renders_in_jupyterlab(notebook: Path, lab_session):
    original = notebook.read_bytes()
    figures_before = digests(REPO_ROOT / "figures", f"{notebook.stem}_*")
    roundoff_before = {f"{name}.png": png_size(REPO_ROOT / "figures" / f"{name}.png") for name in ROUNDOFF_FIGURES
                       if name.startswith(f"{notebook.stem}_") and (REPO_ROOT / "figures" / f"{name}.png").is_file()}
    report = lab_browser.run_notebook(lab_session.browser, lab_session.lab,
                                      f"notebooks/{notebook.name}", ARTIFACTS, run_timeout=RUN_TIMEOUT)
    problems = list(report.problems)

    # Nothing saved the notebook: neither the served copy nor the repository's file changed.
    served = lab_session.site / "notebooks" / notebook.name
    if served.read_bytes() != lab_session.served[notebook.name]:
        problems.append("JupyterLab wrote to the notebook it served (it must not save it)")
    if notebook.read_bytes() != original:
        problems.append(f"{notebook} changed on disk during the browser run")
    # The notebook's exported figures are the ones that were there, byte for byte; those that plot
    # round-off (ROUNDOFF_FIGURES) differ between CPUs and are checked as PNGs of the same size instead.
    figures_after = digests(REPO_ROOT / "figures", f"{notebook.stem}_*")
    problems += roundoff_figure_problems(roundoff_before)
    for name, digest in figures_after.items():
        if name not in figures_before:
            problems.append(f"the run created figures/{name}, which was not there before")
        elif name in roundoff_before:
            continue
        elif digest != figures_before[name]:
            problems.append(f"the run changed figures/{name}: its export is not reproducible "
                            "or the committed file is stale")

    report.problems = problems
    record(report)
    assert not problems, "\n".join(
        [report.summary(), *problems, f"screenshots in {ARTIFACTS}", "JupyterLab log:",
         lab_session.lab.log_tail(15)])


# A PNG of one pixel, as matplotlib would have saved it in a notebook's outputs.
ONE_PIXEL_PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


def broken_notebook() -> dict:
    def code(source, outputs=()):
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "source": source,
                "outputs": list(outputs)}

    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                    "language": "python"}},
        "cells": [
            {"cell_type": "markdown", "metadata": {},
             "source": "Fine math $x^2$ and broken math $\\notacommand{x}$."},
            {"cell_type": "markdown", "metadata": {},
             "source": "Math that MathJax cannot even find: $\\frac{1}{2$."},
            code("from IPython.display import Image, display\n"
                 "display(Image(data=b'this is not a PNG', format='png'))"),
            code("x = 1  # this cell's plot was lost",
                 [{"output_type": "display_data", "metadata": {},
                   "data": {"image/png": ONE_PIXEL_PNG, "text/plain": "<Figure>"}}]),
            code("import sys\nprint('something went wrong', file=sys.stderr)"),
            code("raise ValueError('deliberately broken')"),
            code("print('never runs')"),
        ],
    }


def test_the_checker_catches_a_broken_notebook(lab_session):
    """The checks can fail: a deliberately broken notebook yields one problem of each kind."""
    path = lab_session.site / "selftest" / "broken.ipynb"
    path.write_text(json.dumps(broken_notebook()))
    report = lab_browser.run_notebook(lab_session.browser, lab_session.lab, "selftest/broken.ipynb",
                                      ARTIFACTS / "selftest", run_timeout=60)
    record(report)
    problems = "\n".join(report.problems)
    expected = {
        "undefined macro": "cell 1: MathJax reports errors: ['undefined \\\\notacommand']",
        "math left as text": "cell 2: TeX left as text",
        "undecodable image": "cell 3: an output image did not render",
        "lost plot": "cell 4 shows 0 images, but its saved outputs hold 1",
        "stderr": "cell 5 wrote to stderr",
        "exception": "cell 6 raised ValueError: deliberately broken",
        "cell never run": "1 code cells never ran (no execution count): cell 7",
    }
    missed = [kind for kind, text in expected.items() if text not in problems]
    assert not missed, f"the checker missed: {missed}\nit reported:\n{problems}"
    assert report.math_elements >= 1, "the fine math should still be typeset"


# The Chinese edition (notebooks/zh/): its code cells and outputs are the English notebook's, run above, so
# one Chinese notebook is opened, not run, to see what only it can get wrong: its Markdown.
CHINESE_NOTEBOOK = "notebooks/zh/01_forward_pass.ipynb"


def chinese_fonts_or_skip() -> set[str]:
    families = lab_browser.chinese_font_families()
    if not families:
        unavailable("no font for Chinese (fc-list :lang=zh lists none): apt-get install fonts-wqy-microhei "
                    "(python3 tasks.py test installs it)")
    return families


def test_a_chinese_notebook_shows_its_maths_and_its_chinese_text(lab_session):
    """The math typeset by MathJax, the Chinese drawn with a real Chinese font (no missing-glyph boxes)."""
    families = chinese_fonts_or_skip()
    report = lab_browser.open_notebook(lab_session.browser, lab_session.lab, CHINESE_NOTEBOOK, families, ARTIFACTS)
    record(report)
    problems = list(report.problems)
    if (lab_session.site / CHINESE_NOTEBOOK).read_bytes() != (REPO_ROOT / CHINESE_NOTEBOOK).read_bytes():
        problems.append(f"JupyterLab changed the served copy of {CHINESE_NOTEBOOK}")
    assert not problems, "\n".join([report.summary(), *problems, f"screenshots in {ARTIFACTS}"])
    assert report.math_elements >= 50 and report.chinese_characters >= 20, report.summary()


def test_the_chinese_text_check_catches_missing_glyphs(lab_session):
    """The check can fail: characters no font has are found as boxes, and a font list without the font used fails."""
    path = lab_session.site / "selftest" / "chinese.ipynb"
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": "中文的段落，含公式 $x^2$。"}],
    }))
    unassigned = "\u0378\u0379\u0380\u0381"  # code points no font has
    report = lab_browser.open_notebook(lab_session.browser, lab_session.lab, "selftest/chinese.ipynb",
                                       chinese_families=set(), sample=unassigned)
    record(report)
    problems = "\n".join(report.problems)
    assert "none of them a font for Chinese" in problems, problems
    assert "missing-glyph box" in problems and "4 different Chinese characters drawn as only 1" in problems, problems
    assert report.math_elements == 1, "the math should still be typeset"
