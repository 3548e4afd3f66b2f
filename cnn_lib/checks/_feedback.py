"""The machinery every check shares: run the learner's function, judge it, print one verdict.

- ``run`` judges a function on every case and prints ``✓ <name> passed (N cases)`` or one
  ``✗ <name>: <problem>`` line with a ``Hint:``; it never raises for the learner's faults.
- ``call`` runs the learner's function on copies of the arguments and turns every exception it
  raises and every in-place edit into a ``Wrong``, quoting the learner's line.
- ``as_array`` accepts a real-valued NumPy array (or one number) and turns anything else the
  learner returns (None, a list, a generator, a string, complex or boolean values, ...) into a
  ``Wrong`` that says what was expected and what came; ``describe`` names what came.
- ``compare`` turns a wrong answer into a ``Wrong`` that names the mistake: a typical mistake
  (a "variant"), a transposed or rescaled answer, a wrong sign, or the first differing value.

Nothing here calls code the learner wrote except ``call``: an odd value is described from its
type, never by converting, printing or iterating it.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Iterator
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
        print(f"✗ {name}: expected a function, but got {describe(learner)}.\n"
              f"  Hint: pass the function itself, e.g. check_{name}({name}), without calling it.")
        return False
    for number, case in enumerate(cases, 1):
        where = f"case {number} of {len(cases)}: {case['desc']}"
        try:
            with np.errstate(all="ignore"):  # judging a wild answer may overflow: the verdict says enough
                judge(learner, case, where)
        except NotImplementedYet:
            print(f"… {name}: not implemented yet. Replace `raise NotImplementedError()` with your code, "
                  "then run this cell again.")
            return False
        except Wrong as wrong:
            print(f"✗ {name}: {wrong.problem}\n  Hint: {wrong.hint}")
            return False
        except Exception as error:  # a safety net: an answer no check foresaw, or a bug in a check
            print(f"✗ {name}: the check could not judge your answer ({where}): {exception_text(error)}.\n"
                  "  Hint: make sure your function returns what the exercise asks for (the shapes are in its "
                  "text). If it does, this is a bug in the check: please tell your teacher.")
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
    except KeyboardInterrupt:  # interrupting the kernel must still stop an endless loop
        raise
    except BaseException as error:  # any other error in the learner's code becomes feedback, not a traceback
        raise Wrong(f"your function raised {exception_text(error)} ({where}).",
                    f"{learner_line(learner, error)}Read the shapes in the exercise text, then try "
                    "your function on a small input and print the intermediate arrays.") from None
    for index, (arg, kept) in enumerate(zip(args, copies)):
        if isinstance(arg, np.ndarray) and not np.array_equal(arg, kept):
            raise Wrong(f"your function changed its argument number {index + 1} in place ({where}).",
                        "Do not modify the inputs: `x -= m` changes the caller's array, `x = x - m` makes a new one.")
    return result


def exception_text(error: BaseException) -> str:
    """``"ValueError: message"``, or only the name when the message is empty or cannot be printed."""
    try:
        message = str(error)
    except Exception:
        message = "(its message cannot be printed)"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def learner_line(learner: Callable, error: BaseException) -> str:
    """Where in the learner's function ``error`` happened: its line (or the line calling a helper that raised)."""
    code = getattr(learner, "__code__", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if code is not None and f.filename == code.co_filename and f.name == code.co_name]
    if not frames:
        return ""
    frame = frames[-1]
    return f"it happened in line {frame.lineno - code.co_firstlineno + 1} of your function: `{(frame.line or '').strip()}`. "


def close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def describe(value) -> str:
    """What ``value`` is, in a few words: ``None``, ``a list of 3 items``, ``an array of shape (2,) and dtype bool``...

    Only the type, length, shape and dtype are read (and the value of a plain number), so
    describing runs none of the learner's code.
    """
    def items(n: int) -> str:
        return f"{n} item" if n == 1 else f"{n} items"
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"the boolean {bool(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (str, bytes)):
        text = repr(str.__str__(value) if isinstance(value, str) else bytes(value))
        return f"a string {text if len(text) <= 40 else text[:36] + '...' + text[0]}"
    if type(value) in (int, float, complex) or isinstance(value, np.number):
        return f"the number {value.item() if isinstance(value, np.number) else value} ({type(value).__name__})"
    for kind, name in ((list, "list"), (tuple, "tuple"), (dict, "dict"), ((set, frozenset), "set")):
        if isinstance(value, kind):
            return f"a {name} of {items(len(value))}"
    if inspect.isgenerator(value) or isinstance(value, Iterator):
        return "a generator"
    if isinstance(value, type):
        return f"a class ({value.__name__})"
    if inspect.isroutine(value) or isinstance(value, np.ufunc):
        return f"a function ({value.__name__})"
    if callable(value):
        return f"a callable object of type {type(value).__name__}"
    return f"an object of type {type(value).__name__}"


