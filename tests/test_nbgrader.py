"""Grading the exercises with the real nbgrader, on the assignment ``tools/make_exercises.py --nbgrader-source``
generates from every series notebook with an "Implement it yourself" section.

In a temporary course folder (``nbgrader_config.py``, ``source/cnn/``), ``nbgrader generate_assignment cnn``
writes the release; three submissions are autograded, in one ``nbgrader autograde cnn`` as for a class:

- ``stub``: the release as it is (every exercise still ``raise NotImplementedError()``): scores 0;
- ``correct``: the source notebooks, whose solutions are the series' own: scores the maximum, the sum of
  the points of every check cell;
- ``wrong``: the correct one with ``softmax_forward`` written with a typical mistake (``np.exp`` without
  the max shift): loses exactly that exercise's points, and the failing check cell's error, which
  nbgrader's feedback shows, is the check's own diagnosis (its ✗ line and hint).

The scores are read from nbgrader's gradebook (``nbgrader.api.Gradebook``). The autograde time per
submission of the whole assignment is printed, wall-clock and processor time; it is not asserted, as it
depends on the machine. All of this takes about a minute on an idle 2-core machine. Without nbgrader
(``pip install -e '.[teach]'``; ``python3 tasks.py test`` installs it) these tests skip, except under CI
(``CI`` set), where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import nbformat
import numpy as np
import pytest

from cnn_lib import checks

ASSIGNMENT = "cnn"
COURSE_ID = "cnn-from-scratch"
CONFIG = f"""\
c = get_config()
c.CourseDirectory.course_id = "{COURSE_ID}"
c.Execute.timeout = 120  # seconds per cell; nbgrader's default, 30, is tight for a student's loops
"""
# The typical mistake of the wrong submission: softmax without subtracting max(totals) first.
STUDENTS = ("stub", "correct", "wrong")
WRONG_NOTEBOOK = "02_softmax_backprop.ipynb"
WRONG_EXERCISE = "softmax_forward"  # the grade_id of its solution cell
WRONG_SOLUTION = '''\
def softmax_forward(totals):
    """Softmax of a 1-D array of totals."""
    exp = np.exp(totals)
    return exp / np.sum(exp)
'''


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def load_tool(repo_root: Path):
    spec = importlib.util.spec_from_file_location("make_exercises", repo_root / "tools" / "make_exercises.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def nbgrader_env() -> dict[str, str]:
    """nbgrader runs the ``alembic`` command by name to set up its gradebook, so the folder of this
    Python's scripts must be on PATH even when the virtual environment is not activated."""
    scripts = str(Path(sys.executable).parent)
    return dict(os.environ, PATH=os.pathsep.join([scripts, os.environ.get("PATH", "")]))


def run_nbgrader(course: Path, *args: str) -> None:
    """``nbgrader ARGS`` in the course folder, reading its nbgrader_config.py and not the user's own
    (~/.jupyter is replaced by an empty folder)."""
    env = dict(nbgrader_env(), JUPYTER_CONFIG_DIR=str(course.parent / f"{course.name}-jupyter-config"))
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            capture_output=True, text=True, timeout=600)
    log = f"{result.stdout}\n{result.stderr}"
    (course / f"nbgrader-{args[0]}.log").write_text(log)  # kept with pytest's temporary folders
    errors = [line for line in log.splitlines() if "ERROR" in line]
    # ipykernel's known shutdown race: the kernel flushes stderr after its output pipe closed and logs this
    # (zmq "Socket operation on non-socket"); grading is done by then (seen once in ~15 runs; the scores are
    # asserted by the tests). Any other ERROR line fails.
    shutdown_noise = "Uncaught exception in ZMQStream callback"
    if log.count(shutdown_noise) == log.count("zmq.error.ZMQError: Socket operation on non-socket"):
        errors = [line for line in errors if shutdown_noise not in line]
    assert result.returncode == 0 and not errors, \
        f"nbgrader {' '.join(args)} failed (exit status {result.returncode}):\n" + \
        "\n".join(errors[:20]) + f"\n... the end of its log:\n{log[-4000:]}"


