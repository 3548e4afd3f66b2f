"""Checks for the classroom exercises (the "Implement it yourself" sections).

Each ``check_<exercise>(function)`` runs the learner's function on fixed and
random cases, compares every answer with the library's layers (``Conv3x3``,
``MaxPool2``, ``Softmax``, ``TutorialCNN``) and, for gradients, names the
central-difference error (``cnn_lib.gradcheck``). It prints one line:

- ``✓ <name> passed (N cases)`` and returns ``True``, or
- ``✗ <name>: <what is wrong, on which case>`` with a ``Hint:`` and returns ``False``.

A check never raises for a wrong answer, an exception inside the learner's code
or a ``raise NotImplementedError()`` stub ("not implemented yet"), so a student
notebook runs to its end. The series notebooks write ``assert check_x(x)`` so
that nbval (and nbgrader) fail when the reference solution breaks.

Specific feedback comes from comparing a wrong answer with the answers that
typical mistakes produce (no max shift, the filter not rotated, the gradient
sent to every tied maximum, ...); the checks never print solution code.
"""

from __future__ import annotations

import copy
import traceback
from typing import Callable

import numpy as np

from .conv import Conv3x3
from .gradcheck import numerical_gradient, rel_error
from .maxpool import MaxPool2
from .network import TutorialCNN
from .softmax import Softmax

__all__ = [
    "check_conv_d_L_d_filters",
    "check_conv_d_L_d_input",
    "check_conv_forward",
    "check_maxpool_backward",
    "check_maxpool_forward",
    "check_softmax_backward",
    "check_softmax_forward",
    "check_train_step",
]

RTOL, ATOL = 1e-6, 1e-9


# ----------------------------------------------------------------------------- machinery

class Wrong(Exception):
    """A diagnosis: what is wrong (one sentence with the case) and a hint."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.problem, self.hint = problem, hint


class _NotImplemented(Exception):
    pass


def _run(name: str, learner: Callable, cases: list, judge: Callable) -> bool:
    """Judge ``learner`` on every case; print one verdict; never raise for the learner's faults."""
    if not callable(learner):
        print(f"✗ {name}: expected a function, but got {type(learner).__name__}.\n"
              f"  Hint: pass the function itself, e.g. check_{name}({name}), without calling it.")
        return False
    for number, case in enumerate(cases, 1):
        try:
            judge(learner, case, f"case {number} of {len(cases)}: {case['desc']}")
        except _NotImplemented:
            print(f"… {name}: not implemented yet. Replace `raise NotImplementedError()` with your code, "
                  "then run this cell again.")
            return False
        except Wrong as wrong:
            print(f"✗ {name}: {wrong.problem}\n  Hint: {wrong.hint}")
            return False
    print(f"✓ {name} passed ({len(cases)} cases)")
    return True


def _call(learner: Callable, where: str, *args):
    """Call the learner on copies of ``args``; turn its exceptions and in-place edits into a ``Wrong``."""
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]  # a net is passed as it is
    try:
        with np.errstate(all="ignore"):  # an overflow is explained by the feedback, not by a warning
            result = learner(*copies)
    except NotImplementedError:
        raise _NotImplemented from None
    except Exception as error:  # any error in the learner's code becomes feedback, not a traceback
        raise Wrong(f"your function raised {type(error).__name__}: {error} ({where}).",
                    f"{_learner_line(learner, error)}Read the shapes in the exercise text, then try "
                    "your function on a small input and print the intermediate arrays.") from None
    for index, (arg, kept) in enumerate(zip(args, copies)):
        if isinstance(arg, np.ndarray) and not np.array_equal(arg, kept):
            raise Wrong(f"your function changed its argument number {index + 1} in place ({where}).",
                        "Do not modify the inputs: `x -= m` changes the caller's array, `x = x - m` makes a new one.")
    return result


