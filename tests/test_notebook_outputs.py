"""The series notebooks print nothing that depends on the CPU's round-off.

nbval compares every code cell's text output with the committed one, after the replacements of
``tests/nbval_sanitize.cfg`` (timings, rates, memory addresses). A number dominated by floating-point
round-off breaks that comparison on another machine: a float64 matrix product adds its terms in an
order chosen by the BLAS library for the CPU at hand, so its last bits differ between CPUs, and every
gradient check, every "max |difference|" between two implementations, inherits that. Such numbers
must be printed against the bound they meet (``cnn_lib.gradcheck.report_below`` prints
``relative error < 1e-07 ✓``), not digit by digit.

The rule this test applies to the committed outputs, after sanitising them as nbval does:

- a number in scientific notation printed with two or more significant digits (a mantissa with a
  decimal point, ``2.2e-16``, ``0.0e+00``) and a magnitude below ``1e-6`` is flagged: at that size a
  printed error or difference is round-off, or dominated by it;
- a decimal number with 8 or more significant digits (``1.000000000000``, a float's full ``repr``) is
  flagged: its last digits are round-off.

Not flagged: a single significant digit (``1e-10``, ``h = 1e-5``, ``< 1e-07``, ``~3e-11``): bounds,
parameters, and orders of magnitude. An order of magnitude is only stable if it is far from a rounding
boundary on every CPU; no text rule can tell, so that is left to the notebook's author. Values of
round-off size above ``1e-6`` (a relative error of ``2e-6`` at the limit of a check) are not caught
either: the rule errs on the side of no false alarms.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from nbval.plugin import find_comment_markers, find_metadata_tags, get_sanitize_patterns

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SANITIZE_CONFIG = REPO_ROOT / "tests" / "nbval_sanitize.cfg"

TINY = 1e-6  # scientific notation with a decimal mantissa below this magnitude: round-off
LONG = 8  # significant digits from which a decimal number is a full-precision float

# What nbval leaves out of its comparison (nbval.plugin.IPyNbFile.skip_compare, without --nbdime).
NOT_COMPARED = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}

SCIENTIFIC = re.compile(r"(?<![\w.])[-+−]?\d+\.\d+[eE][-+]?\d+(?![\w.])")
DECIMAL = re.compile(r"(?<![\w.])[-+−]?\d+\.\d+(?![\w.]|[eE][-+]?\d)")


def sanitize_patterns(path: Path = SANITIZE_CONFIG) -> list[tuple[str, str]]:
    """The (regex, replacement) pairs of nbval's sanitise file, read by nbval's own parser."""
    return get_sanitize_patterns(path.read_text(encoding="utf-8"))


def sanitize(text: str, patterns: list[tuple[str, str]]) -> str:
    """What nbval compares (``nbval.plugin.IPyNbCell.sanitize``)."""
    for regex, replacement in patterns:
        text = re.sub(regex, replacement, text)
    return text


def significant_digits(number: str) -> int:
    digits = re.sub(r"[^0-9]", "", number).lstrip("0")
    return len(digits)


def roundoff_numbers(line: str) -> list[str]:
    """The numbers in ``line`` whose printed digits depend on round-off (the module's rule)."""
    found = []
    for match in SCIENTIFIC.finditer(line):
        if abs(float(match.group(0).replace("−", "-"))) < TINY:
            found.append(match.group(0))
    for match in DECIMAL.finditer(line):
        if significant_digits(match.group(0)) >= LONG:
            found.append(match.group(0))
    return found


def compared_texts(output: dict) -> list[str]:
    """The text of one output that nbval compares, one string per field."""
    texts = []
    for key, value in output.items():
        if key in NOT_COMPARED:
            continue
        items = value.items() if key == "data" else [(key, value)]
        for name, text in items:
            if name in NOT_COMPARED:
                continue
            text = "".join(text) if isinstance(text, list) else text
            if isinstance(text, str):
                texts.append(text)
    return texts


def nbval_compares(cell: dict) -> bool:
    """Whether nbval checks this code cell's output (no NBVAL_IGNORE_OUTPUT / NBVAL_SKIP)."""
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    options = dict(find_metadata_tags(cell.get("metadata", {})))
    options.update(dict(find_comment_markers(source)))
    return options.get("check", True) and not options.get("skip", False)


def offenders(notebook: Path, patterns: list[tuple[str, str]]) -> list[str]:
    """Every round-off-dependent number in the notebook's compared outputs, as readable lines."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    found, code_index = [], -1
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        code_index += 1
        if not nbval_compares(cell):
            continue
        for output in cell.get("outputs", []):
            for text in compared_texts(output):
                for line in sanitize(text, patterns).splitlines():
                    numbers = roundoff_numbers(line)
                    if numbers:
                        found.append(f"{notebook.relative_to(REPO_ROOT)}, cell {index} (nbval's Cell {code_index}): "
                                     f"{', '.join(numbers)} in {line.strip()[:160]!r}")
    return found


# The detector itself.

@pytest.mark.parametrize("line, numbers", [
    ("conv backward, d_L_d_input: max |difference| = 2.2e-19", ["2.2e-19"]),
    ("relative error 8.8e-08 (threshold 1e-05)", ["8.8e-08"]),
    ("MaxPool2x2 vs MaxPool2, forward: max |difference| = 0.0e+00", ["0.0e+00"]),
    ("first SGD steps:    5.0e-02    3.0e-03   -2.0e-05    1.0e-07   -1.0e-09", ["1.0e-07", "-1.0e-09"]),
    ("sum of out = 1.000000000000", ["1.000000000000"]),
    ("window values: [[-0.3345654111324459, -0.3345654111324459]]", ["-0.3345654111324459"] * 2),
    ("library Softmax.forward: [0.73105858 0.26894142 0.        ]", ["0.73105858", "0.26894142"]),
])
def test_the_detector_flags_roundoff(line, numbers):
    assert roundoff_numbers(line) == numbers


@pytest.mark.parametrize("line", [
    "relative error, d_L_d_w < 1e-07 ✓",
    "Conv vs Conv3x3, d_L_d_filters: max |difference| < 1e-12 ✓",
    "relative error, dL/dout (h = 1e-5) < 1e-07 ✓",
    "h = 1e-04: 4.3e-02",
    "rounding error of a central difference at h = 1e-5: ~3e-11 absolute",
    "smallest |d_L_d_filters| entry: 1.1e-05",
    "relative error 1.0e+00",
    "digit 5: out[c] = 0.1000, loss L = 2.3030 nats",
    "probabilities out: [0.1004 0.1003 0.1001 0.0991]",
    "test accuracy 0.9918 on 10,000 images",
    "python 3.11.2, numpy 2.3.1",
    "[Step 1000] Past 100 steps: Average Loss 1.292 | Accuracy: 75%",
])
def test_the_detector_passes_stable_text(line):
    assert roundoff_numbers(line) == []


def test_timings_are_sanitised_before_the_detector_sees_them():
    patterns = sanitize_patterns()
    assert patterns, f"no regex/replace pairs read from {SANITIZE_CONFIG}"
    line = "Conv3x3.forward: 7291.123456789 µs, im2col 0.0000381234567 s, 1234.56789012 images/s"
    assert roundoff_numbers(line)
    assert roundoff_numbers(sanitize(line, patterns)) == []


def test_cells_nbval_does_not_compare_are_left_out():
    def cell(source, tags=()):
        return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "difference 2.2e-16\n"}]}

    assert nbval_compares(cell("print(x)"))
    assert not nbval_compares(cell("# NBVAL_IGNORE_OUTPUT\nprint(x)"))
    assert not nbval_compares(cell("print(x)", tags=["nbval-skip"]))


def test_the_series_has_notebooks():
    assert NOTEBOOKS


# The committed notebooks.

@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_printed_outputs_do_not_depend_on_roundoff(notebook):
    found = offenders(notebook, sanitize_patterns())
    assert not found, (
        "printed numbers that depend on the CPU's round-off (nbval would compare them; print them against "
        "their bound, e.g. with cnn_lib.gradcheck.report_below, or round them):\n" + "\n".join(found))


# The helper the notebooks print bounds with.

def test_report_below_prints_the_bound_not_the_value(capsys):
    from cnn_lib.gradcheck import report_below

    report_below("relative error, d_L_d_w", 3.2e-10, 1e-7)
    assert capsys.readouterr().out == "relative error, d_L_d_w < 1e-07 ✓\n"


@pytest.mark.parametrize("value", [2e-7, 1e-7, float("nan"), float("inf")])
def test_report_below_fails_with_the_value(value, capsys):
    from cnn_lib.gradcheck import report_below

    with pytest.raises(AssertionError, match=r"relative error, d_L_d_w = .*, not below 1e-07"):
        report_below("relative error, d_L_d_w", value, 1e-7)
    assert capsys.readouterr().out == ""


# The figures of round-off.

def test_roundoff_figures_are_exported_by_the_notebooks():
    from cnn_lib.plotting import ROUNDOFF_FIGURES

    sources = "".join("".join(c["source"]) for p in NOTEBOOKS
                      for c in json.loads(p.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code")
    for name in ROUNDOFF_FIGURES:
        assert f'save_figure(fig, "{name}")' in sources, f"no notebook exports {name}"
        assert (REPO_ROOT / "figures" / f"{name}.png").is_file(), f"figures/{name}.png is not committed"
