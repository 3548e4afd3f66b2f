"""The fixed and random cases every check runs, each with a description the feedback quotes."""

from __future__ import annotations

import numpy as np

from ..network import TutorialCNN
from ._feedback import case_rng
from .references import reference_maxpool_forward, reference_softmax_forward


def softmax_forward_cases() -> list:
    rng = case_rng(1)
    fixed = [("three equal totals", [0.0, 0.0, 0.0]), ("totals 1, 2, 3", [1.0, 2.0, 3.0]),
             ("large totals around 1000", [1000.0, 999.0, 998.0, 990.0]),
             ("very negative totals around -1000", [-1000.0, -999.0, -1001.0]),
             ("totals spread from -800 to 800", [0.0, 800.0, -800.0, 1.0])]
    cases = [{"desc": desc, "totals": np.array(t)} for desc, t in fixed]
    for n in (10, 4, 7):
        cases.append({"desc": f"random totals of shape ({n},)", "totals": rng.standard_normal(n) * 3})
    return cases


def softmax_backward_cases() -> list:
    rng = case_rng(2)
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


def maxpool_cases() -> list:
    rng = case_rng(3)
    ties = np.array([[1, 1, 0, 2], [1, 1, 2, 0], [3, -1, 5, 5], [0, 3, 5, 1]], dtype=float)[:, :, None]
    return [
        {"desc": "random x of shape (4, 6, 3)", "x": rng.standard_normal((4, 6, 3))},
        {"desc": "random x of shape (6, 4, 2)", "x": rng.standard_normal((6, 4, 2))},
        {"desc": "one window, x of shape (2, 2, 1)", "x": np.array([[1.0, 4.0], [3.0, 2.0]])[:, :, None]},
        {"desc": "all values negative, x of shape (4, 4, 2)", "x": -1 - rng.random((4, 4, 2))},
        {"desc": "windows with tied maxima, x of shape (4, 4, 1)", "x": ties},
        {"desc": "random x of shape (8, 8, 4)", "x": rng.standard_normal((8, 8, 4))},
    ]


def maxpool_backward_case(case, seed):
    x = case["x"]
    d_L_d_out = np.round(case_rng(seed).standard_normal(reference_maxpool_forward(x).shape), 3)
    d_L_d_out[d_L_d_out == 0] = 0.5
    return dict(case, d_L_d_out=d_L_d_out)


def conv_cases() -> list:
    rng = case_rng(4)
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
        d_L_d_out = case_rng(10 + number).standard_normal(out_shape)
        if number == 2:  # one output gradient: d_L_d_input is then one filter, stamped
            d_L_d_out = np.zeros(out_shape)
            d_L_d_out[1, 1, 0] = 1.0
        case["d_L_d_out"] = d_L_d_out
    return cases


def train_cases() -> list:
    """Four nets that predict their image wrong (``correct == 0``), and one trained to predict it right.

    The last net took 5 steps on its own image first, so its most probable digit is the label: a
    ``train_step`` whose ``correct`` is always 0 fails there.
    """
    from ..data import load_subset
    images, labels, _, _ = load_subset()
    cases = []
    for number, (index, lr, warm, on_image) in enumerate(
            [(0, 0.005, 0, 0), (1, 0.01, 0, 0), (2, 0.005, 3, 0), (7, 0.05, 0, 0), (3, 0.005, 0, 5)]):
        net = TutorialCNN(np.random.default_rng(number))
        for k in range(warm):  # a net that has already taken a few steps
            net.train(images[10 + k], int(labels[10 + k]), 0.005)
        for _ in range(on_image):  # a net that has learned this image: it predicts the label
            net.train(images[index], int(labels[index]), 0.005)
        history = (f", after {warm} steps" if warm else
                   f", after {on_image} steps on this image (the net predicts it right)" if on_image else
                   ", untrained net")
        cases.append({"desc": f"train_images[{index}] (a {int(labels[index])}), lr = {lr}" + history,
                      "net": net, "image": images[index], "label": int(labels[index]), "lr": lr})
    return cases