def what_to_return(value) -> str:
    """A hint for a value of the wrong kind: where it usually comes from."""
    if value is None:
        return "Did you forget a `return`, or return the wrong variable?"
    if inspect.isgenerator(value) or isinstance(value, Iterator):
        return ("A function with `yield`, or a generator expression (... for ...), makes a generator: "
                "compute the whole result and `return` it.")
    if isinstance(value, (str, bytes)):
        return "Return the value itself: print() and f-strings make text for people to read."
    if isinstance(value, (list, tuple)):
        return (f"Return a NumPy array, not a Python {type(value).__name__}: create it with np.zeros(shape) "
                "and fill it in, or convert it with np.array(...).")
    if isinstance(value, (dict, set, frozenset)):
        return "Return the value itself, not a container holding it."
    if callable(value):
        return "Return the result of the computation, not a function: did you leave out the call's parentheses?"
    return "Return a NumPy array (np.ndarray), e.g. one made with np.zeros(shape) and filled in."


def container_hint(value, hint: str) -> str:
    """``hint`` for a container of the wrong length; where a value of the wrong kind comes from otherwise."""
    if value is None or isinstance(value, (str, bytes, Iterator)) or inspect.isgenerator(value):
        return what_to_return(value)
    return hint


def as_array(what: str, got, expected: np.ndarray, where: str, shape_hint: str = "") -> np.ndarray:
    """``got`` as a float64 array, if it is a real-valued NumPy array or one real number; else a ``Wrong``.

    The shape is checked by ``compare``; a single number becomes a 0-d array (which then has the
    wrong shape). ``shape_hint`` is the exercise's word on the shape, quoted for a wrong kind of value.
    """
    shape = tuple(np.shape(expected))
    if isinstance(got, np.ndarray) or (isinstance(got, (int, float, complex, np.generic))
                                       and not isinstance(got, (str, bytes))):
        array = np.asarray(got)
    else:
        hint = what_to_return(got)
        if shape_hint and got is not None:
            hint = f"{hint} {shape_hint}"
        raise Wrong(f"{what}: should be a NumPy array of shape {shape}, but it is {describe(got)} ({where}).", hint)
    kind = array.dtype.kind
    if kind == "b":
        raise Wrong(f"{what}: holds True/False values (dtype bool), expected numbers of shape {shape} ({where}).",
                    "A comparison such as x == m gives True/False: use it to choose numbers, e.g. "
                    "np.where(mask, value, 0), or multiply the mask by the values.")
    if kind == "c":
        raise Wrong(f"{what}: holds complex numbers (dtype {array.dtype}), expected real numbers ({where}).",
                    "The answer is real: look for 1j, np.emath or np.lib.scimath, or an array created with "
                    "dtype=complex.")
    if kind == "O":
        raise Wrong(f"{what}: holds Python objects (dtype object), not numbers ({where}).",
                    "NumPy makes an object array from pieces of different shapes, or from None: make every "
                    f"entry one number, in an array of shape {shape}.")
    if kind not in "iuf":
        name = "text" if kind in "US" else f"{array.dtype} values"
        raise Wrong(f"{what}: holds {name} (dtype {array.dtype}), not numbers ({where}).",
                    "Return numbers (float), e.g. in an array made with np.zeros(shape).")
    return np.asarray(array, dtype=np.float64)


def compare(what: str, got, expected: np.ndarray, where: str, hint: str,
            variants: tuple = (), shape_hint: str = "", numeric: np.ndarray | None = None) -> None:
    """Raise ``Wrong`` unless ``got`` equals ``expected``; name the mistake when a variant matches.

    ``variants`` are ``(answer a typical mistake gives, problem, hint)`` triples.
    ``numeric`` is the central-difference gradient, quoted when the values are wrong.
    """
    got = as_array(what, got, expected, where, shape_hint)
    for answer, problem, variant_hint in variants:
        answer = np.asarray(answer, dtype=np.float64)
        if not close(got, expected) and close(got, answer):
            raise Wrong(f"{what}: {problem} ({where}).", variant_hint)
    if got.shape != expected.shape:
        if got.ndim == 2 and got.shape == expected.shape[::-1] and close(got.T, expected):
            raise Wrong(f"{what}: transposed, shape {got.shape}, expected {expected.shape} ({where}).",
                        "Swap the order of the factors (or of the axes) so each axis means what the "
                        "exercise says.")
        if got.ndim == 0:
            raise Wrong(f"{what}: a single number ({float(got):.6g}), expected an array of shape "
                        f"{expected.shape} ({where}).", shape_hint or hint)
        raise Wrong(f"{what}: shape {got.shape}, expected {expected.shape} ({where}).",
                    shape_hint or hint)
    bad = got.size - np.count_nonzero(np.isfinite(got))
    if bad:
        raise Wrong(f"{what}: nan or inf in your result, {bad} of {got.size} values ({where}).", hint)
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
