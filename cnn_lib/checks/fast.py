"""Notebook 07, the convolution as matrix products: ``check_im2col`` and ``check_col2im``.

Notebook 07's convention, for one image ``x`` of shape ``(h, w)`` and ``k x k`` windows
(``oh = h - k + 1``, ``ow = w - k + 1``)::

    cols[i * ow + j, a * k + b] = x[i + a, j + b]        im2col: (h, w) -> (oh * ow, k * k)
    d_L_d_input[m, n] = sum of d_cols[i * ow + j, a * k + b] over i + a = m, j + b = n
                                                         col2im: (oh * ow, k * k) -> (h, w)

col2im is the adjoint (the transpose) of im2col: ``sum(im2col(x) * d_cols) == sum(x * col2im(d_cols))``
for every ``x`` and ``d_cols``, so col2im of ``d_cols`` is the gradient of that sum with respect to ``x``.
The references are the fast ``Conv`` layer's own im2col and col2im (``references``); a wrong col2im is
also judged by the adjoint identity and by central differences of that sum.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._cases import col2im_cases, im2col_cases
from ._feedback import FLOAT32_RTOL, NEAR_MISS, Tolerance, Wrong, call, case_rng, compare, pair, run
from .references import col2im_numeric, copies_per_pixel, reference_col2im, reference_im2col

IM2COL_HINT = ("Row i * ow + j is the window whose top-left corner is (i, j), column a * k + b its pixel at offset "
               "(a, b): cols[i * ow + j, a * k + b] = x[i + a, j + b] (notebook 07, section 2).")
COL2IM_HINT = ("col2im is the adjoint (the transpose) of im2col: pixel (m, n) receives the SUM of d_cols[i * ow + j, "
               "a * k + b] over every window (i, j) and offset (a, b) with i + a = m and j + b = n. Loop over the "
               "k * k offsets and add column a * k + b, reshaped to (oh, ow), onto the block of d_L_d_input shifted "
               "by (a, b) (notebook 07, section 3).")


def output_size(shape: tuple, k: int) -> tuple[int, int]:
    """``(oh, ow)``: the number of ``k x k`` windows down and across an image of ``shape`` ``(h, w)``."""
    return shape[0] - k + 1, shape[1] - k + 1


def worth_diagnosing(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> bool:
    """True unless ``compare``'s own messages say more: a near miss, or a multiple (e.g. -1 times) of the answer."""
    scale = float(np.max(np.abs(expected))) if expected.size else 1.0
    if np.all(np.abs(got - expected) <= NEAR_MISS * np.abs(expected) + FLOAT32_RTOL * scale):
        return False
    norm = float(np.sum(expected * expected))
    factor = float(np.sum(got * expected)) / norm if norm else 0.0
    return not (abs(factor) > 1e-12 and tol.close(got, factor * expected))


# ----------------------------------------------------------------------------- im2col