def _learner_line(learner: Callable, error: Exception) -> str:
    code = getattr(learner, "__code__", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if code is not None and f.filename == code.co_filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f"it happened in line {frame.lineno - code.co_firstlineno + 1} of your function: `{(frame.line or '').strip()}`. "


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _as_array(what: str, got, expected: np.ndarray, where: str) -> np.ndarray:
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if got is None or array is None or array.dtype == object:
        raise Wrong(f"{what}: should be a NumPy array of shape {expected.shape}, but it is "
                    f"{type(got).__name__} ({where}).",
                    "Did you forget a `return`, or return the wrong variable?")
    return array


def _compare(what: str, got, expected: np.ndarray, where: str, hint: str,
             variants: tuple = (), shape_hint: str = "", numeric: np.ndarray | None = None) -> None:
    """Raise ``Wrong`` unless ``got`` equals ``expected``; name the mistake when a variant matches.

    ``variants`` are ``(answer a typical mistake gives, problem, hint)`` triples.
    ``numeric`` is the central-difference gradient, quoted when the values are wrong.
    """
    got = _as_array(what, got, expected, where)
    for answer, problem, variant_hint in variants:
        answer = np.asarray(answer, dtype=np.float64)
        if not _close(got, expected) and _close(got, answer):
            raise Wrong(f"{what}: {problem} ({where}).", variant_hint)
    if got.shape != expected.shape:
        if got.ndim == 2 and got.shape == expected.shape[::-1] and _close(got.T, expected):
            raise Wrong(f"{what}: transposed, shape {got.shape}, expected {expected.shape} ({where}).",
                        "Swap the order of the factors (or of the axes) so each axis means what the "
                        "exercise says.")
        raise Wrong(f"{what}: shape {got.shape}, expected {expected.shape} ({where}).",
                    shape_hint or hint)
    if not np.all(np.isfinite(got)):
        raise Wrong(f"{what}: nan or inf in your result ({where}).", hint)
    if _close(got, expected):
        return
    against_numeric = ""
    if numeric is not None:
        against_numeric = (f" Central differences agree with the reference to {rel_error(expected, numeric):.0e} "
                           f"but differ from yours by a relative error of {rel_error(got, numeric):.1e}.")
    if np.any(expected) and _close(got, -expected):
        raise Wrong(f"{what}: right size, wrong sign ({where}).{against_numeric}",
                    "Check each minus sign, and return the gradient itself, not the direction of the "
                    "step (-gradient).")
    norm = float(np.sum(expected * expected))
    factor = float(np.sum(got * expected)) / norm if norm else 0.0
    if norm and abs(factor) > 1e-12 and _close(got, factor * expected):
        raise Wrong(f"{what}: {factor:.4g} times the right answer ({where}).{against_numeric}",
                    "A constant factor is missing or extra, e.g. a factor of the chain rule, a sum or "
                    "mean over the wrong thing, or a learning rate: return the gradient, not the update.")
    index = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape)
    raise Wrong(f"{what}: right shape, wrong values ({where}): at index {tuple(int(i) for i in index)} "
                f"you return {got[index]:.6g}, the reference gives {expected[index]:.6g}.{against_numeric}",
                hint)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(1000 + seed)


# ----------------------------------------------------------------------------- softmax

def reference_softmax_forward(totals: np.ndarray) -> np.ndarray:
    """``Softmax.forward`` of a layer with identity weights and zero biases, so its totals are ``totals``."""
    totals = np.asarray(totals, dtype=np.float64)
    layer = Softmax(totals.size, totals.size, _rng(0))
    layer.weights = np.eye(totals.size)
    return layer.forward(totals)


def _softmax_forward_cases() -> list:
    rng = _rng(1)
    fixed = [("three equal totals", [0.0, 0.0, 0.0]), ("totals 1, 2, 3", [1.0, 2.0, 3.0]),
             ("large totals around 1000", [1000.0, 999.0, 998.0, 990.0]),
             ("very negative totals around -1000", [-1000.0, -999.0, -1001.0]),
             ("totals spread from -800 to 800", [0.0, 800.0, -800.0, 1.0])]
    cases = [{"desc": desc, "totals": np.array(t)} for desc, t in fixed]
    for n in (10, 4, 7):
        cases.append({"desc": f"random totals of shape ({n},)", "totals": rng.standard_normal(n) * 3})
    return cases


def check_softmax_forward(softmax_forward: Callable) -> bool:
    """``softmax_forward(totals) -> probabilities``, numerically stable, for 1-D ``totals``."""
    def judge(learner, case, where):
        t = case["totals"]
        got = _call(learner, where, t)
        expected = reference_softmax_forward(t)
        shifted = t - np.max(t)
        with np.errstate(all="ignore"):
            variants = [
                (np.exp(shifted), "the values do not add up to 1",
                 "Divide every e^t_k by S, the sum of all of them."),
                (np.exp(t), "the values do not add up to 1",
                 "Divide every e^t_k by S, the sum of all of them."),
                (reference_softmax_forward(-t), "this is the softmax of -totals",
                 "out_k = e^{t_k} / S: check the sign of the exponent."),
                (reference_softmax_forward(t * np.log(10)), "this uses powers of 10, not of e",
                 "Softmax uses e^t: np.exp(t), not 10 ** t."),
                (reference_softmax_forward(t * np.log(2)), "this uses powers of 2, not of e",
                 "Softmax uses e^t: np.exp(t), not 2 ** t."),
                (np.log(expected), "these are log-probabilities (log-softmax)",
                 "Return the probabilities p_k = e^{t_k} / S themselves, without a log."),
            ]
        _compare("the probabilities", got, expected, where,
                 "out_k = e^{t_k} / S with S = sum_i e^{t_i}; subtract max(totals) first, it cancels.",
                 variants, shape_hint="Return one probability per total: the same shape as `totals`.")
    # nan/inf gets its own hint, since it is the classic mistake of this exercise
    def judge_with_overflow(learner, case, where):
        try:
            judge(learner, case, where)
        except Wrong as wrong:
            if "nan or inf" in wrong.problem and np.max(np.abs(case["totals"])) > 100:
                raise Wrong(wrong.problem.replace("nan or inf in your result",
                                                  "nan or inf, np.exp overflowed or underflowed"),
                            "Subtract max(totals) before np.exp (not the min or the mean): then the largest "
                            "exponent is e^0 = 1 and nothing overflows, and the shift cancels in the ratio "
                            "(notebook 02, section 9).") from None
            raise
    return _run("softmax_forward", softmax_forward, _softmax_forward_cases(), judge_with_overflow)


