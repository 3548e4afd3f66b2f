"""Notebook 07's exercise checks, ``check_im2col`` and ``check_col2im``, deserve trust too.

As in ``tests/test_checks.py``: right implementations pass (written the ways a learner would: notebook 07's
shifted copies, or a loop over the windows); each typical mistake is rejected with the feedback meant for it
(the test asserts on a key phrase of the ✗ line, and that no solution code is shown); a stub says "not
implemented yet"; whatever a learner's function returns or raises becomes one ✗ line. The references, the
fast ``Conv`` layer's own im2col and col2im, are checked against hand computations, the loop layer
``Conv3x3``, the adjoint identity and central differences.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from cnn_lib.checks import _cases, references

try:
    from check_harness import assert_feedback, assert_gradient, central_differences, exercise_tests, returning, run_check
except ImportError:  # tests/ imported as a package
    from .check_harness import assert_feedback, assert_gradient, central_differences, exercise_tests, returning, run_check

# ----------------------------------------------------------------------------- right answers


def im2col(x, k=3):
    """Notebook 07, section 2: fill column a * k + b with the image shifted by (a, b)."""
    h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    windows = np.empty((oh, ow, k, k))
    for a in range(k):
        for b in range(k):
            windows[:, :, a, b] = x[a:a + oh, b:b + ow]
    return windows.reshape(oh * ow, k * k)


def im2col_by_windows(x, k=3):
    """One window at a time, read row by row."""
    h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    cols = np.zeros((oh * ow, k * k))
    for i in range(oh):
        for j in range(ow):
            cols[i * ow + j] = x[i:i + k, j:j + k].ravel()
    return cols


def col2im(d_cols, input_shape, k=3):
    """Notebook 07, section 3: add column a * k + b back onto the image shifted by (a, b)."""
    h, w = input_shape
    oh, ow = h - k + 1, w - k + 1
    d_windows = d_cols.reshape(oh, ow, k, k)
    d_L_d_input = np.zeros(input_shape)
    for a in range(k):
        for b in range(k):
            d_L_d_input[a:a + oh, b:b + ow] += d_windows[:, :, a, b]
    return d_L_d_input


def col2im_by_windows(d_cols, input_shape, k=3):
    """The scatter view of notebook 05: each window adds its k x k gradients onto its region."""
    h, w = input_shape
    oh, ow = h - k + 1, w - k + 1
    d_L_d_input = np.zeros(input_shape)
    for i in range(oh):
        for j in range(ow):
            d_L_d_input[i:i + k, j:j + k] += d_cols[i * ow + j].reshape(k, k)
    return d_L_d_input


def col2im_by_pixels(d_cols, input_shape, k=3):
    """The gather view: each pixel sums the gradients of its copies, found by their window and offset."""
    h, w = input_shape
    oh, ow = h - k + 1, w - k + 1
    d_L_d_input = np.zeros(input_shape)
    for m in range(h):
        for n in range(w):
            for a in range(k):
                for b in range(k):
                    i, j = m - a, n - b
                    if 0 <= i < oh and 0 <= j < ow:
                        d_L_d_input[m, n] += d_cols[i * ow + j, a * k + b]
    return d_L_d_input


RIGHT = {
    "im2col": [im2col, im2col_by_windows,
               lambda x, k=3: np.lib.stride_tricks.sliding_window_view(x, (k, k)).reshape(-1, k * k)],
    "col2im": [col2im, col2im_by_windows, col2im_by_pixels],
}
EXERCISES = list(RIGHT)


# ----------------------------------------------------------------------------- wrong answers
# (exercise, what the learner did, the function, a key phrase the feedback must contain)


def _im2col_with(target=lambda a, b, k: (a, b), listed="rows", k_used=None, size=lambda h, k: h - k + 1,
                 reshape=True, dtype=float):
    """A learner's im2col by shifted copies, with one thing changed: where offset (a, b) is written, the order
    the windows are listed in, the k it uses, how many windows it counts, whether it reshapes, its dtype."""
    def f(x, k=3):
        k = k if k_used is None else k_used
        h, w = x.shape
        oh, ow = size(h, k), size(w, k)
        windows = np.zeros((oh, ow, k, k), dtype=dtype)
        for a in range(k):
            for b in range(k):
                windows[(slice(None), slice(None)) + target(a, b, k)] = x[a:a + oh, b:b + ow]
        if not reshape:
            return windows
        if listed == "columns":
            windows = windows.transpose(1, 0, 2, 3)
        return windows.reshape(oh * ow, k * k)
    return f


def _im2col_strided(x, k=3):
    """Non-overlapping windows, as in pooling."""
    h, w = x.shape
    return np.array([x[i:i + k, j:j + k].ravel() for i in range(0, h - k + 1, k) for j in range(0, w - k + 1, k)])


def _col2im_with(assign=False, offsets=lambda k: range(k), source=lambda a, b: (a, b), scale=1.0):
    """A learner's col2im by offsets, with one thing changed: ``=`` for ``+=``, the offsets visited, which
    column goes back to offset (a, b), a factor."""
    def f(d_cols, input_shape, k=3):
        h, w = input_shape
        oh, ow = h - k + 1, w - k + 1
        d_windows = d_cols.reshape(oh, ow, k, k)
        d_L_d_input = np.zeros(input_shape)
        for a in offsets(k):
            for b in offsets(k):
                block = scale * d_windows[(slice(None), slice(None)) + source(a, b)]
                if assign:
                    d_L_d_input[a:a + oh, b:b + ow] = block
                else:
                    d_L_d_input[a:a + oh, b:b + ow] += block
        return d_L_d_input
    return f


def _col2im_windows_with(assign=False, rows=lambda h, k: h - k + 1, row_of=lambda i, j, oh, ow: i * ow + j):
    """A learner's col2im by windows, with one thing changed: ``=`` for ``+=``, the windows visited, the row
    window (i, j) is read from."""
    def f(d_cols, input_shape, k=3):
        h, w = input_shape
        oh, ow = h - k + 1, w - k + 1
        d_L_d_input = np.zeros(input_shape)
        for i in range(rows(h, k)):
            for j in range(rows(w, k)):
                window = d_cols[row_of(i, j, oh, ow)].reshape(k, k)
                if assign:
                    d_L_d_input[i:i + k, j:j + k] = window
                else:
                    d_L_d_input[i:i + k, j:j + k] += window
        return d_L_d_input
    return f


def _col2im_mean(d_cols, input_shape, k=3):
    """Averages the copies of each pixel, as if col2im were im2col's inverse."""
    copies = col2im(np.ones(d_cols.shape), input_shape, k)
    return col2im(d_cols, input_shape, k) / copies


