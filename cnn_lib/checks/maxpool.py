"""Notebook 04, backpropagation through max-pooling: ``check_maxpool_backward``.

Where a window's maximum is unique, its gradient must go to that pixel. Where several pixels tie for
the maximum, ``max`` has a kink and every subgradient is right (notebook 04, section 3): any split of
the window's gradient among its tied maxima into shares of its sign (weights >= 0) that add up to it,
e.g. all of it to the first maximum (the library's rule), to the last, or an equal split. The
tutorial's rule, the whole gradient to *every* tied maximum, adds up to 2, 3 or 4 times the gradient
and is rejected with its own message.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._cases import maxpool_backward_case, maxpool_cases
from ._feedback import Tolerance, Wrong, accept_if_valid, as_array, call, compare, run, tolerance
from .references import from_windows, maxpool_numeric, reference_maxpool_backward, windows

def is_subgradient(x, d_L_d_out, got, tol: Tolerance) -> bool:
    """Each window's gradient split among its maxima (any tied ones) in shares of its sign that add up to it.

    Zero (within ``tol``) off the maxima; on the maxima, entries of the sign of ``d_L_d_out[i, j, f]`` whose
    sum is ``d_L_d_out[i, j, f]``. For a window with a unique maximum that is the maximum getting it all.
    """
    win, g = windows(x), windows(got)
    at_max = win == win.max(axis=2, keepdims=True)
    off_max_zero = np.all(np.abs(np.where(at_max, 0, g)) <= tol.atol)
    sums_right = tol.close(g.sum(axis=2), d_L_d_out)
    signs_right = np.all(g * np.sign(d_L_d_out)[:, :, None, :] >= -tol.atol)
    return bool(off_max_zero and sums_right and signs_right)


def diagnose_ties(x, d_L_d_out, where):
    """A ``diagnose`` for ``compare``: name a wrong split on tied windows when every other window is right."""
    def diagnose(got, tol):
        win, g = windows(x), windows(got)
        at_max = win == win.max(axis=2, keepdims=True)
        tied = np.count_nonzero(at_max, axis=2) > 1                     # (h/2, w/2, c)
        expected = windows(reference_maxpool_backward(x, d_L_d_out))
        if not np.any(tied) or not tol.close(np.where(tied[:, :, None, :], 0, g),
                                             np.where(tied[:, :, None, :], 0, expected)):
            return  # a window without a tie is wrong too: not a matter of ties
        if np.any(np.abs(np.where(at_max, 0, g)) > tol.atol):
            return  # gradient on a pixel that is not a maximum: the generic message shows where
        sums = g.sum(axis=2)
        bad_sum = tied & ~np.isclose(sums, d_L_d_out, rtol=tol.rtol, atol=tol.atol)
        if np.any(bad_sum):
            i, j, f = (int(k) for k in np.argwhere(bad_sum)[0])
            count = int(np.count_nonzero(at_max[i, j, :, f]))
            raise Wrong(f"d_L_d_input: on the window ({i}, {j}) of channel {f}, whose maximum is tied {count} "
                        f"times, your entries add up to {sums[i, j, f]:.6g}, but d_L_d_out[{i}, {j}, {f}] is "
                        f"{d_L_d_out[i, j, f]:.6g}; the windows without ties are right ({where}).",
                        "Give the whole gradient to one tied maximum (e.g. the first), or split it among them in "
                        "shares that add up to d_L_d_out[i, j, f]: raising every tied value by h raises the max "
                        "by h (notebook 04, section 3).")
        wrong_sign = tied[:, :, None, :] & (g * np.sign(d_L_d_out)[:, :, None, :] < -tol.atol)
        if np.any(wrong_sign):
            i, j, k, f = (int(n) for n in np.argwhere(wrong_sign)[0])
            shares = ", ".join(f"{v:.6g}" for v in g[i, j, at_max[i, j, :, f], f])
            raise Wrong(f"d_L_d_input: on the tied window ({i}, {j}) of channel {f}, your shares ({shares}) add up "
                        f"to d_L_d_out[{i}, {j}, {f}] = {d_L_d_out[i, j, f]:.6g}, but not all have its sign "
                        f"({where}).",
                        "A valid split (a subgradient, notebook 04, section 3) gives each tied maximum a share "
                        "w * d_L_d_out[i, j, f] with w >= 0, the weights adding up to 1; the simplest is all of it "
                        "to the first maximum.")
    return diagnose


def check_maxpool_backward(maxpool_backward: Callable) -> bool:
    """``maxpool_backward(x, d_L_d_out) -> d_L_d_input`` (shape of x); ties: any subgradient (``is_subgradient``)."""
    def judge(learner, case, where):
        x, d_L_d_out = case["x"], case["d_L_d_out"]
        got = call(learner, where, x, d_L_d_out)
        expected = reference_maxpool_backward(x, d_L_d_out)
        got_array = as_array("d_L_d_input", got, expected, where)
        tol = tolerance(got_array.dtype, float(np.max(np.abs(expected))))
        if accept_if_valid(got_array, expected, tol, lambda g, t: is_subgradient(x, d_L_d_out, g, t)):
            return  # the first maximum (the library's rule), another one, or a split among tied maxima
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
                                "the gradient was sent, whole, to every tied maximum of a window (the tutorial's "
                                "rule), so a window tied k times passes back k times its gradient",
                                "Raising all tied values by h raises the max by h, not by 2h or 4h: send the "
                                "window's gradient to one of them (e.g. the first), or split it among them in "
                                "shares that add up to it (notebook 04, section 3)."))
        numeric = None
        if "random" in case["desc"]:
            numeric = maxpool_numeric(x, d_L_d_out)
        compare("d_L_d_input", got_array, expected, where,
                "Each window's d_L_d_out goes to the position of its maximum, separately for each channel; "
                "every other pixel gets 0.", variants,
                "d_L_d_input has the shape of the input x: one gradient per input pixel.", numeric,
                diagnose=diagnose_ties(x, d_L_d_out, where))
    cases = [maxpool_backward_case(case, number) for number, case in enumerate(maxpool_cases())]
    return run("maxpool_backward", maxpool_backward, cases, judge)
