#!/usr/bin/env python3
"""Generate the student notebooks of the classroom exercises: ``python3 tasks.py exercises``.

The solutions live in the series notebooks (``notebooks/NN_*.ipynb``), in a closing section
``## Implement it yourself``, marked with nbgrader's conventions: solution cells carry
``{"nbgrader": {"solution": true, ...}}`` metadata and a ``### BEGIN SOLUTION`` / ``### END SOLUTION``
block; autograded check cells carry ``{"nbgrader": {"grade": true, "locked": true, "points": N, ...}}``
and read ``assert (verdict := check_x(x)), verdict`` (the check returns its verdict, false on a failure,
so the AssertionError that nbgrader shows carries the diagnosis).

For every series notebook with that section, this writes ``notebooks/exercises/NN_*.ipynb``: a title
cell, then the section's cells with

- each solution block replaced by ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` (the
  ``# Hint:`` comment above the block stays), as ``nbgrader generate_assignment`` does;
- each ``assert (verdict := check_x(x)), verdict`` (or ``assert check_x(x)``) turned into ``check_x(x);``,
  so an unfinished or wrong exercise prints its feedback and the notebook still runs to the end;
- no outputs, no execution counts, no nbgrader metadata (the check and set-up cells are made
  read-only in Jupyter instead);
- cells tagged ``series-only`` (the note that the solutions are filled in) left out.

With ``--nbgrader-source DIR`` (``python3 tasks.py exercises --nbgrader-source course/source/cnn``) it writes
instead the *source* notebooks of an nbgrader assignment, ``DIR/NN_*.ipynb``: the same section under a
title cell, with the nbgrader metadata, the solution blocks and the ``assert`` check cells kept as they are,
without the ``series-only`` cells and without outputs, so that ``nbgrader generate_assignment`` and
``nbgrader autograde`` work on them directly. Everything before the section (the series' derivations,
plots and training runs) is left out, so autograding a submission runs the exercises and their checks
only: a few seconds a notebook instead of minutes. The section must therefore stand alone: its set-up
cell imports (or loads) whatever its exercises need, as the student versions require too. Other
notebooks in ``DIR`` (a teacher's own) are left alone.

Notebooks are read and written with ``nbformat``, the Jupyter project's own library for the format. The
output is deterministic (fixed cell ids, nbformat's sorted keys and one-space indent): running this again
rewrites identical files, and ``tests/test_exercises.py`` fails when the committed ones are stale.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

ROOT = Path(__file__).resolve().parent.parent
SERIES = ROOT / "notebooks"
SECTION = "## Implement it yourself"
SOLUTION_BLOCK = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*(\n|\Z)",
                            re.M | re.S)
ASSERT_CHECK = re.compile(r"^assert (?:\(verdict := (check_\w+\(.*\))\), verdict|(check_\w+\(.*\)))[ \t]*$", re.M)
READ_ONLY = {"deletable": False, "editable": False}
NBFORMAT_MINOR = 5  # the version written, fixed so that a newer nbformat cannot change the files


class ExerciseError(Exception):
    pass


def exercise_section(path: Path) -> tuple[NotebookNode, str, list[NotebookNode]] | None:
    """The series notebook at ``path``, its title and the cells of its ``## Implement it yourself`` section
    without the ``series-only`` cells; ``None`` if it has no such section."""
    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    starts = [k for k, cell in enumerate(cells)
              if cell.cell_type == "markdown" and cell.source.startswith(SECTION)]
    if not starts:
        return None
    title = cells[0].source.splitlines()[0].lstrip("#").strip()
    section = [cell for cell in cells[starts[0]:] if "series-only" not in cell.metadata.get("tags", [])]
    for cell in section:
        _check_markers(cell, path.name)
    return notebook, title, section


def student_notebook(path: Path) -> NotebookNode | None:
    """The student version of one series notebook, or ``None`` if it has no exercise section."""
    found = exercise_section(path)
    if found is None:
        return None
    notebook, title, section = found
    header = new_markdown_cell(
        id="exercises-title",
        source=f"# {title}: exercises\n\n"
               f"The student version of [{title}](../{path.name}), where everything you need is derived "
               "(the section numbers below refer to it). "
               "For each exercise, replace `raise NotImplementedError()` with your code and run the check "
               "cell below it: it prints `✓ ... passed` or what looks wrong, with a hint. An unfinished "
               "exercise prints \"not implemented yet\" and the rest of the notebook still runs.\n\n"
               f"*Generated by `python3 tasks.py exercises` from `notebooks/{path.name}`: teachers edit that "
               "notebook, not this file.*",
    )
    return _notebook([header] + [_student_cell(cell) for cell in section], notebook)


def nbgrader_source_notebook(path: Path) -> NotebookNode | None:
    """The nbgrader source notebook of one series notebook's exercises, or ``None`` if it has none.

    The exercise section as it stands in the series (solutions, nbgrader metadata, ``assert`` checks),
    without the ``series-only`` cells, outputs and execution counts, under a title cell for students.
    """
    found = exercise_section(path)
    if found is None:
        return None
    notebook, title, section = found
    header = new_markdown_cell(
        id="assignment-title",
        source=f"# {title}: exercises\n\n"
               f"The graded exercises of the notebook *{title}* (`{path.name}`) of the series "
               "cnn-from-scratch, where everything you need is derived (the section numbers below refer "
               "to it). For each exercise, replace `raise NotImplementedError()` with your code and run "
               "the check cell below it: it prints `✓ ... passed`, or stops with an `AssertionError` that "
               "says what looks wrong, with a hint. A failing check stops *Run All* at that cell: run the "
               "cells after it one by one. *Validate* runs them all and lists the failing checks.\n\n"
               f"*Generated by `python3 tasks.py exercises --nbgrader-source ...` from "
               f"`notebooks/{path.name}`: teachers edit that notebook, not this file.*",
    )
    result = [header] + [_source_cell(cell) for cell in section]
    return _notebook(result, notebook)


def _notebook(cells: list[NotebookNode], series: NotebookNode) -> NotebookNode:
    notebook = new_notebook(cells=cells, metadata={"kernelspec": series.metadata.kernelspec,
                                                   "language_info": {"name": "python"}})
    notebook.nbformat_minor = NBFORMAT_MINOR
    return notebook


def _check_markers(cell: NotebookNode, notebook_name: str) -> None:
    """Each marked cell holds what its nbgrader metadata promises, and every cell has an id."""
    if "id" not in cell:  # nbformat < 4.5: the generated cells must keep the series cells' ids
        raise ExerciseError(f"{notebook_name}: a cell has no id; save the notebook with JupyterLab >= 3 "
                            "(nbformat 4.5) first.")
    nbgrader = cell.metadata.get("nbgrader", {})
    if nbgrader.get("solution") and not SOLUTION_BLOCK.search(cell.source):
        raise ExerciseError(f"{notebook_name}: solution cell {nbgrader.get('grade_id')!r} has no "
                            "### BEGIN SOLUTION ... ### END SOLUTION block.")
    outside_blocks = SOLUTION_BLOCK.sub("", cell.source) if nbgrader.get("solution") else cell.source
    if "BEGIN SOLUTION" in outside_blocks or "END SOLUTION" in outside_blocks:
        raise ExerciseError(f"{notebook_name}: cell {cell.id!r} holds a solution marker outside a "
                            "solution block of a solution cell; give it nbgrader solution metadata, pair the "
                            "markers, or remove the marker.")
    if nbgrader.get("grade") and not nbgrader.get("solution") and not ASSERT_CHECK.search(cell.source):
        raise ExerciseError(f"{notebook_name}: check cell {nbgrader.get('grade_id')!r} has no "
                            "`assert (verdict := check_...(...)), verdict` line.")


def _source_cell(cell: NotebookNode) -> NotebookNode:
    """A series cell as nbgrader's source wants it: source and nbgrader metadata kept, no outputs."""
    metadata = {key: value for key, value in cell.metadata.items() if key != "execution"}  # run timings
    return _new_cell(cell.cell_type, cell.source, cell.id, metadata)


