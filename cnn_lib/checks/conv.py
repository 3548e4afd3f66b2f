"""Notebook 05, the gradients of the convolution: ``check_conv_d_L_d_filters`` and ``check_conv_d_L_d_input``."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._cases import conv_cases
from ._feedback import call, compare, run
from .references import conv_numeric, reference_conv_d_L_d_filters, reference_conv_d_L_d_input


def check_conv_d_L_d_filters(conv_d_L_d_filters: Callable) -> bool:
    """``conv_d_L_d_filters(image, d_L_d_out) -> d_L_d_filters`` of shape ``(F, 3, 3)``."""
    def judge(learner, case, where):
        image, filters, d_L_d_out = case["image"], case["filters"], case["d_L_d_out"]
        got = call(learner, where, image, d_L_d_out)
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
        numeric, _ = conv_numeric(image, filters, d_L_d_out)
        compare("d_L_d_filters", got, expected, where,
                "d_L_d_filters[f] = sum over positions (i, j) of d_L_d_out[i, j, f] * image[i:i+3, j:j+3].",
                variants, "One 3x3 gradient per filter: shape (F, 3, 3) with F = d_L_d_out.shape[2].",
                numeric)
    return run("conv_d_L_d_filters", conv_d_L_d_filters, conv_cases(), judge)


def check_conv_d_L_d_input(conv_d_L_d_input: Callable) -> bool:
    """``conv_d_L_d_input(filters, d_L_d_out) -> d_L_d_input`` of shape ``(h, w)`` = ``d_L_d_out``'s + 2."""
    def judge(learner, case, where):
        image, filters, d_L_d_out = case["image"], case["filters"], case["d_L_d_out"]
        got = call(learner, where, filters, d_L_d_out)
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
        _, numeric = conv_numeric(image, filters, d_L_d_out)
        h, w = image.shape
        compare("d_L_d_input", got, expected, where,
                "d_L_d_input[m, n] = sum over f and positions (i, j) of d_L_d_out[i, j, f] * filters[f, m - i, n - j].",
                variants, f"d_L_d_input has the shape of the layer's input, ({h}, {w}) here: "
                "d_L_d_out's height and width plus 2, one value per pixel (summed over filters).", numeric)
    return run("conv_d_L_d_input", conv_d_L_d_input, conv_cases(), judge)
