"""The answers to the end-of-notebook exercises (issue 13): one answers notebook per series notebook.

Every series notebook ``notebooks/NN_*.ipynb`` with a ``## Exercises`` section (a numbered list of
questions) has ``notebooks/answers/NN_*_answers.ipynb``:

- its first cell opens with ``# Answers: <the series notebook's title>`` and links back to it;
- for exercise k it has exactly one markdown cell whose first line is ``## Exercise k``, in order, one per
  question, and that cell quotes the question verbatim as a blockquote (compared with whitespace
  normalised), so that editing a question without its answer fails here, naming notebook and exercise;
- it is committed executed, and obeys the rules the series obeys (``test_notebook_outputs.py``: no
  round-off-dependent printed numbers; ``test_notebook_layout.py``: no code cell longer than a screen,
  long figure-only cells collapsed).

nbval re-executes the answers notebooks with the series (``testpaths`` includes ``notebooks``), which runs
every ``assert`` in them. The generated student notebooks (``notebooks/exercises/``) hold no answers.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

try:
    from test_notebook_layout import LONG_FIGURE_LINES, SCREEN_LINES, figure_only
    from test_notebook_outputs import offenders, sanitize_patterns
except ImportError:  # run as a package
    from .test_notebook_layout import LONG_FIGURE_LINES, SCREEN_LINES, figure_only
    from .test_notebook_outputs import offenders, sanitize_patterns

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
ANSWERS = NOTEBOOKS / "answers"
STUDENT = NOTEBOOKS / "exercises"

EXERCISES_HEADING = "## Exercises"
ANSWER_HEADING = re.compile(r"^## Exercise (\d+)\s*$")
LIST_ITEM = re.compile(r"^(\d+)\. (.*)$")


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def normalised(text: str) -> str:
    return " ".join(text.split())


def exercise_questions(notebook: nbformat.NotebookNode) -> list[str] | None:
    """The numbered questions under the notebook's ``## Exercises`` heading, each as the lines of its list
    item joined with newlines, without the ``k. `` number; ``None`` without such a section.

    The list runs from the heading to the next heading or the end of the cell. A line starting with
    ``k. `` opens item k (numbered 1, 2, 3, ... in order, or ``ValueError``); any other non-blank line
    continues the current item; lines before item 1 are an introduction, not a question.
    """
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        starts = [i for i, line in enumerate(lines) if line.strip() == EXERCISES_HEADING]
        if not starts:
            continue
        items: list[list[str]] = []
        for line in lines[starts[0] + 1:]:
            if line.startswith("#"):
                break
            opened = LIST_ITEM.match(line)
            if opened:
                if int(opened.group(1)) != len(items) + 1:
                    raise ValueError(f"exercise {opened.group(1)} follows exercise {len(items)}: number them 1, 2, 3, ...")
                items.append([opened.group(2)])
            elif line.strip() and items:   # text before exercise 1 (the link to the answers) is no question
                items[-1].append(line.strip())
        return ["\n".join(item) for item in items]
    return None


def answer_cells(notebook: nbformat.NotebookNode) -> list[tuple[int, int, str]]:
    """``(cell index, k, source)`` of every cell with a ``## Exercise k`` line, in notebook order."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for line in cell.source.splitlines():
            heading = ANSWER_HEADING.match(line)
            if heading:
                found.append((index, int(heading.group(1)), cell.source))
    return found


def quoted_question(source: str) -> str:
    """The blockquote right after the cell's first line (blank lines skipped), with its ``>`` marks removed."""
    quote = []
    for line in source.splitlines()[1:]:
        if line.startswith(">"):
            quote.append(line[1:].removeprefix(" "))
        elif quote or line.strip():
            break
    return "\n".join(quote)


def answers_path(series: Path) -> Path:
    return ANSWERS / f"{series.stem}_answers.ipynb"


def answers_of(series: Path) -> nbformat.NotebookNode:
    """The answers notebook of ``series``; a test of its contents is skipped while it is missing (the test
    of its existence fails)."""
    if not answers_path(series).is_file():
        pytest.skip(f"no {answers_path(series).relative_to(REPO_ROOT)} (see the existence test)")
    return read(answers_path(series))


SERIES_WITH_EXERCISES = [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if exercise_questions(read(p))]
IDS = [p.stem for p in SERIES_WITH_EXERCISES]


# The parsers themselves.

SAMPLE_SERIES = """## Summary

- a point

## Exercises

1. First question,
   on two lines.
2. Second $x_k$ question:
   $$\\sum_i x_i$$
   and more.
"""


def test_the_questions_are_read_item_by_item():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(SAMPLE_SERIES)])
    assert exercise_questions(notebook) == ["First question,\non two lines.",
                                            "Second $x_k$ question:\n$$\\sum_i x_i$$\nand more."]
    assert exercise_questions(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Summary")])) is None
    skipped = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Exercises\n\n1. a\n3. b")])
    with pytest.raises(ValueError, match="exercise 3 follows exercise 1"):
        exercise_questions(skipped)


def test_the_quote_is_read_from_the_answer_cell():
    source = "## Exercise 2\n\n> Second $x_k$ question:\n> $$\\sum_i x_i$$\n>\n> and more.\n\n**Answer.** Yes.\n> not this"
    assert quoted_question(source) == "Second $x_k$ question:\n$$\\sum_i x_i$$\n\nand more."
    assert answer_cells(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)]))[0][1] == 2
    assert not ANSWER_HEADING.match("### Exercise 1: `conv_forward`")   # the classroom exercises' headings