def im2col_variants(x: np.ndarray, k: int) -> list:
    """``(answer, problem, hint)`` of the typical mistakes, for the image ``x`` ``(h, w)``."""
    h, w = x.shape
    oh, ow = output_size(x.shape, k)
    cols = reference_im2col(x, k)
    variants = [
        (cols.reshape(-1, k, k).transpose(0, 2, 1).reshape(-1, k * k),
         "each window is read column by column (pixel (a, b) of the window is in column b * k + a)",
         "Read the window row by row, as a filter is flattened by filters.reshape(num_filters, k * k): pixel "
         "(a, b) goes to column a * k + b, so that cols @ W.T multiplies it with filters[f, a, b]."),
        (cols.reshape(oh, ow, k * k).transpose(1, 0, 2).reshape(oh * ow, k * k),
         "the windows are listed column by column (window (i, j) in row j * oh + i)",
         "List the windows row by row, in the order of the output pixels: window (i, j) is row i * ow + j, so "
         "that reshaping cols @ W.T to (oh, ow, num_filters) gives out[i, j, f]."),
        (cols.T, f"one window per column, shape {cols.T.shape}: the layout of CS231n's im2col",
         "Notebook 07 stores the windows as rows, so that the convolution is cols @ W.T: return shape "
         "(oh * ow, k * k)."),
        (cols[:, ::-1], "each window is rotated by 180°",
         "im2col copies a window as it is, cols[i * ow + j, a * k + b] = x[i + a, j + b]: the layer computes "
         "a correlation (notebook 01), no flip."),
        (cols.reshape(oh, ow, k, k), f"the windows in an array of shape {(oh, ow, k, k)}, not one row per window",
         "Reshape at the end to (oh * ow, k * k): one row per window, one column per pixel of the window."),
    ]
    if h > k and w > k:
        variants.append((reference_im2col(x[:-1, :-1], k), "the last row and column of windows are missing "
                         "(off by one)", "A k x k window fits at oh = h - k + 1 positions down and ow = w - k + 1 "
                         "across: the last window starts at row h - k."))
    if h >= 2 * k and w >= 2 * k:
        strided = np.stack([x[k * i:k * i + k, k * j:k * j + k].ravel()
                            for i in range(h // k) for j in range(w // k)])
        variants.append((strided, "your windows do not overlap (stride k, as in pooling)",
                         "The convolution has stride 1: a window starts at every (i, j) with i < oh and j < ow, "
                         "and neighbouring windows share k - 1 columns."))
    if k != 3 and h >= 3 and w >= 3:
        variants.append((reference_im2col(x, 3), f"your windows are 3x3, but k = {k}: a 3 is written where k belongs",
                         "Use k everywhere: oh = h - k + 1, ow = w - k + 1, range(k) for the offsets, shape "
                         "(oh * ow, k * k)."))
    return variants


def first_wrong(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> tuple[int, ...]:
    """The index of the first entry, in reading order, that is not within ``tol`` of ``expected``."""
    wrong = ~np.isclose(got, expected, rtol=tol.rtol, atol=tol.atol)
    return tuple(int(n) for n in np.argwhere(wrong)[0])


def wrong_pixel(x: np.ndarray, k: int, where: str) -> Callable:
    """A ``diagnose`` for ``compare``: when every wrong entry is a copy of a pixel of ``x``, name the first one's
    window, offset and the pixel it was copied from."""
    oh, ow = output_size(x.shape, k)

    def diagnose(got, tol):
        expected = reference_im2col(x, k)
        if not worth_diagnosing(got, expected, tol):
            return
        wrong = got[~np.isclose(got, expected, rtol=tol.rtol, atol=tol.atol)]    # in reading order
        is_pixel = np.abs(x.reshape(-1, 1) - wrong) <= tol.atol + tol.rtol * np.abs(wrong)  # (h * w, wrong entries)
        if not np.all(np.count_nonzero(is_pixel, axis=0) == 1):
            return  # not all copies of pixels of x (e.g. x + 1): compare names the first wrong entry
        r, q = first_wrong(got, expected, tol)
        i, j, a, b = r // ow, r % ow, q // k, q % k
        m, n = (int(v) for v in np.unravel_index(np.argmax(is_pixel[:, 0]), x.shape))
        raise Wrong(f"cols: your entries are pixels of x, but not all in their place: row {r} (the window at "
                    f"({i}, {j})), column {q} (its offset ({a}, {b})) should hold x[{i + a}, {j + b}] = "
                    f"{expected[r, q]:.6g}, but it holds {got[r, q]:.6g}, which is x[{m}, {n}] ({where}).",
                    IM2COL_HINT)
    return diagnose


def check_im2col(im2col: Callable) -> bool:
    """``im2col(x, k) -> cols``: ``x`` ``(h, w)``, ``cols`` ``(oh * ow, k * k)``.

    ``cols[i * ow + j, a * k + b] = x[i + a, j + b]``, with ``oh = h - k + 1`` and ``ow = w - k + 1``.
    """
    def judge(learner, case, where):
        x, k = case["x"], case["k"]
        got = call(learner, where, x, k)
        oh, ow = output_size(x.shape, k)
        compare("cols", got, reference_im2col(x, k), where, IM2COL_HINT, im2col_variants(x, k),
                f"cols has one row per window and one column per pixel of a window: (oh * ow, k * k) = "
                f"({oh * ow}, {k * k}) here, with oh = h - k + 1 = {oh} and ow = w - k + 1 = {ow}.",
                diagnose=wrong_pixel(x, k, where))
    return run("im2col", im2col, im2col_cases(), judge)


# ----------------------------------------------------------------------------- col2im


def col2im_variants(d_cols: np.ndarray, input_shape: tuple, k: int) -> list:
    """``(answer, problem, hint)`` of the typical mistakes, for ``d_cols`` ``(oh * ow, k * k)``."""
    oh, ow = output_size(input_shape, k)
    expected = reference_col2im(d_cols, input_shape, k)
    windows = d_cols.reshape(oh, ow, k, k)
    by_offset, by_window = np.zeros(input_shape), np.zeros(input_shape)
    for a in range(k):
        for b in range(k):
            by_offset[a:a + oh, b:b + ow] = windows[:, :, a, b]
    for i in range(oh):
        for j in range(ow):
            by_window[i:i + k, j:j + k] = windows[i, j]
    overwrite_hint = ("A pixel was copied into up to k * k rows of cols, and the chain rule adds the gradients of all "
                      "its copies: add them (+=), do not assign (notebook 07, section 3).")
    inverse_hint = ("col2im is not the inverse of im2col (which would rebuild x from its copies) but its adjoint: the "
                    "gradients of a pixel's copies add up, and nothing divides them.")
    variants = [
        (by_offset, "overlapping windows overwrite each other: each pixel keeps the gradient of its last copy only",
         overwrite_hint),
        (by_window, "overlapping windows overwrite each other: each pixel keeps the gradient of its last copy only",
         overwrite_hint),
        (expected / copies_per_pixel(input_shape, k), "you averaged the gradients of each pixel's copies (a mean, "
         "not a sum)", inverse_hint),
        (expected / (k * k), f"you divided the sums by k * k = {k * k}", inverse_hint),
        (reference_col2im(windows.transpose(0, 1, 3, 2).reshape(oh * ow, k * k), input_shape, k),
         "each window's values went back transposed (column a * k + b to offset (b, a))",
         "Column a * k + b of d_cols belongs to offset (a, b), row offset first: pixel (i + a, j + b), as im2col "
         "reads a window row by row."),
        (reference_col2im(d_cols[:, ::-1], input_shape, k), "each window's values went back rotated by 180°",
         "col2im sends column a * k + b back to pixel (i + a, j + b), where im2col took it from: no flip. (Notebook "
         "05's rotated filters belong to the gather view; d_out @ W and col2im are the scatter view, where nothing "
         "is flipped.)"),
        (d_cols.sum(axis=1).reshape(oh, ow), f"you added up each window's k * k values: shape {(oh, ow)}, one "
         "number per window", "Each of a window's k * k values belongs to a different pixel: send value a * k + b "
         "back to pixel (i + a, j + b). The result has the input's shape."),
        (d_cols, "this is d_cols itself, not yet added back onto the image",
         "Add each column a * k + b, reshaped to (oh, ow), onto the pixels it came from: the result has the "
         "input's shape."),
    ]
    if oh > 1 and ow > 1:
        missing = windows.copy()
        missing[-1], missing[:, -1] = 0, 0
        variants.append((reference_col2im(missing.reshape(oh * ow, k * k), input_shape, k),
                         "the last row and column of windows are missing (off by one)",
                         "There are oh = h - k + 1 rows and ow = w - k + 1 columns of windows: range(oh), range(ow)."))
    if k > 1:
        missing = windows.copy()
        missing[:, :, -1], missing[:, :, :, -1] = 0, 0
        variants.append((reference_col2im(missing.reshape(oh * ow, k * k), input_shape, k),
                         "the offsets a = k - 1 and b = k - 1 are missing (off by one)",
                         "A window has k rows and k columns of offsets: range(k) for a and for b."))
    if 1 < oh < ow:  # window (i, j) read from row i * oh + j: a typo that stays in range when oh < ow
        mixed = np.zeros(input_shape)
        for i in range(oh):
            for j in range(ow):
                mixed[i:i + k, j:j + k] += d_cols[i * oh + j].reshape(k, k)
        variants.append((mixed, "window (i, j) was read from row i * oh + j",
                         "The windows are listed row by row, ow = w - k + 1 of them in each row: window (i, j) is "
                         "row i * ow + j."))
    return variants


def adjoint_test(d_cols: np.ndarray, input_shape: tuple, k: int, where: str) -> Callable:
    """A ``diagnose`` for ``compare``: the adjoint identity on a random x, and the first pixel that breaks it."""
    def diagnose(got, tol):
        expected = reference_col2im(d_cols, input_shape, k)
        if not worth_diagnosing(got, expected, tol):
            return
        x = case_rng(7).standard_normal(input_shape)
        left, right = float(np.sum(reference_im2col(x, k) * d_cols)), float(np.sum(x * got))
        m, n = first_wrong(got, expected, tol)
        copies = int(copies_per_pixel(input_shape, k)[m, n])
        raise Wrong(f"d_L_d_input: not the adjoint of im2col ({where}): for a random x, sum(im2col(x) * d_cols) = "
                    f"{left:.6g}, but sum(x * your result) = {right:.6g}. Pixel ({m}, {n}) was copied into {copies} "
                    f"window{'s' if copies != 1 else ''}: at ({m}, {n}) {pair(float(got[m, n]), float(expected[m, n]))}"
                    f", the sum of the gradients of its copies.", COL2IM_HINT)
    return diagnose


def check_col2im(col2im: Callable) -> bool:
    """``col2im(d_cols, input_shape, k) -> d_L_d_input`` of shape ``input_shape``: the adjoint of ``im2col``."""
    def judge(learner, case, where):
        d_cols, input_shape, k = case["d_cols"], case["input_shape"], case["k"]
        got = call(learner, where, d_cols, input_shape, k)
        numeric = col2im_numeric(case_rng(8).standard_normal(input_shape), d_cols, k)
        compare("d_L_d_input", got, reference_col2im(d_cols, input_shape, k), where, COL2IM_HINT,
                col2im_variants(d_cols, input_shape, k),
                f"d_L_d_input has the shape of the input, input_shape = {input_shape}: one gradient per pixel.",
                numeric, diagnose=adjoint_test(d_cols, input_shape, k, where))
    return run("col2im", col2im, col2im_cases(), judge)