WRONG = [
    # im2col
    ("im2col", "window read column by column", _im2col_with(target=lambda a, b, k: (b, a)), "column by column"),
    ("im2col", "windows listed column by column", _im2col_with(listed="columns"),
     "the windows are listed column by column"),
    ("im2col", "one window per column (CS231n's layout)", lambda x, k=3: im2col(x, k).T, "one window per column"),
    ("im2col", "each window rotated by 180°", _im2col_with(target=lambda a, b, k: (k - 1 - a, k - 1 - b)),
     "rotated by 180°"),
    ("im2col", "not reshaped", _im2col_with(reshape=False), "not one row per window"),
    ("im2col", "oh = h - k (off by one)", _im2col_with(size=lambda h, k: h - k), "off by one"),
    ("im2col", "stride k (non-overlapping windows)", _im2col_strided, "do not overlap"),
    ("im2col", "3 written where k belongs", _im2col_with(k_used=3), "a 3 is written where k belongs"),
    ("im2col", "an integer array", _im2col_with(dtype=int), "holds integers"),
    ("im2col", "rows of the wrong windows", lambda x, k=3: im2col(x, k)[::-1],
     "your entries are pixels of x, but not all in their place: row 0 (the window at (0, 0)), column 0"),
    ("im2col", "pixels shifted by one",
     lambda x, k=3: im2col(np.pad(x, ((0, 1), (0, 0)), mode="edge")[1:], k), "which is x[1, 0]"),
    # col2im
    ("col2im", "= instead of += (by offsets)", _col2im_with(assign=True), "overwrite each other"),
    ("col2im", "= instead of += (by windows)", _col2im_windows_with(assign=True), "overwrite each other"),
    ("col2im", "the mean of the copies", _col2im_mean, "averaged"),
    ("col2im", "divided by k * k", _col2im_with(scale=1 / 9), "divided the sums by k * k"),
    ("col2im", "transposed window order", _col2im_with(source=lambda a, b: (b, a)), "transposed"),
    ("col2im", "rotated by 180°", _col2im_with(source=lambda a, b: (-1 - a, -1 - b)), "rotated by 180°"),
    ("col2im", "range(oh - 1) (off by one)", _col2im_windows_with(rows=lambda h, k: h - k),
     "the last row and column of windows are missing"),
    ("col2im", "range(k - 1) (off by one)", _col2im_with(offsets=lambda k: range(k - 1)),
     "the offsets a = k - 1 and b = k - 1 are missing"),
    ("col2im", "summed each window", lambda d_cols, input_shape, k=3: d_cols.sum(axis=1).reshape(
        input_shape[0] - k + 1, input_shape[1] - k + 1), "added up each window's"),
    ("col2im", "returned d_cols", lambda d_cols, input_shape, k=3: d_cols, "d_cols itself"),
    ("col2im", "row i * oh + j", _col2im_windows_with(row_of=lambda i, j, oh, ow: i * oh + j), "row i * oh + j"),
    ("col2im", "wrong sign", _col2im_with(scale=-1.0), "wrong sign"),
    ("col2im", "one pixel off, explained by no typical mistake",
     lambda d_cols, input_shape, k=3: col2im(d_cols, input_shape, k) + np.eye(*input_shape),
     "not the adjoint of im2col (case 1 of 7: random d_cols, input (5, 7), k = 3): for a random x, "
     "sum(im2col(x) * d_cols) = "),
]

