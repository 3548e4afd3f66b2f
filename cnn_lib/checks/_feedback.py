"""The machinery every check shares: run the learner's function, judge it, print one verdict.

- ``run`` judges a function on every case and prints ``✓ <name> passed (N cases)`` or one
  ``✗ <name>: <problem>`` line with a ``Hint:``; it never raises for the learner's faults.
- ``call`` runs the learner's function on copies of the arguments and turns its exceptions and
  in-place edits into a ``Wrong``, quoting the learner's line.
- ``compare`` turns a wrong answer into a ``Wrong`` that names the mistake: a typical mistake
  (a "variant"), a transposed or rescaled answer, a wrong sign, or the first differing value.
"""

from __future__ import annotations

import traceback
from typing import Callable

import numpy as np

from ..gradcheck import rel_error


RTOL, ATOL = 1e-6, 1e-9


class Wrong(Exception):
    """A diagnosis: what is wrong (one sentence with the case) and a hint."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


class NotImplementedYet(Exception):
    pass


def run(name: str, learner: Callable, cases: list, judge: Callable) -> bool:
    """Judge ``learner`` on every case; print one verdict; never raise for the learner's faults."""
    if not callable(learner):
        print(f"✗ {name}: expected a function, but got {type(learner).__name__}.\n"
              f"  Hint: pass the function itself, e.g. check_{name}({name}), without calling it.")
        return False
    for number, case in enumerate(cases, 1):
        try:
            judge(learner, case, f"case {number} of {len(cases)}: {case['desc']}")
        except NotImplementedYet:
            print(f"… {name}: not implemented yet. Replace `raise NotImplementedError()` with your code, "
                  "then run this cell again.")
            return False
        except Wrong as wrong:
            print(f"✗ {name}: {wrong.problem}\n  Hint: {wrong.hint}")
            return False
    print(f"✓ {name} passed ({len(cases)} cases)")
    return True


def call(learner: Callable, where: str, *args):
    """Call the learner on copies of ``args``; turn its exceptions and in-place edits into a ``Wrong``."""
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # a net is passed as it is
    try:
        with np.errstate(all="ignore"):  # an overflow is explained by the feedback, not by a warning
            result = learner(*copies)
    except NotImplementedError:
        raise NotImplementedYet from None
    except Exception as error:  # any error in the learner's code becomes feedback, not a traceback
        raise Wrong(f"your function raised {type(error).__name__}: {error} ({where}).",
                    f"{learner_line(learner, error)}Read the shapes in the exercise text, then try "
                    "your function on a small input and print the intermediate arrays.") from None
    for index, (arg, kept) in enumerate(zip(args, copies)):
        if isinstance(arg, np.ndarray) and not np.array_equal(arg, kept):
            raise Wrong(f"your function changed its argument number {index + 1} in place ({where}).",
                        "Do not modify the inputs: `x -= m` changes the caller's array, `x = x - m` makes a new one.")
    return result


def learner_line(learner: Callable, error: Exception) -> str:
    code = getattr(learner, "__code__", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if code is not None and f.filename == code.co_filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f"it happened in line {frame.lineno - code.co_firstlineno + 1} of your function: `{(frame.line or '').strip()}`. "


def close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def as_array(what: str, got, expected: np.ndarray, where: str) -> np.ndarray:
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if got is None or array is None or array.dtype == object:
        raise Wrong(f"{what}: should be a NumPy array of shape {expected.shape}, but it is "
                    f"{type(got).__name__} ({where}).",
                    "Did you forget a `return`, or return the wrong variable?")
    return array


def compare(what: str, got, expected: np.ndarray, where: str, hint: str,
            variants: tuple = (), shape_hint: str = "", numeric: np.ndarray | None = None) -> None:
    """Raise ``Wrong`` unless ``got`` equals ``expected``; name the mistake when a variant matches.

    ``variants`` are ``(answer a typical mistake gives, problem, hint)`` triples.
    ``numeric`` is the central-difference gradient, quoted when the values are wrong.
    """
    got = as_array(what, got, expected, where)
    for answer, problem, variant_hint in variants:
        answer = np.asarray(answer, dtype=np.float64)
        if not close(got, expected) and close(got, answer):
            raise Wrong(f"{what}: {problem} ({where}).", variant_hint)
    if got.shape != expected.shape:
        if got.ndim == 2 and got.shape == expected.shape[::-1] and close(got.T, expected):
            raise Wrong(f"{what}: transposed, shape {got.shape}, expected {expected.shape} ({where}).",
                        "Swap the order of the factors (or of the axes) so each axis means what the "
                        "exercise says.")
        raise Wrong(f"{what}: shape {got.shape}, expected {expected.shape} ({where}).",
                    shape_hint or hint)
    if not np.all(np.isfinite(got)):
        raise Wrong(f"{what}: nan or inf in your result ({where}).", hint)
    if close(got, expected):
        return
    against_numeric = ""
    if numeric is not None:
        against_numeric = (f" Central differences agree with the reference to {rel_error(expected, numeric):.0e} "
                           f"but differ from yours by a relative error of {rel_error(got, numeric):.1e}.")
    if np.any(expected) and close(got, -expected):
        raise Wrong(f"{what}: right size, wrong sign ({where}).{against_numeric}",
                    "Check each minus sign, and return the gradient itself, not the direction of the "
                    "step (-gradient).")
    norm = float(np.sum(expected * expected))
    factor = float(np.sum(got * expected)) / norm if norm else 0.0
    if norm and abs(factor) > 1e-12 and close(got, factor * expected):
        raise Wrong(f"{what}: {factor:.4g} times the right answer ({where}).{against_numeric}",
                    "A constant factor is missing or extra, e.g. a factor of the chain rule, a sum or "
                    "mean over the wrong thing, or a learning rate: return the gradient, not the update.")
    index = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape)
    raise Wrong(f"{what}: right shape, wrong values ({where}): at index {tuple(int(i) for i in index)} "
                f"you return {got[index]:.6g}, the reference gives {expected[index]:.6g}.{against_numeric}",
                hint)


def case_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)
