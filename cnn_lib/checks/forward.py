"""Notebook 01, the forward pass: ``check_conv_forward`` and ``check_maxpool_forward``."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._cases import conv_cases, maxpool_cases
from ._feedback import call, compare, run
from .references import reference_conv_forward, reference_maxpool_forward, windows


def check_conv_forward(conv_forward: Callable) -> bool:
    """``conv_forward(image, filters) -> out``: image ``(h, w)``, filters ``(F, 3, 3)``, out ``(h-2, w-2, F)``."""
    def judge(learner, case, where):
        image, filters = case["image"], case["filters"]
        got = call(learner, where, image, filters)
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
        compare("the output", got, expected, where,
                "out[i, j, f] = sum(image[i:i+3, j:j+3] * filters[f]).", variants,
                f"Valid padding, stride 1: an ({h}, {w}) image gives ({h} - 2, {w} - 2, number of filters), "
                "channels last.")
    return run("conv_forward", conv_forward, conv_cases(), judge)


def maxpool_variants(x):
    win = windows(x)
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
        got = call(learner, where, x)
        h, w, c = x.shape
        expected = reference_maxpool_forward(x)
        hint = "out[i, j, f] is the maximum of x[2i:2i+2, 2j:2j+2, f]."
        shape_hint = (f"The output has one value per 2x2 window and channel: ({h}//2, {w}//2, {c}). "
                      "Windows do not overlap (stride 2), and each channel is pooled separately.")
        compare("the pooled output", got, expected, where, hint, maxpool_variants(x), shape_hint)
    return run("maxpool_forward", maxpool_forward, maxpool_cases(), judge)