def test_the_series_has_exercises():
    assert SERIES_WITH_EXERCISES


# The answers notebooks.

@pytest.mark.parametrize("series", SERIES_WITH_EXERCISES, ids=IDS)
def test_every_series_notebook_with_exercises_has_an_answers_notebook(series):
    path = answers_path(series)
    assert path.is_file(), (f"{series.name} has {len(exercise_questions(read(series)))} exercises but no answers "
                            f"notebook: write {path.relative_to(REPO_ROOT)}")


@pytest.mark.parametrize("series", SERIES_WITH_EXERCISES, ids=IDS)
def test_the_series_notebook_links_to_its_answers(series):
    """A learner finds the answers from the questions: the Exercises section links to them."""
    link = f"](answers/{answers_path(series).name})"
    sections = [c.source for c in read(series).cells
                if c.cell_type == "markdown" and EXERCISES_HEADING in c.source.splitlines()]
    assert sections and link in sections[0].split(EXERCISES_HEADING, 1)[1], \
        f"{series.name}: its {EXERCISES_HEADING!r} section does not link to answers/{answers_path(series).name}"


@pytest.mark.parametrize("series", SERIES_WITH_EXERCISES, ids=IDS)
def test_the_answers_notebook_opens_with_the_title_and_a_link_back(series):
    opening = answers_of(series).cells[0]
    title = read(series).cells[0].source.splitlines()[0].removeprefix("# ").strip()
    assert opening.cell_type == "markdown"
    assert opening.source.splitlines()[0] == f"# Answers: {title}", f"{answers_path(series).name}: first line"
    assert f"](../{series.name})" in opening.source, f"{answers_path(series).name}: no link back to ../{series.name}"


@pytest.mark.parametrize("series", SERIES_WITH_EXERCISES, ids=IDS)
def test_one_answer_per_exercise_in_order_quoting_its_question(series):
    questions = exercise_questions(read(series))
    answers = answer_cells(answers_of(series))
    name = answers_path(series).name
    numbers = [k for _, k, _ in answers]
    assert numbers == list(range(1, len(questions) + 1)), (
        f"{name}: '## Exercise k' cells for k = {numbers}; {series.name} has exercises 1-{len(questions)}, "
        "one cell each, in order")
    for (index, k, source), question in zip(answers, questions):
        assert source.splitlines()[0].strip() == f"## Exercise {k}", (
            f"{name}, cell {index}: '## Exercise {k}' must be the cell's first line")
        assert normalised(quoted_question(source)) == normalised(question), (
            f"{name}, exercise {k} does not quote its question as {series.name} asks it now; update the quote "
            f"(and the answer, if the question changed).\n  question: {normalised(question)}\n"
            f"  quoted:   {normalised(quoted_question(source))}")


@pytest.mark.parametrize("series", SERIES_WITH_EXERCISES, ids=IDS)
def test_the_answers_notebook_is_committed_executed(series):
    code = [(i, c) for i, c in enumerate(answers_of(series).cells) if c.cell_type == "code"]
    unexecuted = [i for i, c in code if c.execution_count is None]
    errors = [i for i, c in code if any(o.output_type == "error" for o in c.outputs)]
    assert code and not unexecuted and not errors, (
        f"{answers_path(series).name}: cells {unexecuted} not executed, cells {errors} with an error; "
        "execute the notebook and commit it with its outputs")


@pytest.mark.parametrize("series", SERIES_WITH_EXERCISES, ids=IDS)
def test_the_answers_print_nothing_that_depends_on_roundoff(series):
    answers_of(series)
    found = offenders(answers_path(series), sanitize_patterns())
    assert not found, "printed numbers that depend on the CPU's round-off (see test_notebook_outputs.py):\n" + "\n".join(found)


@pytest.mark.parametrize("series", SERIES_WITH_EXERCISES, ids=IDS)
def test_the_answers_follow_the_layout_rules(series):
    cells = [(i, c) for i, c in enumerate(answers_of(series).cells) if c.cell_type == "code"]
    long = [i for i, c in cells if len(c.source.splitlines()) > SCREEN_LINES]
    open_figures = [i for i, c in cells if len(c.source.splitlines()) >= LONG_FIGURE_LINES and figure_only(c.source)
                    and not c.metadata.get("jupyter", {}).get("source_hidden")]
    assert not long, f"{answers_path(series).name}: cells {long} are over {SCREEN_LINES} lines; split them"
    assert not open_figures, (f"{answers_path(series).name}: cells {open_figures} only draw a figure; collapse "
                              "them (metadata jupyter.source_hidden = true)")


def test_no_answers_notebook_without_a_series_notebook():
    expected = {answers_path(p).name for p in SERIES_WITH_EXERCISES}
    stray = sorted(p.name for p in ANSWERS.glob("*.ipynb") if p.name not in expected)
    assert not stray, f"answers notebooks without a series notebook with exercises: {stray}"


# The student notebooks.

def test_the_student_notebooks_hold_no_answers():
    leaked = [f"{path.name}, cell {index}: '## Exercise {k}'"
              for path in sorted(STUDENT.glob("*.ipynb")) for index, k, _ in answer_cells(read(path))]
    assert not leaked, f"answer cells in the generated student notebooks: {leaked}"
