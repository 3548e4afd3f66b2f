"""How the series reads (issue 12): maths, code, picture, without long plotting code in the way.

- No code cell is longer than a screen (30 lines).
- A cell that only draws a figure (12 lines or more of plotting, no print, assert or check) has its
  source collapsed (JupyterLab's ``source_hidden``): the figure shows, its code opens with a click.
- Every notebook opens with its reading and running time, its sources and a link to the glossary.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCREEN_LINES = 30
LONG_FIGURE_LINES = 12


def figure_only(source: str) -> bool:
    """Draws (matplotlib) and neither prints nor checks anything."""
    draws = re.search(r"\bplt\.|\bfig\b|\baxes\b|\bax\.", source)
    says = re.search(r"\bprint\(|\bassert\b|report_below\(", source)
    return bool(draws) and not says


def code_cells(notebook: Path):
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type == "code":
            yield index, cell


def test_the_figure_rule_tells_drawing_from_checking():
    assert figure_only("fig, ax = plt.subplots()\nax.plot(x)\nplt.show()")
    assert not figure_only("fig, ax = plt.subplots()\nassert total == 3\nplt.show()")
    assert not figure_only("print(x)")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_code_cell_is_longer_than_a_screen(notebook):
    long = [f"cell {i}: {len(c.source.splitlines())} lines" for i, c in code_cells(notebook)
            if len(c.source.splitlines()) > SCREEN_LINES]
    assert not long, f"{notebook.name}: split these cells (at most {SCREEN_LINES} lines each): {long}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_long_plotting_cells_are_collapsed(notebook):
    open_cells = [f"cell {i}: {c.source.splitlines()[0][:60]!r}" for i, c in code_cells(notebook)
                  if len(c.source.splitlines()) >= LONG_FIGURE_LINES and figure_only(c.source)
                  and not c.metadata.get("jupyter", {}).get("source_hidden")]
    assert not open_cells, (f"{notebook.name}: these cells only draw a figure; collapse their source "
                            f"(metadata jupyter.source_hidden = true) or move the code to cnn_lib.plotting: {open_cells}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_opens_with_time_sources_and_the_glossary(notebook):
    opening = nbformat.read(notebook, as_version=4).cells[0].source
    for needed in ("**Time:**", "**Sources:**", "(../docs/glossary.md)"):
        assert needed in opening, f"{notebook.name}'s first cell lacks {needed}"
