"""The classroom exercises: the solutions in the series notebooks and the generated student notebooks.

- The committed student notebooks (``notebooks/exercises/``) are exactly what ``python3 tasks.py
  exercises`` generates, and generating again gives identical bytes.
- The series notebooks mark their exercises with nbgrader's conventions.
- Each student notebook runs to its end with the stubs in place (nbclient, errors not allowed) and
  says "not implemented yet"; with the solutions put back, every check passes.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from cnn_lib import checks

REGENERATE = "run `python3 tasks.py exercises` and commit notebooks/exercises/"
NBGRADER_SOLUTION = {"solution": True, "grade": False, "locked": False, "schema_version": 3, "task": False}
NBGRADER_CHECK = {"grade": True, "solution": False, "locked": True, "schema_version": 3, "task": False}
# a check cell: the assert carries the verdict, so nbgrader's validate and feedback show the diagnosis
CHECK_CELL = r"assert \(verdict := (check_\w+)\((\w+)\)\), verdict"


def generate(repo_root, out):
    result = subprocess.run([sys.executable, str(repo_root / "tools" / "make_exercises.py"), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.ipynb"))}


def series_with_exercises(repo_root):
    return [p for p in sorted((repo_root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
            if "## Implement it yourself" in p.read_text(encoding="utf-8")]


def code_cells(path):
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def source(cell):
    return "".join(cell["source"])


def test_committed_student_notebooks_are_up_to_date(repo_root, tmp_path):
    generated = generate(repo_root, tmp_path)
    committed = {p.name: p.read_bytes() for p in sorted((repo_root / "notebooks" / "exercises").glob("*.ipynb"))}
    assert sorted(committed) == sorted(generated), f"student notebooks missing or extra: {REGENERATE}"
    stale = [name for name in generated if committed[name] != generated[name]]
    assert not stale, f"stale student notebooks {stale}: {REGENERATE}"
    assert generate(repo_root, tmp_path) == generated, "generating twice must give identical files"


def test_the_exercises_cover_every_check_once(repo_root):
    graded = [source(c) for p in series_with_exercises(repo_root) for c in code_cells(p)
              if c["metadata"].get("nbgrader", {}).get("grade")]
    called = sorted(re.fullmatch(CHECK_CELL, s).group(1) for s in graded)
    assert called == sorted(name for name in checks.__all__ if name.startswith("check_"))


def test_series_notebooks_follow_nbgrader_conventions(repo_root):
    for path in series_with_exercises(repo_root):
        grade_ids = []
        for cell in code_cells(path):
            meta = cell["metadata"].get("nbgrader")
            if meta is None:
                assert "SOLUTION" not in source(cell), f"{path.name}: solution marker in a cell without metadata"
                continue
            grade_ids.append(meta["grade_id"])
            if meta["solution"]:
                assert {k: meta[k] for k in NBGRADER_SOLUTION} == NBGRADER_SOLUTION, (path.name, meta)
                text = source(cell)
                assert text.count("### BEGIN SOLUTION") == 1 and text.count("### END SOLUTION") == 1
                assert "# Hint:" in text.split("### BEGIN SOLUTION")[0], f"{path.name}: a hint before the solution"
            elif meta["grade"]:
                assert {k: meta[k] for k in NBGRADER_CHECK} == NBGRADER_CHECK, (path.name, meta)
                assert meta["points"] > 0
                assert re.fullmatch(CHECK_CELL, source(cell)), source(cell)
        assert len(grade_ids) == len(set(grade_ids)), f"{path.name}: grade_ids must be unique"


def student_notebooks(repo_root):
    return sorted((repo_root / "notebooks" / "exercises").glob("*.ipynb"))


def test_student_notebooks_hide_the_solutions(repo_root):
    for path in student_notebooks(repo_root):
        solutions = [source(c) for c in code_cells(repo_root / "notebooks" / path.name)
                     if c["metadata"].get("nbgrader", {}).get("solution")]
        student = "\n".join(source(c) for c in code_cells(path))
        body = [line.strip() for s in solutions for line in s.split("### BEGIN SOLUTION")[1].splitlines()
                if line.strip() and "SOLUTION" not in line]
        assert not [line for line in body if line in student], path.name
        assert student.count("raise NotImplementedError()") == len(solutions)
        assert "assert check_" not in student
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code_cells(path))


def test_student_notebooks_run_to_the_end_with_the_stubs(repo_root):
    """Run All in a real kernel: no cell raises, and every check says "not implemented yet"."""
    for path in student_notebooks(repo_root):
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            text = "".join(o.get("text", "") for o in cell.outputs)
            assert not [o for o in cell.outputs if o.output_type == "error" or o.get("name") == "stderr"], \
                (path.name, cell.source, cell.outputs)
            if re.match(r"check_\w+\(", cell.source):
                assert "not implemented yet" in text and "Traceback" not in text, (path.name, text)


@pytest.mark.parametrize("name", ["01_forward_pass", "02_softmax_backprop", "04_maxpool_backprop",
                                  "05_conv_backprop", "06_training_the_cnn", "07_making_it_fast",
                                  "08_full_mnist_and_deeper"])
def test_student_notebooks_pass_with_the_solutions_put_back(repo_root, name):
    """The round trip: the series' solution cells in the student notebook make every check print ✓."""
    solutions = {c["id"]: source(c) for c in code_cells(repo_root / "notebooks" / f"{name}.ipynb")}
    namespace, printed = {}, io.StringIO()
    with contextlib.redirect_stdout(printed):
        for cell in code_cells(repo_root / "notebooks" / "exercises" / f"{name}.ipynb"):
            code = solutions[cell["id"]] if "NotImplementedError" in source(cell) else source(cell)
            exec(compile(code, f"{name}:{cell['id']}", "exec"), namespace)
    lines = printed.getvalue().splitlines()
    assert lines and all(line.startswith("✓ ") and " passed (" in line for line in lines), lines


def test_a_failing_check_cell_shows_its_diagnosis_in_the_error(repo_root):
    """As nbgrader runs a released notebook: the series' exercise section with the solutions cleared and
    the check cells as they are, executed in a kernel with errors allowed. Each check cell fails with an
    AssertionError whose message (what ``nbgrader validate`` prints of a failing cell: its error output's
    traceback) is the check's own verdict, not a bare AssertionError."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_exercises", repo_root / "tools" / "make_exercises.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cells = []
    for path in series_with_exercises(repo_root):
        notebook = nbformat.read(path, as_version=4)
        start = next(k for k, c in enumerate(notebook.cells) if c.source.startswith(tool.SECTION))
        for cell in notebook.cells[start:]:
            if cell.cell_type == "code":
                if cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.source = tool.SOLUTION_BLOCK.sub(lambda m: f"{m['indent']}raise NotImplementedError()\n",
                                                          cell.source)
                cells.append(nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata))
    notebook = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(repo_root / "notebooks")}}).execute()
    checked = 0
    for cell in notebook.cells:
        if not cell.metadata.get("nbgrader", {}).get("grade"):
            assert not [o for o in cell.outputs if o.output_type == "error"], (cell.source, cell.outputs)
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert len(errors) == 1 and errors[0].ename == "AssertionError", cell.outputs
        assert errors[0].evalue == printed.rstrip("\n") and "not implemented yet" in errors[0].evalue, errors[0]
        assert "not implemented yet" in "\n".join(errors[0].traceback)
        checked += 1
    assert checked == len([name for name in checks.__all__ if name.startswith("check_")])