def children_cpu_seconds() -> float:
    """Processor time used so far by finished child processes and theirs (nbgrader's kernels): unlike
    the wall-clock time, it hardly depends on what else the machine runs."""
    try:
        import resource
    except ImportError:  # Windows: not measured
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cell_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@dataclass
class GradedCourse:
    root: Path
    source: dict[str, nbformat.NotebookNode]  # notebook file name -> its generated source notebook
    seconds: float = 0.0  # autograding all the submissions, in one nbgrader call: wall-clock time
    cpu_seconds: float = 0.0  # and the processor time it used (nbgrader and the kernels it ran)
    totals: dict[str, tuple[float, float]] = field(default_factory=dict)  # student -> (score, max_score)
    grades: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict)  # (notebook, grade_id)
    manual: dict[str, bool] = field(default_factory=dict)  # student -> needs manual grading

    def autograded(self, student: str, name: str) -> nbformat.NotebookNode:
        return nbformat.read(self.root / "autograded" / student / ASSIGNMENT / name, as_version=4)

    def points(self) -> dict[tuple[str, str], float]:
        """Every check cell's points, from the source's nbgrader metadata."""
        return {(Path(name).stem, cell_id(cell)): cell.metadata.nbgrader["points"]
                for name, notebook in self.source.items() for cell in notebook.cells
                if cell.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def graded(repo_root, tmp_path_factory) -> GradedCourse:
    if importlib.util.find_spec("nbgrader") is None:
        reason = "nbgrader is not installed: pip install -e '.[teach]' (python3 tasks.py test installs it)"
        if in_ci():
            pytest.fail(f"the nbgrader tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(CONFIG)
    source = root / "source" / ASSIGNMENT
    result = subprocess.run([sys.executable, str(repo_root / "tools" / "make_exercises.py"),
                             "--nbgrader-source", str(source)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    course = GradedCourse(root, {p.name: nbformat.read(p, as_version=4) for p in sorted(source.glob("*.ipynb"))})
    assert WRONG_NOTEBOOK in course.source, sorted(course.source)
    run_nbgrader(root, "generate_assignment", ASSIGNMENT)

    submitted = root / "submitted"
    shutil.copytree(root / "release" / ASSIGNMENT, submitted / "stub" / ASSIGNMENT)
    shutil.copytree(source, submitted / "correct" / ASSIGNMENT)
    shutil.copytree(source, submitted / "wrong" / ASSIGNMENT)
    wrong_path = submitted / "wrong" / ASSIGNMENT / WRONG_NOTEBOOK
    notebook = nbformat.read(wrong_path, as_version=4)
    [cell] = [c for c in notebook.cells if cell_id(c) == WRONG_EXERCISE]
    cell.source = WRONG_SOLUTION
    nbformat.write(notebook, wrong_path)

    start, cpu_start = time.perf_counter(), children_cpu_seconds()
    run_nbgrader(root, "autograde", ASSIGNMENT)  # every submission, as for a class
    course.seconds = time.perf_counter() - start
    course.cpu_seconds = children_cpu_seconds() - cpu_start

    from nbgrader.api import Gradebook

    with mock.patch.dict(os.environ, nbgrader_env()), \
            Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        for student in STUDENTS:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            course.totals[student] = (submission.score, submission.max_score)
            course.manual[student] = submission.needs_manual_grade
            course.grades[student] = {(n.name, g.name): g.score for n in submission.notebooks for g in n.grades}
    return course


def test_the_source_is_each_exercise_section_as_it_stands(repo_root, tmp_path):
    """No nbgrader needed: the generated source holds every exercise section of the series, cell for
    cell (ids, sources and nbgrader metadata unchanged), without the series-only cells and outputs."""
    tool = load_tool(repo_root)
    written = tool.generate_nbgrader_source(tmp_path)
    series = [p for p in sorted((repo_root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
              if tool.exercise_section(p) is not None]
    assert [p.name for p in written] == [p.name for p in series] and series
    for path in series:
        cells = nbformat.read(path, as_version=4).cells
        start = next(k for k, c in enumerate(cells)
                     if c.cell_type == "markdown" and c.source.startswith(tool.SECTION))
        expected = [c for c in cells[start:] if "series-only" not in c.metadata.get("tags", [])]
        generated = nbformat.read(tmp_path / path.name, as_version=4)
        nbformat.validate(generated)
        title, *rest = generated.cells
        assert title.cell_type == "markdown" and "nbgrader" not in title.metadata
        assert [(c.id, c.cell_type, c.source, c.metadata.get("nbgrader")) for c in rest] == \
            [(c.id, c.cell_type, c.source, c.metadata.get("nbgrader")) for c in expected], path.name
        assert all(c.outputs == [] and c.execution_count is None for c in rest if c.cell_type == "code")
        assert sum(1 for c in rest if c.metadata.get("nbgrader", {}).get("solution")) >= 1
    assert tool.generate_nbgrader_source(tmp_path) == written  # again: the same files
    assert {p.name: p.read_bytes() for p in written} == \
        {p.name: p.read_bytes() for p in tool.generate_nbgrader_source(tmp_path / "again")}


def test_a_teachers_own_notebook_in_the_source_folder_is_left_alone(repo_root, tmp_path):
    own = tmp_path / "my_extra_exercise.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), own)
    load_tool(repo_root).generate_nbgrader_source(tmp_path)
    assert own.exists()


def test_the_stub_scores_zero(graded):
    score, max_score = graded.totals["stub"]
    assert score == 0 and max_score > 0
    for name in graded.source:
        for cell in graded.autograded("stub", name).cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                [error] = [o for o in cell.outputs if o.output_type == "error"]
                assert error.ename == "AssertionError" and "not implemented yet" in error.evalue, (name, error)


def test_the_correct_submission_scores_the_maximum(graded):
    points = graded.points()
    assert graded.totals["correct"] == (sum(points.values()), sum(points.values()))
    assert graded.grades["correct"] == points
    assert not any(graded.manual.values()), "every exercise is autograded: nothing waits for a person"


def test_the_wrong_submission_loses_that_exercise_only(graded):
    points = graded.points()
    lost = (Path(WRONG_NOTEBOOK).stem, f"check_{WRONG_EXERCISE}")
    assert graded.grades["wrong"] == {**points, lost: 0}
    assert graded.totals["wrong"] == (sum(points.values()) - points[lost], sum(points.values()))


def test_the_wrong_submissions_error_is_the_checks_diagnosis(graded):
    """What nbgrader's feedback shows of a failing test cell is its error: here the check's verdict."""
    namespace = {"np": np}
    exec(WRONG_SOLUTION, namespace)
    verdict = str(checks.check_softmax_forward(namespace[WRONG_EXERCISE]))
    assert verdict.startswith(f"✗ {WRONG_EXERCISE}: ") and "Hint:" in verdict
    [cell] = [c for c in graded.autograded("wrong", WRONG_NOTEBOOK).cells
              if cell_id(c) == f"check_{WRONG_EXERCISE}"]
    [error] = [o for o in cell.outputs if o.output_type == "error"]
    assert error.ename == "AssertionError" and error.evalue == verdict
    assert verdict.splitlines()[0] in "\n".join(error.traceback)


def test_report_the_autograde_time_per_submission(graded, capsys):
    """Not asserted (it depends on the machine): printed for the teacher's guide."""
    per_submission = graded.seconds / len(STUDENTS)
    lines = [f"nbgrader autograde of {len(STUDENTS)} submissions of the whole assignment "
             f"({len(graded.source)} notebooks each): {graded.seconds:.1f} s, {per_submission:.1f} s per submission "
             f"(nbgrader's start-up included once); processor time {graded.cpu_seconds:.1f} s, "
             f"{graded.cpu_seconds / len(STUDENTS):.1f} s per submission"]
    lines += [f"  {student}: score {graded.totals[student][0]:g} of {graded.totals[student][1]:g}"
              for student in STUDENTS]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert graded.seconds > 0