def relu_cases() -> list:
    """Inputs ``x`` of ReLU and gradients ``d_L_d_out`` of its output, in the deep network's shapes: ``(n, nodes)``
    after a dense layer, ``(n, h, w, c)`` after a convolution.

    ``x`` and ``d_L_d_out`` are drawn independently, so a mask taken from the gradient's sign instead of ``x``'s
    shows. The first cases hold entries of ``x`` at exactly 0, ReLU's kink. ``d_L_d_out`` has no zero.
    """
    rng = case_rng(8)
    with_zeros = rng.standard_normal((3, 6))
    with_zeros.flat[[1, 8, 13, 17]] = 0.0
    maps = rng.standard_normal((2, 4, 4, 3))
    maps[maps < -1.2] = 0.0
    cases = [
        ("x (3, 6): 3 images, 6 nodes, 4 values exactly 0", with_zeros),
        (f"x (2, 4, 4, 3): feature maps, {np.count_nonzero(maps == 0)} values exactly 0", maps),
        ("x (2, 7): values in steps of 0.5 from -1 to 1, many exactly 0", np.round(rng.uniform(-1, 1, (2, 7)) * 2) / 2),
        ("x (1, 5): all negative", -0.1 - rng.random((1, 5))),
        ("x (4, 3): all positive", 0.1 + rng.random((4, 3))),
        ("x (3, 2, 3, 4): random feature maps", rng.standard_normal((3, 2, 3, 4))),
    ]
    result = []
    for desc, x in cases:
        d_L_d_out = rng.standard_normal(x.shape)
        d_L_d_out[d_L_d_out == 0] = 0.5
        result.append({"desc": desc, "x": x, "d_L_d_out": d_L_d_out})
    return result


def dense_cases() -> list:
    """A batch ``x``, ``weights`` ``(input_len, nodes)`` and ``d_L_d_out`` ``(n, nodes)``.

    The first case has square weights, so that ``weights`` in place of ``weights.T`` (or a transposed
    ``d_L_d_weights``) gives an answer of the right shape and the check can name it; no case has as many
    images as nodes or inputs, so that a sum over the wrong axis shows in the shape. Two cases hold a batch
    of feature maps ``(n, h, w, c)``, which the layer reads flattened (``Flatten``, then ``Dense``).
    """
    rng = case_rng(9)
    shapes = [
        ("x (3, 5), weights (5, 5): 3 images, 5 inputs, 5 nodes", (3, 5), 5),
        ("x (4, 6), weights (6, 3)", (4, 6), 3),
        ("x (2, 3, 2, 2): feature maps read as 12 inputs, weights (12, 4)", (2, 3, 2, 2), 4),
        ("x (1, 7): one image, weights (7, 2)", (1, 7), 2),
        ("x (3, 2, 2, 4): feature maps read as 16 inputs, weights (16, 10)", (3, 2, 2, 4), 10),
        ("x (8, 10), weights (10, 6)", (8, 10), 6),
    ]
    cases = []
    for desc, x_shape, nodes in shapes:
        x = rng.standard_normal(x_shape)
        input_len = int(np.prod(x_shape[1:]))
        cases.append({"desc": desc, "x": x, "weights": rng.standard_normal((input_len, nodes)),
                      "d_L_d_out": rng.standard_normal((x_shape[0], nodes))})
    return cases


