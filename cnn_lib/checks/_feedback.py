"""The machinery every check shares: run the learner's function, judge it, print one verdict.

- ``run`` judges a function on every case, prints ``✓ <name> passed (N cases)`` or one
  ``✗ <name>: <problem>`` line with a ``Hint:``, and returns the same text as a ``Verdict`` (true
  when the function passed); it never raises for the learner's faults.
- ``call`` runs the learner's function on copies of the arguments and turns every exception it
  raises and every in-place edit into a ``Wrong``, quoting the learner's line (``learner_line``:
  the line of the learner's function, or of a helper defined next to it, where the error happened).
- ``as_array`` accepts a real-valued NumPy array (or one number) and turns anything else the
  learner returns (None, a list, a generator, a string, complex or boolean values, float16, ...)
  into a ``Wrong`` that says what was expected and what came; ``describe`` names what came.
- ``tolerance`` says how close an answer must be for the dtype it came in: float64 (and integers)
  to a relative 1e-6, float32 to a relative 1e-5 of the answer's scale (about 100 of float32's
  roundings), so a float32 answer is judged at float32's precision, the same way in every check.
- ``compare`` turns a wrong answer into a ``Wrong`` that names the mistake: a typical mistake
  (a "variant"), a transposed or rescaled answer, a wrong sign, or the first differing value,
  printed with enough digits to show the difference and, for a near miss, its dtype.

Nothing here calls code the learner wrote except ``call``: an odd value is described from its
type, never by converting, printing or iterating it.
"""

from __future__ import annotations

import inspect
import linecache
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..gradcheck import rel_error


RTOL, ATOL = 1e-6, 1e-9  # float64, and integers: agreement to 6 digits
FLOAT32_RTOL = 1e-5      # float32 rounds at 6e-8 relative; sums of many terms lose a few more digits
NEAR_MISS = 1e-3         # a wrong answer closer than this (relative to its scale) is reported as rounding


class Wrong(Exception):
    """A diagnosis: what is wrong (one sentence with the case) and a hint."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


class NotImplementedYet(Exception):
    pass


class Verdict:
    """What a check found: true if the function passed, false if not; ``str(verdict)`` is the printed text.

    A check prints its verdict and returns it, so a student notebook shows the ✓ or ✗ line, and an
    ``assert`` can carry it: ``assert (verdict := check_x(x)), verdict`` fails with the diagnosis as
    the AssertionError's message, which is all that ``nbgrader validate`` and the autograder's
    feedback show of a failing cell.
    """

    __slots__ = ("name", "passed", "message")

    def __init__(self, name: str, passed: bool, message: str):
        self.name, self.passed, self.message = name, bool(passed), message

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"<Verdict {self.message.splitlines()[0]}>"


def run(name: str, learner: Callable, cases: list, judge: Callable) -> Verdict:
    """Judge ``learner`` on every case; print one verdict and return it; never raise for the learner's faults."""
    verdict = _judge_all(name, learner, cases, judge)
    print(verdict.message)
    return verdict