SOLUTION_LINES = {line.strip() for function in (im2col, col2im)
                  for line in inspect.getsource(function).splitlines()[2:]
                  if len(line.strip()) > 12 and not line.strip().startswith(("#", '"""'))}

# Right answers pass, mistakes get their feedback, stubs, exceptions, odd arrays: tests/check_harness.py.
globals().update(exercise_tests(RIGHT, WRONG, SOLUTION_LINES, min_mistakes=7, array_exercises=EXERCISES))


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_first_case_tells_the_mistakes_apart(exercise):
    """Where two typical mistakes give the same answer, the check names the first of them: on all-ones d_cols,
    assigning (=) and averaging the copies agree; on a 4x4 image, windows at stride 3 and the off-by-one are
    the same single window. The first case is chosen so that every mistake gives its own answer there, and a
    learner's first ✗ line names the right one."""
    from cnn_lib.checks.fast import col2im_variants, im2col_variants
    case = (_cases.im2col_cases() if exercise == "im2col" else _cases.col2im_cases())[0]
    variants = (im2col_variants(case["x"], case["k"]) if exercise == "im2col"
                else col2im_variants(case["d_cols"], case["input_shape"], case["k"]))
    answers = [np.asarray(answer) for answer, _, _ in variants]
    for one in range(len(answers)):
        for other in range(one + 1, len(answers)):
            same = answers[one].shape == answers[other].shape and np.allclose(answers[one], answers[other])
            assert not same or variants[one][1] == variants[other][1], (variants[one][1], variants[other][1])


# ----------------------------------------------------------------------------- stubs, odd values, exceptions


