"""Notebook 04, backpropagation through max-pooling: ``check_maxpool_backward``."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._cases import maxpool_backward_case, maxpool_cases
from ._feedback import ATOL, RTOL, as_array, call, compare, run
from .references import from_windows, maxpool_numeric, reference_maxpool_backward, windows


def is_valid_routing(x, d_L_d_out, got) -> bool:
    """Each window's gradient sits wholly on one of its maxima (any tied one), zero elsewhere."""
    win, g = windows(x), windows(got)
    at_max = win == win.max(axis=2, keepdims=True)
    off_max_zero = np.all(np.where(at_max, 0, g) == 0)
    sums_right = np.allclose(g.sum(axis=2), d_L_d_out, rtol=RTOL, atol=ATOL)
    one_entry = np.all(np.count_nonzero(g, axis=2) <= 1)
    return bool(off_max_zero and sums_right and one_entry)


def check_maxpool_backward(maxpool_backward: Callable) -> bool:
    """``maxpool_backward(x, d_L_d_out) -> d_L_d_input`` (shape of x); ties: one maximum gets it."""
    def judge(learner, case, where):
        x, d_L_d_out = case["x"], case["d_L_d_out"]
        got = call(learner, where, x, d_L_d_out)
        expected = reference_maxpool_backward(x, d_L_d_out)
        got_array = as_array("d_L_d_input", got, expected, where)
        if got_array.shape == expected.shape and np.all(np.isfinite(got_array)) \
                and is_valid_routing(x, d_L_d_out, got_array):
            return  # the first maximum (the library's rule) or another single tied maximum: both right
        win, up = windows(x), np.repeat(d_L_d_out[:, :, None, :], 4, axis=2)
        h, w, c = x.shape
        first_over_channels = (win == win.max(axis=(2, 3), keepdims=True))
        stride_one = np.zeros_like(x)
        for i in range(h // 2):
            for j in range(w // 2):
                region = x[i:i + 2, j:j + 2]
                mask = region == region.max(axis=(0, 1))
                stride_one[i:i + 2, j:j + 2] = np.where(mask, d_L_d_out[i, j], stride_one[i:i + 2, j:j + 2])
        variants = [
            (from_windows(up, x.shape), "every pixel of the window got the window's gradient",
             "Only the maximum affected the output, so only the maximum gets d_L_d_out; the other three get 0."),
            (from_windows(up / 4, x.shape), "the gradient is spread evenly over the window (/4)",
             "That is the gradient of average pooling. For max, the maximum gets all of it, the rest 0."),
            (from_windows(np.where(win == win.min(axis=2, keepdims=True), up, 0), x.shape),
             "the gradient went to the window's minimum", "Send it to the position of the maximum."),
            (from_windows(np.where(win == win.max(axis=2, keepdims=True), 1.0, 0), x.shape),
             "you return where the maxima are (1 there), but not the gradient",
             "Chain rule: multiply by d_L_d_out, a missing factor. The maximum's entry is d_L_d_out[i, j, f], not 1."),
            (from_windows(np.where(first_over_channels, up, 0), x.shape),
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
            numeric = maxpool_numeric(x, d_L_d_out)
        compare("d_L_d_input", got_array, expected, where,
                "Each window's d_L_d_out goes to the position of its maximum, separately for each channel; "
                "every other pixel gets 0.", variants,
                "d_L_d_input has the shape of the input x: one gradient per input pixel.", numeric)
    cases = [maxpool_backward_case(case, number) for number, case in enumerate(maxpool_cases())]
    return run("maxpool_backward", maxpool_backward, cases, judge)