def _judge_all(name: str, learner: Callable, cases: list, judge: Callable) -> Verdict:
    if not callable(learner):
        return Verdict(name, False, f"✗ {name}: expected a function, but got {describe(learner)}.\n"
                       f"  Hint: pass the function itself, e.g. check_{name}({name}), without calling it.")
    _lenient.clear()
    for number, case in enumerate(cases, 1):
        where = f"case {number} of {len(cases)}: {case['desc']}"
        try:
            with np.errstate(all="ignore"):  # judging a wild answer may overflow: the verdict says enough
                judge(learner, case, where)
        except NotImplementedYet:
            return Verdict(name, False, f"… {name}: not implemented yet. Replace `raise NotImplementedError()` "
                           "with your code, then run this cell again.")
        except Wrong as wrong:
            return Verdict(name, False, f"✗ {name}: {wrong.problem}\n  Hint: {wrong.hint}")
        except Exception as error:  # a safety net: an answer no check foresaw, or a bug in a check
            return Verdict(name, False, f"✗ {name}: the check could not judge your answer ({where}): "
                           f"{exception_text(error)}.\n  Hint: make sure your function returns what the exercise "
                           "asks for (the shapes are in its text). If it does, this is a bug in the check: please "
                           "tell your teacher.")
    note = ""
    if _lenient:
        dtypes = " and ".join(sorted({t.dtype.name for t in _lenient}))
        rtol = max(t.rtol for t in _lenient)
        note = (f" Your results are {dtypes}: they agree with the reference to a relative {rtol:.0e}, "
                f"within {dtypes}'s precision (float64 results are checked to {RTOL:.0e}).")
    return Verdict(name, True, f"✓ {name} passed ({len(cases)} cases).{note}" if note
                   else f"✓ {name} passed ({len(cases)} cases)")


@dataclass(frozen=True)
class Tolerance:
    """How close an answer in ``dtype`` must be to the reference: ``np.allclose(got, expected, rtol, atol)``."""

    dtype: np.dtype
    rtol: float
    atol: float

    @property
    def lenient(self) -> bool:
        """Looser than float64's: the answer's dtype keeps fewer digits."""
        return self.rtol > RTOL

    def close(self, a: np.ndarray, b: np.ndarray) -> bool:
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=self.rtol, atol=self.atol))


_lenient: list = []  # the lenient tolerances an answer passed with, during one run(): its ✓ line names them