def _im2col_one_row_too_many(x, k=3):
    h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    windows = np.empty((oh, ow, k, k))
    for a in range(k):
        for b in range(k):
            windows[:, :, a, b] = x[a:a + oh + 1, b:b + ow]
    return windows.reshape(oh * ow, k * k)


def _col2im_for_3x3_only(d_cols, input_shape, k=3):
    h, w = input_shape
    d_windows = d_cols.reshape(h - 2, w - 2, 3, 3)
    return col2im(d_windows.reshape(-1, 9), input_shape)


@pytest.mark.parametrize("exercise, function, phrase", [
    ("im2col", _im2col_one_row_too_many, "line 7 of your function: `windows[:, :, a, b] = x[a:a + oh + 1, b:b + ow]`"),
    ("col2im", _col2im_for_3x3_only, "line 3 of your function: `d_windows = d_cols.reshape(h - 2, w - 2, 3, 3)`"),
], ids=["im2col: a shifted copy one row too long", "col2im: written for k = 3 only"])
def test_an_error_names_the_learners_line(exercise, function, phrase, capsys):
    passed, out = run_check(exercise, function, capsys)
    assert_feedback(exercise, passed, out, "your function raised")
    assert phrase in out, out


def test_changing_the_argument_in_place_is_named(capsys):
    def col2im_in_place(d_cols, input_shape, k=3):
        d_cols /= 2                                   # divides the caller's array too
        return 2 * col2im(d_cols, input_shape, k)
    passed, out = run_check("col2im", col2im_in_place, capsys)
    assert_feedback("col2im", passed, out, "changed its argument number 1 in place")


# ----------------------------------------------------------------------------- precision and dtypes


def _in_float32(function):
    """``function`` run on a float32 copy of its array argument, computing and returning float32."""
    def learner(array, *rest):
        result = function(array.astype(np.float32), *rest)
        return result.astype(np.float32)
    return learner


def _col2im_float32(d_cols, input_shape, k=3):
    """Every addition rounded to float32: a float32 accumulator."""
    h, w = input_shape
    oh, ow = h - k + 1, w - k + 1
    d_windows = d_cols.astype(np.float32).reshape(oh, ow, k, k)
    d_L_d_input = np.zeros(input_shape, dtype=np.float32)
    for a in range(k):
        for b in range(k):
            d_L_d_input[a:a + oh, b:b + ow] += d_windows[:, :, a, b]
    return d_L_d_input


@pytest.mark.parametrize("learner, exercise", [(_in_float32(im2col), "im2col"), (_in_float32(col2im), "col2im"),
                                               (_col2im_float32, "col2im")],
                         ids=["im2col", "col2im", "col2im with a float32 accumulator"])
def test_float32_answers_pass_at_float32_precision_and_say_so(learner, exercise, capsys):
    passed, out = run_check(exercise, learner, capsys)
    assert passed is True, out
    assert out.startswith(f"✓ {exercise} passed (") and "Your results are float32" in out, out


@pytest.mark.parametrize("exercise", EXERCISES)
def test_float16_is_rejected_with_a_reason(exercise, capsys):
    passed, out = run_check(exercise, returning(RIGHT[exercise][0], lambda a: a.astype(np.float16)), capsys)
    assert_feedback(exercise, passed, out, "is float16, which keeps only about 3 significant digits")


def test_a_float32_col2im_returned_as_float64_is_named_as_rounding(capsys):
    passed, out = run_check("col2im", lambda *args: _col2im_float32(*args).astype(np.float64), capsys)
    assert_feedback("col2im", passed, out, "close, but not within the tolerance")
    assert "rounding" in out and "float32" in out, out


# ----------------------------------------------------------------------------- the references
# The library's im2col and col2im (the fast Conv layer's) against computations that share no code with it.