def _new_cell(cell_type: str, source: str, cell_id: str, metadata: dict) -> NotebookNode:
    if cell_type == "code":  # no outputs, no execution count
        return new_code_cell(source=source, id=cell_id, metadata=metadata)
    if cell_type == "markdown":
        return new_markdown_cell(source=source, id=cell_id, metadata=metadata)
    return new_raw_cell(source=source, id=cell_id, metadata=metadata)


def _student_cell(cell: NotebookNode) -> NotebookNode:
    source = cell.source
    nbgrader = cell.metadata.get("nbgrader", {})
    metadata = {}
    if nbgrader.get("solution"):
        source = SOLUTION_BLOCK.sub(
            lambda m: f"{m['indent']}# YOUR CODE HERE\n{m['indent']}raise NotImplementedError()\n", source)
        source = source.rstrip("\n")
    elif nbgrader.get("grade"):
        source = ASSERT_CHECK.sub(lambda m: f"{m[1] or m[2]};", source)
        metadata = dict(READ_ONLY)
    elif nbgrader.get("locked"):
        metadata = dict(READ_ONLY)
    return _new_cell(cell.cell_type, source, cell.id, metadata)


def generate(out_dir: Path, series: Path = SERIES) -> list[Path]:
    """Write every student notebook into ``out_dir``; remove student notebooks no longer generated."""
    written = _write_all(student_notebook, out_dir, series)
    for stale in sorted(set(out_dir.glob("*.ipynb")) - set(written)):
        stale.unlink()
    return written


def generate_nbgrader_source(out_dir: Path, series: Path = SERIES) -> list[Path]:
    """Write the nbgrader source notebook of every series notebook with exercises into ``out_dir``
    (a course's ``source/<assignment>``); other files there are left alone."""
    return _write_all(nbgrader_source_notebook, out_dir, series)


def _write_all(build, out_dir: Path, series: Path) -> list[Path]:
    notebooks = [(path.name, build(path)) for path in sorted(series.glob("[0-9][0-9]_*.ipynb"))]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, notebook in notebooks:
        if notebook is not None:
            nbformat.write(notebook, out_dir / name)
            written.append(out_dir / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", type=Path, default=SERIES / "exercises",
                        help="folder for the student notebooks (default: notebooks/exercises)")
    target.add_argument("--nbgrader-source", type=Path, metavar="DIR",
                        help="write nbgrader source notebooks into DIR instead, normally a course's "
                             "source/<assignment> (e.g. course/source/cnn); then, in the course folder: "
                             "nbgrader generate_assignment <assignment>. See docs/teaching.md, Grading.")
    args = parser.parse_args(argv)
    try:
        if args.nbgrader_source is not None:
            written = generate_nbgrader_source(args.nbgrader_source)
        else:
            written = generate(args.out)
    except ExerciseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"error: no notebook in {SERIES} has a {SECTION!r} section", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