def tolerance(dtype, scale: float = 1.0) -> Tolerance:
    """The tolerance for an answer of ``dtype`` whose values are about ``scale`` in size (``max |expected|``).

    float64, wider floats and integers: a relative 1e-6 and an absolute 1e-9. float32, which rounds at a
    relative 6e-8: a relative 1e-5, and an absolute 1e-5 of ``scale``, since a value that cancels to
    about 0 in float32 keeps the rounding error of the larger terms it was summed from. (float16 is
    turned away by ``as_array``.)
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and np.finfo(dtype).eps > np.finfo(np.float64).eps:
        return Tolerance(dtype, FLOAT32_RTOL, max(ATOL, FLOAT32_RTOL * float(scale)))
    return Tolerance(dtype, RTOL, ATOL)


def accept(tol: Tolerance) -> None:
    """Record that an answer was accepted at ``tol``, so that the ✓ line names a lenient dtype."""
    if tol.lenient and tol not in _lenient:
        _lenient.append(tol)


def accept_if_valid(got: np.ndarray, expected: np.ndarray, tol: Tolerance,
                    is_valid: Callable[[np.ndarray, Tolerance], bool]) -> bool:
    """Accept ``got`` (and return True) when it has ``expected``'s shape, is finite and ``is_valid(got, tol)``.

    For gradients at a kink, where more than one answer is right (any subgradient): ``is_valid`` receives
    ``got`` in float64. Returns False, accepting nothing, otherwise, so that ``compare`` can say what is wrong.
    """
    got_float = np.asarray(got, dtype=np.float64)
    if got_float.shape == expected.shape and np.all(np.isfinite(got_float)) and is_valid(got_float, tol):
        accept(tol)
        return True
    return False


def digits_to_show(a: float, b: float) -> int:
    """Significant digits that show where ``a`` and ``b`` differ (at least 6, at most 17)."""
    difference, size = abs(a - b), max(abs(a), abs(b))
    if not (math.isfinite(difference) and difference > 0 and size > 0):
        return 6
    return max(6, min(17, math.ceil(-math.log10(difference / size)) + 2))


def pair(got: float, expected: float) -> str:
    """``"you return 0.12345678, the reference gives 0.12345612"``: enough digits to see the difference."""
    n = digits_to_show(got, expected)
    return f"you return {got:.{n}g}, the reference gives {expected:.{n}g}"


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


COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")


def learner_line(learner: Callable, error: BaseException) -> str:
    """Where ``error`` happened in the learner's code, as the start of a hint (``""`` if unknown).

    The learner's code is the function passed to the check and any function defined in the same
    file (the same notebook cell): a helper, a nested function, a lambda. The deepest such frame of
    the traceback names the line, counted from the ``def`` of the function it belongs to; for an
    error inside a helper, the line of the learner's function that called it follows. Frames are
    matched by code object, not by name, so a helper of the same name elsewhere cannot be mistaken
    for the learner's function.
    """
    code = getattr(learner, "__code__", None)
    if code is None:
        return ""
    frames = []  # (code, line) of every frame from the learner's function down to the error
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            frames = []  # the learner's innermost call (it may be recursive) starts the chain
        frames.append((tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    if not frames or frames[0][0] is not code:
        return ""
    own = [(c, line) for c, line in frames if c.co_filename == code.co_filename]
    where_line = own[-1][1]
    owner = next(c for c, _ in reversed(own) if c.co_name not in COMPREHENSIONS)  # the function holding it
    place = f"line {where_line - owner.co_firstlineno + 1}"
    if owner is code:
        return f"it happened in {place} of your function{_quote(code, where_line)}. "
    name = "a lambda" if owner.co_name == "<lambda>" else f"`{owner.co_name}`"
    call_line = frames[0][1]
    return (f"it happened in {place} of your helper {name}{_quote(owner, where_line)} (called in line "
            f"{call_line - code.co_firstlineno + 1} of your function{_quote(code, call_line)}). ")


def _quote(code, line: int) -> str:
    """``": `the source line`"`` when the source can be read (notebook cells and files), else ``""``."""
    text = linecache.getline(code.co_filename, line).strip()
    return f": `{text}`" if text else ""


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal at float64's tolerance (for comparisons between the check's own arrays)."""
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
    """``got`` as a NumPy array in its own dtype, if it holds real numbers precise enough to judge; else a ``Wrong``.

    Accepted: integer and float arrays of float32 or wider, and one real number. The shape is checked
    by ``compare``; a single number becomes a 0-d array (which then has the wrong shape). The dtype is
    kept, so that ``compare`` judges at its precision (``tolerance``). ``shape_hint`` is the exercise's
    word on the shape, quoted for a wrong kind of value.
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
    if kind == "f" and array.dtype.itemsize < 4:
        raise Wrong(f"{what}: is {array.dtype.name}, which keeps only about 3 significant digits: too few to "
                    f"tell a right answer from a slightly wrong one ({where}).",
                    "Compute in float64, NumPy's default (np.zeros(shape) is float64), and do not convert with "
                    f".astype(np.{array.dtype.name}). float32 is accepted too, judged at its own precision.")
    return array


def compare(what: str, got, expected: np.ndarray, where: str, hint: str,
            variants: tuple = (), shape_hint: str = "", numeric: np.ndarray | None = None,
            dtype=None, scale: float | None = None, diagnose: Callable | None = None) -> None:
    """Raise ``Wrong`` unless ``got`` equals ``expected`` within the tolerance of its dtype; name the mistake.

    ``variants`` are ``(answer a typical mistake gives, problem, hint)`` triples.
    ``numeric`` is the central-difference gradient, quoted when the values are wrong.
    ``dtype`` is the dtype the learner computed in, when ``got`` is derived from it (by default ``got``'s
    own); ``scale`` the size of the values it was computed from (by default ``max |expected|``).
    ``diagnose(got, tol)`` may raise a more specific ``Wrong`` for an answer of the right shape, all finite,
    that no variant explains (``got`` as float64, ``tol`` its ``Tolerance``).
    """
    got = as_array(what, got, expected, where, shape_hint)
    dtype = got.dtype if dtype is None else np.dtype(dtype)
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if scale is None:
        scale = float(np.max(np.abs(expected))) if expected.size and np.all(np.isfinite(expected)) else 1.0
    tol = tolerance(dtype, scale)
    if got.shape == expected.shape and np.all(np.isfinite(got)) and tol.close(got, expected):
        accept(tol)
        return
    for answer, problem, variant_hint in variants:
        answer = np.asarray(answer, dtype=np.float64)
        if tol.close(got, answer):
            raise Wrong(f"{what}: {problem} ({where}).", variant_hint)
    if got.shape != expected.shape:
        if got.ndim == 2 and got.shape == expected.shape[::-1] and tol.close(got.T, expected):
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
    if diagnose is not None:
        diagnose(got, tol)
    against_numeric = ""
    if numeric is not None:
        against_numeric = (f" Central differences agree with the reference to {rel_error(expected, numeric):.0e} "
                           f"but differ from yours by a relative error of {rel_error(got, numeric):.1e}.")
    if np.any(expected) and tol.close(got, -expected):
        raise Wrong(f"{what}: right size, wrong sign ({where}).{against_numeric}",
                    "Check each minus sign, and return the gradient itself, not the direction of the "
                    "step (-gradient).")
    norm = float(np.sum(expected * expected))
    factor = float(np.sum(got * expected)) / norm if norm else 0.0
    if norm and abs(factor) > 1e-12 and abs(factor - 1) > NEAR_MISS and tol.close(got, factor * expected):
        raise Wrong(f"{what}: {factor:.4g} times the right answer ({where}).{against_numeric}",
                    "A constant factor is missing or extra, e.g. a factor of the chain rule, a sum or "
                    "mean over the wrong thing, or a learning rate: return the gradient, not the update.")
    index = np.unravel_index(np.argmax(np.abs(got - expected) - tol.rtol * np.abs(expected)), got.shape)
    at = (f"at index {tuple(int(i) for i in index)} {pair(float(got[index]), float(expected[index]))}")
    # a near miss: every value right to 3 digits (or to 1e-5 of the largest, for values that cancel to about 0)
    if np.all(np.abs(got - expected) <= NEAR_MISS * np.abs(expected) + FLOAT32_RTOL * scale):
        off = abs(float(got[index] - expected[index])) / max(abs(float(expected[index])), tol.atol / tol.rtol)
        raise Wrong(f"{what}: close, but not within the tolerance ({where}): {at}, a relative difference of "
                    f"{off:.1e}, where the check allows {tol.rtol:.0e} for a {dtype.name} result.",
                    precision_hint(dtype, hint))
    if dtype.kind in "iu" and not np.array_equal(expected, np.trunc(expected)):
        raise Wrong(f"{what}: right shape, wrong values ({where}): {at}. Your array holds integers (dtype "
                    f"{dtype.name}), which cannot hold the fractional part.",
                    "Create the result as a float array: np.zeros(shape) is float64, but np.zeros_like(x) or "
                    "np.zeros(shape, dtype=int) of an integer x is integer, and every value written into it is "
                    "cut to a whole number.")
    raise Wrong(f"{what}: right shape, wrong values ({where}): {at}.{against_numeric}", hint)


def precision_hint(dtype: np.dtype, hint: str) -> str:
    """The hint for a near miss: where lost digits come from, for the dtype of the answer."""
    if tolerance(dtype).lenient:
        return (f"{dtype.name} keeps about 7 significant digits; a long sum or a difference of nearly equal "
                "numbers loses more. Compute in float64 (NumPy's default): if the float64 result passes, it was "
                f"rounding. Else: {hint}")
    return ("Differences this small usually come from rounding: somewhere your computation runs in float32 (an "
            "array made with dtype=np.float32, or .astype(np.float32)), which keeps about 7 significant digits, "
            "and the result is converted back. Compute in float64 throughout, or return the float32 array "
            "itself: the check judges a float32 result at float32's precision. If nothing is float32, look for "
            f"a small error in the formula. {hint}")


def case_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)