def test_reference_im2col_is_notebook_07s_example():
    """Notebook 07, section 2, prints these rows for np.arange(16).reshape(4, 4)."""
    cols = references.reference_im2col(np.arange(16.0).reshape(4, 4))
    assert np.array_equal(cols, [[0, 1, 2, 4, 5, 6, 8, 9, 10], [1, 2, 3, 5, 6, 7, 9, 10, 11],
                                 [4, 5, 6, 8, 9, 10, 12, 13, 14], [5, 6, 7, 9, 10, 11, 13, 14, 15]])


def test_reference_im2col_with_2x2_windows_by_hand():
    cols = references.reference_im2col(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), k=2)
    assert np.array_equal(cols, [[1, 2, 4, 5], [2, 3, 5, 6]])


def test_reference_col2im_counts_the_copies_of_each_pixel():
    counts = references.reference_col2im(np.ones((4, 9)), (4, 4))
    assert np.array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    assert np.array_equal(references.copies_per_pixel((4, 4)), counts)
    assert np.array_equal(references.reference_col2im(np.arange(1.0, 10.0).reshape(1, 9), (3, 3)),
                          np.arange(1.0, 10.0).reshape(3, 3))


@pytest.mark.parametrize("seed", [0, 1])
def test_the_references_are_the_loop_layers_convolution(seed):
    """``im2col(x) @ W.T`` is ``Conv3x3.forward``, and col2im of ``d_out @ W`` is ``Conv3x3.backward``'s
    ``d_L_d_input`` (notebook 07, sections 2 and 3)."""
    r = np.random.default_rng(seed)
    x, filters, d_L_d_out = r.standard_normal((7, 9)), r.standard_normal((4, 3, 3)), r.standard_normal((5, 7, 4))
    W = filters.reshape(4, 9)
    out = (references.reference_im2col(x) @ W.T).reshape(5, 7, 4)
    assert np.allclose(out, references.reference_conv_forward(x, filters), rtol=1e-12, atol=1e-12)
    d_L_d_input = references.reference_col2im(d_L_d_out.reshape(35, 4) @ W, x.shape)
    assert np.allclose(d_L_d_input, references.reference_conv_d_L_d_input(filters, d_L_d_out), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, k", [((5, 7), 3), ((6, 5), 2), ((8, 9), 5), ((28, 28), 3)])
def test_the_references_equal_the_learners_loops(shape, k):
    r = np.random.default_rng(k)
    x, d_cols = r.standard_normal(shape), r.standard_normal(((shape[0] - k + 1) * (shape[1] - k + 1), k * k))
    assert np.array_equal(references.reference_im2col(x, k), im2col_by_windows(x, k))
    assert np.allclose(references.reference_col2im(d_cols, shape, k), col2im_by_pixels(d_cols, shape, k),
                       rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, k", [((5, 7), 3), ((6, 5), 2), ((8, 9), 5)])
def test_reference_col2im_is_the_adjoint_and_the_gradient_of_im2col(shape, k):
    """``sum(im2col(x) * d_cols) == sum(x * col2im(d_cols))``, and col2im is the gradient of the left side."""
    r = np.random.default_rng(10 + k)
    x, d_cols = r.standard_normal(shape), r.standard_normal(((shape[0] - k + 1) * (shape[1] - k + 1), k * k))
    d_x = references.reference_col2im(d_cols, shape, k)
    assert np.isclose(np.sum(references.reference_im2col(x, k) * d_cols), np.sum(x * d_x), rtol=1e-12)
    assert_gradient(d_x, central_differences(lambda: float(np.sum(im2col(x, k) * d_cols)), x))
    assert_gradient(d_x, references.col2im_numeric(x, d_cols, k))


def test_the_cases_cover_odd_shapes_and_sizes():
    for cases in (_cases.im2col_cases(), _cases.col2im_cases()):
        shapes = [case["x"].shape if "x" in case else case["input_shape"] for case in cases]
        assert any(h != w for h, w in shapes) and {case["k"] for case in cases} >= {2, 3, 5}
        assert any(h - case["k"] + 1 == 1 for (h, _), case in zip(shapes, cases))  # a single window