def reference_softmax_backward(d_L_d_out, input, weights, totals):
    """``Softmax.backward`` on a layer whose weights are ``weights`` and whose totals are ``totals``."""
    layer = _softmax_layer(input, weights, totals)
    d_L_d_input = layer.backward(np.asarray(d_L_d_out, dtype=np.float64))
    grads = layer.grads()
    return grads["weights"], grads["biases"], d_L_d_input


def _softmax_layer(input, weights, totals) -> Softmax:
    input, weights = np.asarray(input, dtype=np.float64), np.array(weights, dtype=np.float64)
    layer = Softmax(*weights.shape, _rng(0))
    layer.weights = weights
    layer.biases = np.asarray(totals, dtype=np.float64) - input @ weights
    layer.forward(input)
    return layer


def _softmax_backward_cases() -> list:
    rng = _rng(2)
    cases = []
    for number, (n_in, nodes, kind, large) in enumerate(
            [(6, 4, "cross-entropy", False), (5, 3, "random", False), (8, 10, "cross-entropy", False),
             (4, 5, "random", False), (6, 4, "cross-entropy", True)]):
        input = rng.standard_normal(n_in)
        weights = rng.standard_normal((n_in, nodes))
        totals = input @ weights + rng.standard_normal(nodes)
        if large:  # without the max shift, np.exp overflows
            totals = 1000.0 + np.arange(nodes, dtype=float)
        p = reference_softmax_forward(totals)
        if kind == "cross-entropy":
            label = int(np.argmax(p)) if large else number % nodes
            d_L_d_out = np.zeros(nodes)
            d_L_d_out[label] = -1 / p[label]
            desc = f"cross-entropy d_L_d_out (label {label}), {n_in} inputs, {nodes} nodes"
        else:
            d_L_d_out = rng.standard_normal(nodes)
            desc = f"random d_L_d_out, {n_in} inputs, {nodes} nodes"
        cases.append({"desc": desc + (", totals around 1000" if large else ""),
                      "args": (d_L_d_out, input, weights, totals)})
    return cases


def _softmax_numeric(d_L_d_out, input, weights, totals):
    layer = _softmax_layer(input, weights, totals)
    x = layer.last_input.copy()

    def loss(_):
        return float(np.sum(layer.forward(x) * d_L_d_out))
    d_w = numerical_gradient(loss, layer.weights)
    d_b = numerical_gradient(loss, layer.biases)
    d_x = numerical_gradient(loss, x)
    return d_w, d_b, d_x


def check_softmax_backward(softmax_backward: Callable) -> bool:
    """``softmax_backward(d_L_d_out, input, weights, totals) -> (d_L_d_w, d_L_d_b, d_L_d_input)``."""
    names = ("d_L_d_w", "d_L_d_b", "d_L_d_input")

    def judge(learner, case, where):
        d_L_d_out, input, weights, totals = case["args"]
        got = _call(learner, where, *case["args"])
        expected = reference_softmax_backward(*case["args"])
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Wrong(f"return three gradients, but your function returned {type(got).__name__} ({where}).",
                        "Return a tuple of the three gradients, in the order (d_L_d_w, d_L_d_b, d_L_d_input).")
        shapes = [np.shape(g) for g in got]
        if sorted(map(str, shapes)) == sorted(str(e.shape) for e in expected) and shapes != [e.shape for e in expected]:
            raise Wrong(f"the three gradients come in the wrong order: shapes {shapes} ({where}).",
                        "Return them in the order (d_L_d_w, d_L_d_b, d_L_d_input).")
        p = reference_softmax_forward(totals)
        jacobian = np.diag(p) - np.outer(p, p)                    # d out_i / d t_k
        wrong_t = {
            "skipped": (d_L_d_out, "the softmax's own derivative is missing: you used d_L_d_out as if it were "
                        "d_L_d_t", "Chain rule: d_L_d_t = sum_i d_L_d_out[i] * d out_i / d t, a missing factor. "
                        "The softmax sits between the totals and the loss."),
            "diagonal": (d_L_d_out * p * (1 - p), "only the diagonal of the softmax Jacobian is used",
                         "Every out_i depends on every total t_k: d out_i / d t_k = -p_i p_k for k != i, "
                         "so d_L_d_t[k] sums over all i."),
            "off-sign": ((2 * np.diag(np.diag(jacobian)) - jacobian) @ d_L_d_out,
                         "the off-diagonal terms of the softmax Jacobian have the wrong sign",
                         "For k != i, d out_i / d t_k = -e^{t_i} e^{t_k} / S^2 = -p_i p_k (negative)."),
        }
        numeric = _softmax_numeric(*case["args"])
        for name, g, e, n in zip(names, got, expected, numeric):
            variants = []
            for d_L_d_t, problem, hint in wrong_t.values():
                variants.append(({"d_L_d_w": np.outer(input, d_L_d_t), "d_L_d_b": d_L_d_t,
                                  "d_L_d_input": weights @ d_L_d_t}[name], problem, hint))
            shape_hint = {
                "d_L_d_w": "d_L_d_w has the shape of the weights, (input_len, nodes): entry (j, k) is "
                           "input[j] * d_L_d_t[k].",
                "d_L_d_b": "d_L_d_b has one entry per node: d t_k / d b_k = 1, so d_L_d_b = d_L_d_t "
                           "(no sum over nodes).",
                "d_L_d_input": "d_L_d_input has one entry per input: it sums over the nodes k, "
                               "weights[j, k] * d_L_d_t[k].",
            }[name]
            if name == "d_L_d_w" and np.shape(g) == e.T.shape and np.shape(g) != e.shape:
                raise Wrong(f"d_L_d_w: transposed, shape {np.shape(g)}, expected {e.shape} ({where}).",
                            "d_L_d_w[j, k] = input[j] * d_L_d_t[k]: the outer product of input and "
                            "d_L_d_t, in that order.")
            _compare(name, g, e, where, f"{shape_hint} Derive d_L_d_t first (softmax Jacobian times "
                     "d_L_d_out), then d_L_d_w, d_L_d_b, d_L_d_input from t = input . w + b.",
                     variants, shape_hint, numeric=n)

    def judge_with_overflow(learner, case, where):
        try:
            judge(learner, case, where)
        except Wrong as wrong:
            if "nan or inf" in wrong.problem:
                raise Wrong(wrong.problem, "With totals around 1000, e^t overflows: subtract max(totals) "
                            "before np.exp. Every ratio e^t_i / S is unchanged.") from None
            raise
    return _run("softmax_backward", softmax_backward, _softmax_backward_cases(), judge_with_overflow)