def conv_backward_cases() -> list:
    """A batch ``x`` ``(n, h, w, C)``, ``filters`` ``(F, k, k, C)``, ``biases`` ``(F,)`` and ``d_L_d_out``
    ``(n, h - k + 1, w - k + 1, F)``.

    The first case has as many filters as input channels (so that swapped channel axes give an answer of the
    right shape, which the check can name), two images and a non-square input. Then: one filter numbered
    1..9 with one output gradient (``d_L_d_x`` is the filter, stamped), more filters than channels, the
    deep network's 5x5 filters, 2x2 filters, and a single output position.
    """
    rng = case_rng(10)
    counting = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    specs = [
        ("batch of 2, x (2, 5, 6, 2), 2 filters 3x3x2", (2, 5, 6, 2), None, 2, 3),
        ("one image (1, 4, 4, 1), one filter 1..9, one output gradient", (1, 4, 4, 1), counting, 1, 3),
        ("batch of 3, x (3, 6, 5, 3), 4 filters 3x3x3", (3, 6, 5, 3), None, 4, 3),
        ("batch of 2, x (2, 7, 8, 2), 3 filters 5x5x2 (the deep network's size)", (2, 7, 8, 2), None, 3, 5),
        ("batch of 4, x (4, 4, 5, 3), 2 filters 2x2x3", (4, 4, 5, 3), None, 2, 2),
        ("one image (1, 3, 3, 4), 3 filters 3x3x4: one output position", (1, 3, 3, 4), None, 3, 3),
    ]
    cases = []
    for number, (desc, (n, h, w, c), filters, num_filters, k) in enumerate(specs):
        x = rng.standard_normal((n, h, w, c))
        if filters is None:
            filters = rng.standard_normal((num_filters, k, k, c))
        out_shape = (n, h - k + 1, w - k + 1, num_filters)
        d_L_d_out = rng.standard_normal(out_shape)
        if number == 1:  # one output gradient: d_L_d_x is then the filter, stamped at (1, 1)
            d_L_d_out = np.zeros(out_shape)
            d_L_d_out[0, 1, 1, 0] = 1.0
        cases.append({"desc": desc, "x": x, "filters": filters, "biases": rng.standard_normal(num_filters),
                      "d_L_d_out": d_L_d_out})
    return cases


def im2col_cases() -> list:
    """Images ``x`` ``(h, w)`` and filter sizes ``k``: square and not, one window, the tutorial's 28x28, k = 2 and 5.

    The first two images count 0, 1, 2, ..., so that every pixel has its own value and a pixel copied to the
    wrong place shows. The first is large enough and not square, so that every typical mistake gives its own
    answer there; the second is notebook 07's example.
    """
    rng = case_rng(5)
    cases = [
        ("image (6, 7) counting 0..41, k = 3", np.arange(42.0).reshape(6, 7), 3),
        ("image (4, 4) counting 0..15, k = 3 (notebook 07's example)", np.arange(16.0).reshape(4, 4), 3),
        ("random image (5, 7), k = 3", rng.standard_normal((5, 7)), 3),
        ("random image (7, 4), k = 3", rng.standard_normal((7, 4)), 3),
        ("image (3, 3), one window, k = 3", rng.standard_normal((3, 3)), 3),
        ("image (6, 5) counting 0..29, k = 2", np.arange(30.0).reshape(6, 5), 2),
        ("random image (8, 9), k = 5", rng.standard_normal((8, 9)), 5),
        ("random image (28, 28), k = 3 (the tutorial's size)", rng.standard_normal((28, 28)), 3),
    ]
    return [{"desc": desc, "x": x, "k": k} for desc, x, k in cases]


def col2im_cases() -> list:
    """Gradients ``d_cols`` ``(oh * ow, k * k)`` of the copies im2col makes of an input ``(h, w)``.

    Random values first, so that every typical mistake gives its own answer (with all ones, assigning
    with ``=`` and averaging the copies give the same); then all ones (each pixel gets the number of
    windows that copied it) and one window numbered 1..9 (a flip or transpose shows).
    """
    rng = case_rng(6)
    cases = []
    for desc, (h, w), k, kind in [
            ("random d_cols, input (5, 7), k = 3", (5, 7), 3, "random"),
            ("random d_cols, input (7, 4), k = 3", (7, 4), 3, "random"),
            ("d_cols all ones, input (4, 4), k = 3: each pixel gets its number of copies", (4, 4), 3, "ones"),
            ("one window d_cols 1..9, input (3, 3), k = 3", (3, 3), 3, "counting"),
            ("random d_cols, input (6, 5), k = 2", (6, 5), 2, "random"),
            ("random d_cols, input (8, 9), k = 5", (8, 9), 5, "random"),
            ("random d_cols, input (28, 28), k = 3 (the tutorial's size)", (28, 28), 3, "random")]:
        shape = ((h - k + 1) * (w - k + 1), k * k)
        d_cols = {"random": lambda: rng.standard_normal(shape), "ones": lambda: np.ones(shape),
                  "counting": lambda: np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)}[kind]()
        cases.append({"desc": desc, "d_cols": d_cols, "input_shape": (h, w), "k": k})
    return cases
