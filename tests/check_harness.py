"""What the tests of every exercise check share: running a check, the tests each exercise gets, and the odd
things a learner's function can return or raise.

``tests/test_checks.py`` (notebooks 02-06), ``tests/test_checks_fast.py`` (07) and ``tests/test_checks_deep.py``
(08) each list their exercises' right answers and typical mistakes, and take the common tests from
``exercise_tests``: right answers pass; each mistake is rejected with its feedback and shows no solution code;
a stub says "not implemented yet"; passing the result instead of the function is explained; any exception is
one ✗ line naming the learner's line; a check cell's assert carries the diagnosis (what nbgrader shows).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from cnn_lib import checks
from cnn_lib.checks import _feedback


def run_check(exercise: str, function, capsys) -> tuple[bool, str]:
    """``(passed, printed)``: the check's verdict as a bool, and what it printed (the verdict's text)."""
    verdict = getattr(checks, f"check_{exercise}")(function)
    out = capsys.readouterr().out
    assert isinstance(verdict, _feedback.Verdict) and out == f"{verdict}\n", (verdict, out)
    return bool(verdict), out


def assert_feedback(exercise: str, passed: bool, out: str, *phrases: str) -> None:
    """One ✗ line naming the problem (with every phrase), one hint line, and nothing else."""
    assert passed is False, out
    assert out.startswith(f"✗ {exercise}: ") and "\n  Hint: " in out and out.count("\n") == 2, out
    assert "Traceback" not in out and "could not judge" not in out, out
    problem = out.split("\n  Hint: ")[0]
    for phrase in phrases:
        assert phrase in problem, f"expected {phrase!r} in the problem line of:\n{out}"


def returning(right: Callable, transform: Callable) -> Callable:
    """A learner that computes the right answer with ``right``, then returns ``transform(answer)``."""
    def learner(*args):
        return transform(right(*args))
    return learner


def central_differences(loss: Callable[[], float], x: np.ndarray, indices=None, h: float = 1e-5) -> np.ndarray:
    """dL/dx by (L(x + h) - L(x - h)) / 2h, one element at a time (x is nudged in place and restored);
    with ``indices``, only those elements (the others stay 0)."""
    gradient = np.zeros(x.shape)
    for index in (np.ndindex(x.shape) if indices is None else indices):
        kept = x[index]
        x[index] = kept + h
        plus = loss()
        x[index] = kept - h
        minus = loss()
        x[index] = kept
        gradient[index] = (plus - minus) / (2 * h)
    return gradient


def assert_gradient(analytic: np.ndarray, numeric: np.ndarray) -> None:
    error = np.max(np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric)))
    assert analytic.shape == numeric.shape and error < 1e-6, error


# ----------------------------------------------------------------------------- odd values and exceptions
# Whatever a learner's function returns or raises, a check prints one ✗ line that says what was expected
# and what came, with a hint, and returns False: never a traceback, never the safety net's "could not judge".


class Opaque:
    """An object NumPy cannot read: its ``__array__`` raises."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array here")


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("cannot print this error")


class NotAnException(BaseException):
    pass


# (what the learner returned instead of the right array a, how, a phrase the ✗ line must contain)
ODD_ARRAYS = [
    ("None", lambda a: None, "it is None"),
    ("a generator", lambda a: (v for v in a), "a generator"),
    ("a list", lambda a: a.tolist(), "a list of"),
    ("a tuple", lambda a: tuple(a), "a tuple of"),
    ("a dict", lambda a: {"out": a}, "a dict"),
    ("a set", lambda a: {1.0, 2.0}, "a set"),
    ("a string", lambda a: str(a), "a string"),
    ("the function np.exp", lambda a: np.exp, "a function"),
    ("an object NumPy cannot read", lambda a: Opaque(), "an object of type Opaque"),
    ("complex dtype", lambda a: a.astype(complex), "complex numbers"),
    ("complex values", lambda a: a + 1j, "complex numbers"),
    ("object dtype", lambda a: a.astype(object), "dtype object"),
    ("an object array holding None", lambda a: np.array([a, None], dtype=object), "dtype object"),
    ("bool dtype", lambda a: a > 0, "True/False"),
    ("text dtype", lambda a: a.astype(str), "text"),
    ("datetime dtype", lambda a: np.zeros(a.shape, dtype="datetime64[s]"), "datetime64"),
    ("all nan", lambda a: np.full(a.shape, np.nan), "nan or inf"),
    ("one inf", lambda a: np.where(np.arange(a.size).reshape(a.shape) == 0, np.inf, a), "nan or inf"),
    ("a Python float", lambda a: float(np.sum(a)), "a single number"),
    ("a NumPy scalar", lambda a: np.sum(a), "a single number"),
    ("a 0-d array", lambda a: np.array(1.5), "a single number"),
    ("an empty array", lambda a: np.array([]), "shape (0,)"),
    ("an extra axis", lambda a: a[..., np.newaxis], "shape"),
]

# (what one gradient of a returned tuple was instead of an array g, how, a phrase the ✗ line must contain)
ODD_GRADIENTS = [
    ("None", lambda x: None, "should be a NumPy array"),
    ("a list", lambda x: x.tolist(), "a list of"),
    ("complex", lambda x: x.astype(complex), "complex numbers"),
    ("nan", lambda x: x * np.nan, "nan or inf"),
    ("bool", lambda x: x > 0, "True/False"),
    ("an extra axis", lambda x: x[np.newaxis], "shape"),
]