# ----------------------------------------------------------------------------- max-pooling

def reference_maxpool_forward(x):
    return MaxPool2().forward(np.asarray(x, dtype=np.float64))


def reference_maxpool_backward(x, d_L_d_out, ties="first"):
    pool = MaxPool2(ties=ties)
    pool.forward(np.asarray(x, dtype=np.float64))
    return pool.backward(np.asarray(d_L_d_out, dtype=np.float64))


def _windows(x):
    """``(h/2, w/2, 4, c)``: the four pixels of every 2x2 window in reading order."""
    h, w, c = x.shape
    return x.reshape(h // 2, 2, w // 2, 2, c).transpose(0, 2, 1, 3, 4).reshape(h // 2, w // 2, 4, c)


def _from_windows(v, shape):
    h, w, c = shape
    return v.reshape(h // 2, w // 2, 2, 2, c).transpose(0, 2, 1, 3, 4).reshape(h, w, c)


def _maxpool_cases() -> list:
    rng = _rng(3)
    ties = np.array([[1, 1, 0, 2], [1, 1, 2, 0], [3, -1, 5, 5], [0, 3, 5, 1]], dtype=float)[:, :, None]
    return [
        {"desc": "random x of shape (4, 6, 3)", "x": rng.standard_normal((4, 6, 3))},
        {"desc": "random x of shape (6, 4, 2)", "x": rng.standard_normal((6, 4, 2))},
        {"desc": "one window, x of shape (2, 2, 1)", "x": np.array([[1.0, 4.0], [3.0, 2.0]])[:, :, None]},
        {"desc": "all values negative, x of shape (4, 4, 2)", "x": -1 - rng.random((4, 4, 2))},
        {"desc": "windows with tied maxima, x of shape (4, 4, 1)", "x": ties},
        {"desc": "random x of shape (8, 8, 4)", "x": rng.standard_normal((8, 8, 4))},
    ]


def _maxpool_variants(x):
    win = _windows(x)
    h, w, c = x.shape
    top_left_windows = np.stack([x[i:i + 2, j:j + 2].max(axis=(0, 1))
                                 for i in range(h // 2) for j in range(w // 2)]).reshape(h // 2, w // 2, c)
    return [
        (win.mean(axis=2), "this is the mean of each window (average pooling)", "Take the maximum: np.max."),
        (win.min(axis=2), "this is the minimum of each window", "Take the maximum, not the minimum."),
        (np.maximum(win.max(axis=2), 0), "your maximum is never below 0",
         "Start the running maximum from the window's first value (or -inf), not from 0: "
         "a window can be all negative."),
        (x[::2, ::2], "this is the top-left pixel of each window, not its maximum",
         "Look at all four pixels of the window: rows 2i, 2i+1 and columns 2j, 2j+1."),
        (np.broadcast_to(win.max(axis=(2, 3))[:, :, None], (h // 2, w // 2, c)),
         "every channel has the same value: you took the maximum over the channels too",
         "Take the maximum separately for each channel: over the window's two spatial axes only."),
        (top_left_windows, "your windows start at (i, j) instead of (2i, 2j), so they overlap",
         "Windows do not overlap: output (i, j) is the maximum of rows 2i..2i+1 and columns 2j..2j+1."),
        (np.maximum(x[::2, ::2], x[::2, 1::2]), "your window misses its second row (off by one)",
         "A 2x2 window at output (i, j) covers rows 2i and 2i+1: slices stop *before* their end, "
         "so write 2*i:2*i+2."),
        (np.maximum(x[::2, ::2], x[1::2, ::2]), "your window misses its second column (off by one)",
         "A 2x2 window at output (i, j) covers columns 2j and 2j+1: slices stop *before* their end, "
         "so write 2*j:2*j+2."),
    ]


def check_maxpool_forward(maxpool_forward: Callable) -> bool:
    """``maxpool_forward(x) -> out``: x ``(h, w, c)``, out ``(h/2, w/2, c)``, max of each 2x2 window."""
    def judge(learner, case, where):
        x = case["x"]
        got = _call(learner, where, x)
        h, w, c = x.shape
        expected = reference_maxpool_forward(x)
        hint = "out[i, j, f] is the maximum of x[2i:2i+2, 2j:2j+2, f]."
        shape_hint = (f"The output has one value per 2x2 window and channel: ({h}//2, {w}//2, {c}). "
                      "Windows do not overlap (stride 2), and each channel is pooled separately.")
        _compare("the pooled output", got, expected, where, hint, _maxpool_variants(x), shape_hint)
    return _run("maxpool_forward", maxpool_forward, _maxpool_cases(), judge)


def _maxpool_backward_case(case, seed):
    x = case["x"]
    d_L_d_out = np.round(_rng(seed).standard_normal(reference_maxpool_forward(x).shape), 3)
    d_L_d_out[d_L_d_out == 0] = 0.5
    return dict(case, d_L_d_out=d_L_d_out)


def _is_valid_routing(x, d_L_d_out, got) -> bool:
    """Each window's gradient sits wholly on one of its maxima (any tied one), zero elsewhere."""
    win, g = _windows(x), _windows(got)
    at_max = win == win.max(axis=2, keepdims=True)
    off_max_zero = np.all(np.where(at_max, 0, g) == 0)
    sums_right = np.allclose(g.sum(axis=2), d_L_d_out, rtol=RTOL, atol=ATOL)
    one_entry = np.all(np.count_nonzero(g, axis=2) <= 1)
    return bool(off_max_zero and sums_right and one_entry)


def check_maxpool_backward(maxpool_backward: Callable) -> bool:
    """``maxpool_backward(x, d_L_d_out) -> d_L_d_input`` (shape of x); ties: one maximum gets it."""
    def judge(learner, case, where):
        x, d_L_d_out = case["x"], case["d_L_d_out"]
        got = _call(learner, where, x, d_L_d_out)
        expected = reference_maxpool_backward(x, d_L_d_out)
        got_array = _as_array("d_L_d_input", got, expected, where)
        if got_array.shape == expected.shape and np.all(np.isfinite(got_array)) \
                and _is_valid_routing(x, d_L_d_out, got_array):
            return  # the first maximum (the library's rule) or another single tied maximum: both right
        win, up = _windows(x), np.repeat(d_L_d_out[:, :, None, :], 4, axis=2)
        h, w, c = x.shape
        first_over_channels = (win == win.max(axis=(2, 3), keepdims=True))
        stride_one = np.zeros_like(x)
        for i in range(h // 2):
            for j in range(w // 2):
                region = x[i:i + 2, j:j + 2]
                mask = region == region.max(axis=(0, 1))
                stride_one[i:i + 2, j:j + 2] = np.where(mask, d_L_d_out[i, j], stride_one[i:i + 2, j:j + 2])
        variants = [
            (_from_windows(up, x.shape), "every pixel of the window got the window's gradient",
             "Only the maximum affected the output, so only the maximum gets d_L_d_out; the other three get 0."),
            (_from_windows(up / 4, x.shape), "the gradient is spread evenly over the window (/4)",
             "That is the gradient of average pooling. For max, the maximum gets all of it, the rest 0."),
            (_from_windows(np.where(win == win.min(axis=2, keepdims=True), up, 0), x.shape),
             "the gradient went to the window's minimum", "Send it to the position of the maximum."),
            (_from_windows(np.where(win == win.max(axis=2, keepdims=True), 1.0, 0), x.shape),
             "you return where the maxima are (1 there), but not the gradient",
             "Chain rule: multiply by d_L_d_out, a missing factor. The maximum's entry is d_L_d_out[i, j, f], not 1."),
            (_from_windows(np.where(first_over_channels, up, 0), x.shape),
             "the gradient went to the maximum over all channels of the window",
             "Find the maximum separately for each channel f."),
            (stride_one, "your windows start at (i, j) instead of (2i, 2j)",
             "Window (i, j) covers rows 2i, 2i+1 and columns 2j, 2j+1."),
        ]
        if np.any(np.count_nonzero(win == win.max(axis=2, keepdims=True), axis=2) > 1):
            variants.insert(0, (reference_maxpool_backward(x, d_L_d_out, ties="all"),
                                "the gradient was sent to every tied maximum of a window",
                                "When several pixels tie for the maximum, send the window's gradient to one of "
                                "them (e.g. the first): raising all tied values by h raises the max by h, "
                                "not by 2h or 4h (notebook 04)."))
        numeric = None
        if "random" in case["desc"]:
            pool = MaxPool2()
            xx = x.copy()
            numeric = numerical_gradient(lambda _: float(np.sum(pool.forward(xx) * d_L_d_out)), xx)
        _compare("d_L_d_input", got_array, expected, where,
                 "Each window's d_L_d_out goes to the position of its maximum, separately for each channel; "
                 "every other pixel gets 0.", variants,
                 "d_L_d_input has the shape of the input x: one gradient per input pixel.", numeric)
    cases = [_maxpool_backward_case(case, number) for number, case in enumerate(_maxpool_cases())]
    return _run("maxpool_backward", maxpool_backward, cases, judge)


# ----------------------------------------------------------------------------- convolution

def _conv(filters) -> Conv3x3:
    filters = np.array(filters, dtype=np.float64)
    layer = Conv3x3(filters.shape[0], _rng(0))
    layer.filters = filters
    return layer


def reference_conv_forward(image, filters):
    return _conv(filters).forward(np.asarray(image, dtype=np.float64))


def _conv_backward(image, filters, d_L_d_out):
    """``(d_L_d_filters, d_L_d_input)`` from ``Conv3x3.backward``."""
    layer = _conv(filters)
    layer.forward(np.asarray(image, dtype=np.float64))
    d_L_d_input = layer.backward(np.asarray(d_L_d_out, dtype=np.float64))
    return layer.grads()["filters"], d_L_d_input


def reference_conv_d_L_d_filters(image, d_L_d_out):
    """``Conv3x3.backward``'s filter gradient (it does not depend on the filters' values)."""
    return _conv_backward(image, np.zeros((np.shape(d_L_d_out)[2], 3, 3)), d_L_d_out)[0]


def reference_conv_d_L_d_input(filters, d_L_d_out):
    """``Conv3x3.backward``'s input gradient (it does not depend on the input's values)."""
    h, w, _ = np.shape(d_L_d_out)
    return _conv_backward(np.zeros((h + 2, w + 2)), filters, d_L_d_out)[1]


def _conv_cases() -> list:
    rng = _rng(4)
    counting = np.arange(1.0, 10.0).reshape(1, 3, 3)  # 1..9: a rotation or transposition shows
    cases = [
        {"desc": "image (5, 7), 2 random filters", "image": rng.standard_normal((5, 7)),
         "filters": rng.standard_normal((2, 3, 3))},
        {"desc": "image (3, 3), one filter 1..9", "image": rng.standard_normal((3, 3)), "filters": counting},
        {"desc": "image (6, 5), filter 1..9", "image": np.arange(30.0).reshape(6, 5) % 7, "filters": counting},
        {"desc": "image (8, 6), 4 random filters", "image": rng.standard_normal((8, 6)),
         "filters": rng.standard_normal((4, 3, 3))},
        {"desc": "image (4, 9), 3 random filters", "image": rng.standard_normal((4, 9)),
         "filters": rng.standard_normal((3, 3, 3))},
    ]
    for number, case in enumerate(cases):
        out_shape = (case["image"].shape[0] - 2, case["image"].shape[1] - 2, case["filters"].shape[0])
        d_L_d_out = _rng(10 + number).standard_normal(out_shape)
        if number == 2:  # one output gradient: d_L_d_input is then one filter, stamped
            d_L_d_out = np.zeros(out_shape)
            d_L_d_out[1, 1, 0] = 1.0
        case["d_L_d_out"] = d_L_d_out
    return cases


def check_conv_forward(conv_forward: Callable) -> bool:
    """``conv_forward(image, filters) -> out``: image ``(h, w)``, filters ``(F, 3, 3)``, out ``(h-2, w-2, F)``."""
    def judge(learner, case, where):
        image, filters = case["image"], case["filters"]
        got = _call(learner, where, image, filters)
        expected = reference_conv_forward(image, filters)
        h, w = image.shape
        variants = [
            (reference_conv_forward(image, filters[:, ::-1, ::-1]), "you rotated the filters by 180° "
             "(a textbook convolution)", "The layer computes a correlation, out[i, j, f] = sum(region(i, j) "
             "* filters[f]), with region(i, j) = image[i:i+3, j:j+3] and the filter as it is."),
            (reference_conv_forward(image, filters.transpose(0, 2, 1)), "the filters are transposed",
             "Multiply region[a, b] with filters[f, a, b]: the same row and column."),
            (reference_conv_forward(image / 255 - 0.5, filters), "you scaled the image",
             "conv_forward takes the image as given; preprocessing happens before the layer."),
            (np.broadcast_to(reference_conv_forward(image, filters[:1]), expected.shape),
             "every channel used filter 0", "Channel f of the output uses filters[f]."),
            (np.moveaxis(expected, 2, 0), "the channels come first",
             "The layer puts the channel last: out[i, j, f], shape (h - 2, w - 2, F)."),
            (expected[:-1, :-1], "one row and one column of positions are missing (off by one)",
             "A 3x3 filter fits at h - 2 positions down and w - 2 across: range(h - 2), range(w - 2)."),
        ]
        if len(filters) > 0:
            matmul = np.stack([[[np.sum(image[i:i + 3, j:j + 3] @ f) for f in filters]
                                for j in range(w - 2)] for i in range(h - 2)])
            variants.append((matmul, "you used a matrix product (@) of region and filter",
                             "Multiply element by element (region * filter), then sum the nine products."))
        _compare("the output", got, expected, where,
                 "out[i, j, f] = sum(image[i:i+3, j:j+3] * filters[f]).", variants,
                 f"Valid padding, stride 1: an ({h}, {w}) image gives ({h} - 2, {w} - 2, number of filters), "
                 "channels last.")
    return _run("conv_forward", conv_forward, _conv_cases(), judge)


def _conv_numeric(image, filters, d_L_d_out):
    layer = _conv(filters)
    x = np.array(image, dtype=np.float64)

    def loss(_):
        return float(np.sum(layer.forward(x) * d_L_d_out))
    return numerical_gradient(loss, layer.filters), numerical_gradient(loss, x)


def check_conv_d_L_d_filters(conv_d_L_d_filters: Callable) -> bool:
    """``conv_d_L_d_filters(image, d_L_d_out) -> d_L_d_filters`` of shape ``(F, 3, 3)``."""
    def judge(learner, case, where):
        image, filters, d_L_d_out = case["image"], case["filters"], case["d_L_d_out"]
        got = _call(learner, where, image, d_L_d_out)
        expected = reference_conv_d_L_d_filters(image, d_L_d_out)
        h, w = image.shape
        last = d_L_d_out[-1, -1][:, None, None] * image[h - 3:, w - 3:]
        variants = [
            (last, "only the last position counts",
             "Each filter is used at every output position, so its gradient is the SUM over all "
             "positions (i, j) of d_L_d_out[i, j, f] * region(i, j): accumulate with +=, do not assign."),
            (expected[:, ::-1, ::-1], "your gradient is rotated by 180°",
             "d_L_d_filters[f, a, b] multiplies image[i + a, j + b]: no flip here."),
            (expected.transpose(0, 2, 1), "your gradient is transposed",
             "d_L_d_filters[f, a, b] goes with row i + a and column j + b of the image."),
            (np.broadcast_to(expected.sum(axis=0), expected.shape), "every filter got the same gradient",
             "Filter f only affects channel f: use d_L_d_out[i, j, f] for filters[f], not the sum over channels."),
        ]
        if h > 3 and w > 3:
            variants.append((reference_conv_d_L_d_filters(image[:-1, :-1], d_L_d_out[:-1, :-1]),
                             "the last row and column of positions are missing (off by one)",
                             "Loop over all h - 2 by w - 2 output positions: range(h - 2), range(w - 2)."))
        numeric, _ = _conv_numeric(image, filters, d_L_d_out)
        _compare("d_L_d_filters", got, expected, where,
                 "d_L_d_filters[f] = sum over positions (i, j) of d_L_d_out[i, j, f] * image[i:i+3, j:j+3].",
                 variants, "One 3x3 gradient per filter: shape (F, 3, 3) with F = d_L_d_out.shape[2].",
                 numeric)
    return _run("conv_d_L_d_filters", conv_d_L_d_filters, _conv_cases(), judge)


def check_conv_d_L_d_input(conv_d_L_d_input: Callable) -> bool:
    """``conv_d_L_d_input(filters, d_L_d_out) -> d_L_d_input`` of shape ``(h, w)`` = ``d_L_d_out``'s + 2."""
    def judge(learner, case, where):
        image, filters, d_L_d_out = case["image"], case["filters"], case["d_L_d_out"]
        got = _call(learner, where, filters, d_L_d_out)
        expected = reference_conv_d_L_d_input(filters, d_L_d_out)

        def stamp(f):
            return reference_conv_d_L_d_input(f, d_L_d_out)
        assigned = np.zeros_like(expected)
        for i in range(d_L_d_out.shape[0]):
            for j in range(d_L_d_out.shape[1]):
                assigned[i:i + 3, j:j + 3] = np.sum(d_L_d_out[i, j][:, None, None] * filters, axis=0)
        one_filter = np.zeros_like(filters)
        one_filter[-1] = filters[-1]
        variants = [
            (stamp(filters[:, ::-1, ::-1]), "the filter is not rotated the right way",
             "In the gather view (full convolution of the zero-padded d_L_d_out) the filters must be rotated "
             "by 180°; in the scatter view each d_L_d_out[i, j, f] adds filters[f] as it is onto the region "
             "at (i, j). Mixing the two views rotates the result."),
            (stamp(filters.transpose(0, 2, 1)), "the filter is transposed, which is not a rotation",
             "A 180° rotation flips both axes (f[::-1, ::-1]); a transpose mirrors along the diagonal."),
            (stamp(filters[:, ::-1, :]), "the filter is flipped upside down only",
             "A 180° rotation flips both axes: f[::-1, ::-1] (or none, in the scatter view)."),
            (stamp(filters[:, :, ::-1]), "the filter is flipped left-right only",
             "A 180° rotation flips both axes: f[::-1, ::-1] (or none, in the scatter view)."),
            (assigned, "overlapping regions overwrite each other",
             "Neighbouring 3x3 regions share pixels: add each contribution (+=) instead of assigning it."),
            (expected[1:-1, 1:-1], "d_L_d_input must have the shape of the input",
             "The input is 2 pixels larger than d_L_d_out in each direction: pad by 2 (full convolution), "
             "or scatter into np.zeros((h_out + 2, w_out + 2))."),
        ]
        if filters.shape[0] > 1:
            variants.append((stamp(one_filter), "only the last filter contributes",
                             "Every filter's output depends on every input pixel it covered: sum over f."))
            variants.append((stamp(filters[:1].repeat(len(filters), axis=0)), "filter 0 is used for every channel",
                             "d_L_d_out[i, j, f] multiplies filters[f]."))
        _, numeric = _conv_numeric(image, filters, d_L_d_out)
        h, w = image.shape
        _compare("d_L_d_input", got, expected, where,
                 "d_L_d_input[m, n] = sum over f and positions (i, j) of d_L_d_out[i, j, f] * filters[f, m - i, n - j].",
                 variants, f"d_L_d_input has the shape of the layer's input, ({h}, {w}) here: "
                 "d_L_d_out's height and width plus 2, one value per pixel (summed over filters).", numeric)
    return _run("conv_d_L_d_input", conv_d_L_d_input, _conv_cases(), judge)


# ----------------------------------------------------------------------------- one training step

def _train_cases() -> list:
    from .data import load_subset
    images, labels, _, _ = load_subset()
    cases = []
    for number, (index, lr, warm) in enumerate([(0, 0.005, 0), (1, 0.01, 0), (2, 0.005, 3), (7, 0.05, 0)]):
        net = TutorialCNN(np.random.default_rng(number))
        for k in range(warm):  # a net that has already taken a few steps
            net.train(images[10 + k], int(labels[10 + k]), 0.005)
        cases.append({"desc": f"train_images[{index}] (a {int(labels[index])}), lr = {lr}"
                              + (f", after {warm} steps" if warm else ", untrained net"),
                      "net": net, "image": images[index], "label": int(labels[index]), "lr": lr})
    return cases


def check_train_step(train_step: Callable) -> bool:
    """``train_step(net, image, label, lr) -> (loss, correct)``: one SGD step on a ``TutorialCNN``."""
    def judge(learner, case, where):
        image, label, lr = case["image"], case["label"], case["lr"]
        reference, mine = copy.deepcopy(case["net"]), copy.deepcopy(case["net"])
        before = {k: v.copy() for k, v in case["net"].params().items()}
        result = _call(learner, where, mine, image, label, lr)
        out, loss, correct = copy.deepcopy(case["net"]).forward(image, label)
        reference.train(image, label, lr)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Wrong(f"return (loss, correct), but your function returned {type(result).__name__} ({where}).",
                        "Return a pair: the loss and correct, as forward() gives them besides out.")
        got_loss, got_correct = result
        try:
            got_loss = float(got_loss)
        except (TypeError, ValueError):
            raise Wrong(f"the loss should be a number, but it is {type(got_loss).__name__} ({where}).",
                        "The loss of one image is a float: -ln(out[label]).") from None
        _, loss_after, _ = copy.deepcopy(reference).forward(image, label)
        raw = copy.deepcopy(case["net"])
        raw_out = raw.softmax.forward(raw.pool.forward(raw.conv.forward(image.astype(float))))
        if not np.isclose(got_loss, loss, rtol=RTOL):
            for value, problem, hint in [
                (loss_after, "the loss is measured after the update",
                 "Return the loss of the forward pass that the step starts from (before the weights change)."),
                (float(-np.log10(out[label])), "the loss uses log10",
                 "Cross-entropy uses the natural log: -np.log(out[label])."),
                (float(np.log(out[label])), "the loss has the wrong sign", "L = -ln(out[label]), a positive number."),
                (float(-np.log(raw_out[label])), "the image was not scaled",
                 "Feed preprocess(image) (pixels / 255 - 0.5) to the first layer, as net.forward does."),
            ]:
                if np.isclose(got_loss, value, rtol=RTOL):
                    raise Wrong(f"{problem}: you return {got_loss:.6g}, expected {loss:.6g} ({where}).", hint)
            raise Wrong(f"the loss is {got_loss:.6g}, expected {loss:.6g} ({where}).",
                        "The loss is -ln(out[label]) for the probabilities of the forward pass on preprocess(image).")
        if int(got_correct) != correct or got_correct not in (0, 1):
            raise Wrong(f"correct is {got_correct!r}, expected {correct} ({where}).",
                        "correct is 1 if the most probable digit, np.argmax(out), equals label, else 0.")
        changes = {k: mine.params()[k] - before[k] for k in before}
        expected = {k: reference.params()[k] - before[k] for k in before}
        unchanged = [k for k in before if not np.any(changes[k])]
        if len(unchanged) == len(before):
            raise Wrong(f"no weight changed ({where}).",
                        "After the backward pass, take the SGD step on every layer: backprop(gradient, lr) "
                        "does both, or subtract lr * gradient yourself.")
        if unchanged:
            raise Wrong(f"{' and '.join(unchanged)} did not change ({where}).",
                        "Backpropagate through all three layers (softmax, then pool, then conv) and update "
                        "every layer's weights.")
        for name in before:
            _compare(f"the change of {name}", changes[name], expected[name], where,
                     "Each weight moves by -lr * dL/dweight: backprop softmax -> pool -> conv, starting from "
                     "d_L_d_out = -1 / out[label] at the label and 0 elsewhere.",
                     [(-expected[name], "your step went uphill (the loss grows)",
                       "Subtract: w -= lr * gradient. If you did, check the sign of the initial gradient, "
                       "-1 / out[label]."),
                      (expected[name] / lr, "the learning rate was not applied",
                       "The step is lr * gradient: pass lr to backprop."),
                      (2 * expected[name], "the step was taken twice",
                       "Run the backward pass and the SGD step once per call.")])
    return _run("train_step", train_step, _train_cases(), judge)