# (the exception a learner's function raises, a phrase the ✗ line must contain)
RAISED = [
    (lambda: ValueError("shapes (3,) and (4,) not aligned"), "raised ValueError: shapes (3,) and (4,) not aligned"),
    (lambda: ZeroDivisionError("division by zero"), "raised ZeroDivisionError: division by zero"),
    (lambda: KeyError("weights"), "raised KeyError: 'weights'"),
    (lambda: TypeError(), "raised TypeError ("),
    (UnprintableError, "raised UnprintableError"),
    (NotAnException, "raised NotAnException"),
    (lambda: SystemExit(1), "raised SystemExit"),
]


# ----------------------------------------------------------------------------- the tests every exercise gets


def exercise_tests(right: dict[str, list[Callable]], wrong: list[tuple], solution_lines: set[str],
                   min_mistakes: int, array_exercises: list[str]) -> dict[str, Callable]:
    """The common tests of a group of exercises, as test functions for the calling module's namespace::

        globals().update(exercise_tests(RIGHT, WRONG, SOLUTION_LINES, min_mistakes=7, array_exercises=[...]))

    ``right``: each exercise's right answers (the first is the model answer); ``wrong``: tuples
    ``(exercise, what the learner did, the function, a key phrase the feedback must contain)``;
    ``solution_lines``: code lines of the solutions that no feedback may show; ``array_exercises``: those
    that return one array (so every odd value of ``ODD_ARRAYS`` is tried in its place).
    """
    exercises = list(right)

    @pytest.mark.parametrize("exercise", exercises)
    def test_right_answers_pass(exercise, capsys):
        for function in right[exercise]:
            passed, out = run_check(exercise, function, capsys)
            assert passed is True, out
            assert out.startswith(f"✓ {exercise} passed (") and out.count("\n") == 1, out

    @pytest.mark.parametrize("exercise, mistake, function, phrase", wrong, ids=[f"{w[0]}: {w[1]}" for w in wrong])
    def test_typical_mistakes_are_rejected_with_their_feedback(exercise, mistake, function, phrase, capsys):
        passed, out = run_check(exercise, function, capsys)
        assert passed is False, f"{mistake} passed:\n{out}"
        assert out.startswith(f"✗ {exercise}: ") and "\n  Hint: " in out and out.count("\n") == 2, out
        assert phrase in out, f"{mistake}: expected {phrase!r} in:\n{out}"
        shown = [line for line in solution_lines if line in out]
        assert not shown, f"the feedback shows solution code: {shown}"

    def test_every_exercise_has_enough_typical_mistakes():
        counts = {exercise: sum(w[0] == exercise for w in wrong) for exercise in exercises}
        assert all(n >= min_mistakes for n in counts.values()), (min_mistakes, counts)

    @pytest.mark.parametrize("exercise", array_exercises)
    @pytest.mark.parametrize("odd, transform, phrase", ODD_ARRAYS, ids=[o[0] for o in ODD_ARRAYS])
    def test_odd_arrays_are_feedback(exercise, odd, transform, phrase, capsys):
        passed, out = run_check(exercise, returning(right[exercise][0], transform), capsys)
        assert_feedback(exercise, passed, out, phrase)

    @pytest.mark.parametrize("exercise", exercises)
    def test_a_stub_gets_a_friendly_message(exercise, capsys):
        def stub(*args):
            raise NotImplementedError()
        passed, out = run_check(exercise, stub, capsys)
        assert passed is False
        assert "not implemented yet" in out and "Traceback" not in out and out.count("\n") == 1, out

    @pytest.mark.parametrize("exercise", exercises)
    def test_passing_the_result_instead_of_the_function_is_explained(exercise, capsys):
        passed, out = run_check(exercise, np.zeros(3), capsys)
        assert passed is False and "pass the function itself" in out, out

    @pytest.mark.parametrize("exercise", exercises)
    def test_an_error_in_the_learners_code_is_feedback_not_a_traceback(exercise, capsys):
        def broken(*args):
            values = [1, 2, 3]
            return values[7]
        passed, out = run_check(exercise, broken, capsys)
        assert_feedback(exercise, passed, out, "raised IndexError: list index out of range")
        assert "line 3 of your function: `return values[7]`" in out, out

    @pytest.mark.parametrize("exercise", exercises)
    @pytest.mark.parametrize("error, phrase", RAISED, ids=[p.split()[1].rstrip(":") for _, p in RAISED])
    def test_any_exception_of_the_learner_is_feedback(exercise, error, phrase, capsys):
        def broken(*args):
            raise error()
        passed, out = run_check(exercise, broken, capsys)
        assert_feedback(exercise, passed, out, phrase)
        assert "line 2 of your function: `raise error()`" in out, out

    @pytest.mark.parametrize("exercise", exercises)
    def test_the_assert_of_a_check_cell_carries_the_diagnosis(exercise, capsys):
        """The notebooks' check cells read ``assert (verdict := check_x(x)), verdict``: the right answer passes
        the assert, and the AssertionError nbgrader shows for a failing cell holds the ✗ line and its hint,
        not a bare AssertionError."""
        check = getattr(checks, f"check_{exercise}")
        cell = f"assert (verdict := check_{exercise}({exercise})), verdict"

        def stub(*args):
            raise NotImplementedError()

        def wrong_answer(*args):
            return None
        for learner, phrase in ((stub, "not implemented yet"), (wrong_answer, "Hint: ")):
            with pytest.raises(AssertionError) as failure:
                exec(cell, {f"check_{exercise}": check, exercise: learner})
            printed = capsys.readouterr().out
            assert str(failure.value) + "\n" == printed and phrase in str(failure.value), (failure.value, printed)
        exec(cell, {f"check_{exercise}": check, exercise: right[exercise][0]})

    return {name: test for name, test in locals().items() if name.startswith("test_")}
