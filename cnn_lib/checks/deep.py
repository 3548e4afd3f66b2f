"""Notebook 08, the deep network's layers backwards: ``check_relu_backward``, ``check_dense_backward``,
``check_conv_backward``.

Layouts are ``cnn_lib.fast``'s: a batch of ``n`` images first, channels last (notebook 07).

- ``relu_backward(x, d_L_d_out) -> d_L_d_x``, ``x`` the input of ReLU (any shape ``(n, ...)``): ``d_L_d_out``
  where ``x > 0``, 0 where ``x < 0``. At ``x == 0`` ReLU has a kink and any ``t * d_L_d_out`` with
  ``0 <= t <= 1`` is a subgradient, so the check accepts it (``is_relu_subgradient``); the library's
  ``ReLU`` passes 0 there (its mask is ``x > 0``), so ``x >= 0`` and ``x > 0`` are both right.
- ``dense_backward(x, weights, d_L_d_out) -> (d_L_d_weights, d_L_d_biases, d_L_d_x)``, ``weights``
  ``(input_len, nodes)``, ``x`` ``(n, input_len)`` or feature maps ``(n, h, w, c)`` read flattened
  (``Flatten`` then ``Dense``).
- ``conv_backward(x, filters, biases, d_L_d_out) -> (d_L_d_filters, d_L_d_biases, d_L_d_x)``, ``x``
  ``(n, h, w, C)``, ``filters`` ``(F, k, k, C)``, ``biases`` ``(F,)`` (``Conv``).

The layers *sum* their weight gradients over the batch: the ``1/n`` of the mean loss is already in
``d_L_d_out`` (``softmax_cross_entropy``, notebook 08, section 1), so a gradient averaged over the batch
is ``n`` times too small, and the check names that mistake.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._cases import conv_backward_cases, dense_cases, relu_cases
from ._feedback import Tolerance, Wrong, accept_if_valid, as_array, call, compare, container_hint, describe, run, tolerance
from .references import (conv_backward_numeric, dense_numeric, reference_conv_backward, reference_dense_backward,
                         reference_relu_backward, relu_numeric)

MEAN_HINT = ("The layers sum over the batch: d_L_d_out already holds the 1/n of the mean loss (notebook 08, "
             "section 1), so dividing by n again makes every step n times too small.")


def index_text(index) -> str:
    """``"[0, 1]"`` for the index ``(0, 1)``."""
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def three_gradients(got, names: tuple, expected: tuple, where: str, shape_hints: dict) -> list:
    """The learner's three gradients as arrays, in the order of ``names``; else a ``Wrong``."""
    order = f"({', '.join(names)})"
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise Wrong(f"return three gradients {order}, but your function returned {describe(got)} ({where}).",
                    container_hint(got, f"Return a tuple of the three gradients, in the order {order}."))
    got = [as_array(name, g, e, where, shape_hints[name]) for name, g, e in zip(names, got, expected)]
    shapes = [g.shape for g in got]
    if sorted(map(str, shapes)) == sorted(str(e.shape) for e in expected) and shapes != [e.shape for e in expected]:
        raise Wrong(f"the three gradients come in the wrong order: shapes {shapes} ({where}).",
                    f"Return them in the order {order}.")
    return got


def shape_mistakes(name: str, got: np.ndarray, expected: np.ndarray, where: str, mistakes: list) -> None:
    """Raise a ``Wrong`` when ``got`` has a shape that a typical mistake gives: ``(shape, problem, hint)`` triples."""
    if got.shape == expected.shape:
        return
    for shape, problem, hint in mistakes:
        if got.shape == tuple(shape):
            raise Wrong(f"{name}: shape {got.shape}, expected {expected.shape}: {problem} ({where}).", hint)


def judge_gradient(name: str, got: np.ndarray, expected: np.ndarray, where: str, hint: str, shape_hint: str,
                   mistakes: Callable) -> None:
    """``compare`` one gradient; the typical mistakes and the central differences, which take most of a check's
    time, are computed only for a wrong answer: ``mistakes()`` gives ``(shape mistakes, variants, numeric)``."""
    try:
        compare(name, got, expected, where, hint, shape_hint=shape_hint)
        return
    except Wrong:
        pass
    shapes, variants, numeric = mistakes()
    shape_mistakes(name, got, expected, where, shapes)
    compare(name, got, expected, where, hint, variants, shape_hint, numeric)


def summed_over_everything(got: np.ndarray, d_L_d_out: np.ndarray, where: str, too: str, hint: str) -> None:
    """Raise a ``Wrong`` when the bias gradient ``got`` is one number, the sum of all of ``d_L_d_out``."""
    total = np.asarray(d_L_d_out.sum())
    if got.ndim == 0 and tolerance(got.dtype, abs(float(total))).close(np.asarray(got, dtype=np.float64), total):
        raise Wrong(f"d_L_d_biases: a single number, the sum of all of d_L_d_out: summed over {too} too ({where}).",
                    hint)


# ----------------------------------------------------------------------------- ReLU

RELU_HINT = ("d_L_d_x = d_L_d_out where x > 0 and 0 where x < 0: ReLU's derivative is 1 where its input is "
             "positive and 0 where it is negative (notebook 08, section 6).")


def within_kink(d_L_d_out, got, tol: Tolerance) -> np.ndarray:
    """Where ``got`` is ``t * d_L_d_out`` with ``0 <= t <= 1`` (within ``tol``): a subgradient at ReLU's kink."""
    slack = tol.atol + tol.rtol * np.abs(d_L_d_out)
    share = got * np.sign(d_L_d_out)                      # t * |d_L_d_out|
    return (share >= -slack) & (np.abs(got) <= np.abs(d_L_d_out) + slack)


def right_off_kink(x, d_L_d_out, got, tol: Tolerance) -> np.ndarray:
    """Where ``x != 0`` and ``got`` is ``d_L_d_out`` (``x > 0``) or 0 (``x < 0``), within ``tol``."""
    return (x != 0) & np.isclose(got, np.where(x > 0, d_L_d_out, 0.0), rtol=tol.rtol, atol=tol.atol)


def is_relu_subgradient(x, d_L_d_out, got, tol: Tolerance) -> bool:
    """``got`` is ``d_L_d_out`` where ``x > 0``, 0 where ``x < 0`` and between 0 and ``d_L_d_out`` where ``x == 0``.

    At the kink every ``t * d_L_d_out`` with ``0 <= t <= 1`` is a subgradient: the slopes of ReLU at 0 lie
    between its slope on the left (0) and on the right (1). ``x > 0`` gives ``t = 0``, ``x >= 0`` gives ``t = 1``.
    """
    at_kink = x == 0
    return bool(np.all(right_off_kink(x, d_L_d_out, got, tol) | at_kink)
                and np.all(within_kink(d_L_d_out, got, tol) | ~at_kink))


def diagnose_relu_kink(x, d_L_d_out, where: str) -> Callable:
    """A ``diagnose`` for ``compare``: right wherever ``x != 0``, but a value outside [0, 1] * d_L_d_out at the kink."""
    def diagnose(got, tol):
        at_kink = x == 0
        if not np.all(right_off_kink(x, d_L_d_out, got, tol) | at_kink):
            return  # wrong away from the kink too: the generic message shows where
        index = tuple(np.argwhere(at_kink & ~within_kink(d_L_d_out, got, tol))[0])
        raise Wrong(f"d_L_d_x: right wherever x != 0, but at x{index_text(index)} = 0, ReLU's kink, you return "
                    f"{got[index]:.6g}, which is not between 0 and d_L_d_out{index_text(index)} = "
                    f"{d_L_d_out[index]:.6g} ({where}).",
                    "At x = 0 ReLU has a kink: its slope is 0 on the left and 1 on the right, so any t * d_L_d_out "
                    "with 0 <= t <= 1 is a valid gradient there (the library's mask x > 0 gives 0, x >= 0 gives "
                    "d_L_d_out). Nothing outside that range.")
    return diagnose


def relu_variants(x, d_L_d_out) -> list:
    """``(answer, problem, hint)`` of the typical mistakes, for the case ``x``, ``d_L_d_out``."""
    d, relu_x = d_L_d_out, np.maximum(x, 0)
    return [
        (d, "the gradient passes everywhere: it is not blocked where x < 0",
         "Where x < 0, ReLU's output is 0 whatever x is, so no gradient flows back there: multiply d_L_d_out by "
         "the mask x > 0."),
        (np.where(d > 0, d, 0), "the mask comes from the sign of d_L_d_out, not of x: you applied ReLU to the gradient",
         "Where the gradient passes is decided by the forward pass, by where the input x was positive; d_L_d_out's "
         "sign plays no part."),
        (np.where(x < 0, d, 0), "the gradient passes where x < 0 and is blocked where x > 0: the mask is inverted",
         "ReLU is the identity where x > 0 (slope 1) and the constant 0 where x < 0 (slope 0)."),
        (d * x, "you multiplied d_L_d_out by x",
         "The chain rule multiplies by ReLU's derivative, 1 where x > 0 and 0 where x < 0, not by its input."),
        (d * relu_x, "you multiplied d_L_d_out by relu(x), the layer's output",
         "The chain rule multiplies by ReLU's derivative (1 where x > 0, 0 where x < 0), not by its output."),
        (np.where(x > 0, 1.0, 0.0), "you return the mask (1 where x > 0), not the gradient",
         "Chain rule: multiply the mask by d_L_d_out, a missing factor."),
        (d * np.sign(x), "where x < 0 the gradient goes back negated (d_L_d_out * sign(x))",
         "sign(x) is the derivative of |x|. ReLU's derivative is 0 where x < 0: the gradient is 0 there."),
        (np.where((x > 0) & (d > 0), d, 0), "you masked by x > 0, and dropped the negative gradients as well",
         "Only x decides where the gradient passes: a negative d_L_d_out passes too (it says that a larger output "
         "would lower the loss)."),
        (np.where(x > 0, d, 0.01 * d), "where x < 0 you pass 0.01 * d_L_d_out: that is a leaky ReLU's slope",
         "The deep network's ReLU is max(x, 0): its slope where x < 0 is 0, so the gradient there is 0."),
        (relu_x, "you return relu(x), the forward pass's output, not the gradient",
         "Backward returns d_L_d_x: d_L_d_out where x > 0, 0 elsewhere. It depends on d_L_d_out."),
    ]


def check_relu_backward(relu_backward: Callable) -> bool:
    """``relu_backward(x, d_L_d_out) -> d_L_d_x`` (shape of ``x``); at ``x == 0`` any subgradient
    (``is_relu_subgradient``)."""
    def judge(learner, case, where):
        x, d_L_d_out = case["x"], case["d_L_d_out"]
        got = call(learner, where, x, d_L_d_out)
        expected = reference_relu_backward(x, d_L_d_out)
        got_array = as_array("d_L_d_x", got, expected, where)
        tol = tolerance(got_array.dtype, float(np.max(np.abs(d_L_d_out))))
        if accept_if_valid(got_array, expected, tol, lambda g, t: is_relu_subgradient(x, d_L_d_out, g, t)):
            return  # the library's 0 at the kink (x > 0), d_L_d_out there (x >= 0), or anything between
        numeric = relu_numeric(x, d_L_d_out)
        numeric[x == 0] = expected[x == 0]  # at the kink central differences give d_L_d_out / 2, a subgradient too
        compare("d_L_d_x", got_array, expected, where, RELU_HINT, relu_variants(x, d_L_d_out),
                f"d_L_d_x has the shape of x, {x.shape} here: one gradient per input value.", numeric,
                scale=float(np.max(np.abs(d_L_d_out))), diagnose=diagnose_relu_kink(x, d_L_d_out, where))
    return run("relu_backward", relu_backward, relu_cases(), judge)


# ----------------------------------------------------------------------------- dense

DENSE_NAMES = ("d_L_d_weights", "d_L_d_biases", "d_L_d_x")
DENSE_SHAPE_HINTS = {
    "d_L_d_weights": "d_L_d_weights has the shape of the weights, (input_len, nodes): entry (j, k) sums "
                     "x_flat[i, j] * d_L_d_out[i, k] over the images i of the batch.",
    "d_L_d_biases": "d_L_d_biases has one entry per node, shape (nodes,): d_L_d_out summed over the batch.",
    "d_L_d_x": "d_L_d_x has the shape of x: one gradient per input value of every image (feature maps "
               "(n, h, w, c) are flattened forward, so their gradient is reshaped back to x.shape).",
}
DENSE_HINT = ("With x_flat the batch flattened to (n, input_len): d_L_d_weights[j, k] = sum over the images i of "
              "x_flat[i, j] * d_L_d_out[i, k]; d_L_d_biases[k] = sum over i of d_L_d_out[i, k]; d_L_d_x[i, j] = sum "
              "over the nodes k of d_L_d_out[i, k] * weights[j, k], reshaped to x.shape. These are notebook 02's "
              "gradients of one image (section 4), summed over the batch (notebook 08, section 1).")


def dense_weight_mistakes(x, weights, d_L_d_out):
    """``(shape mistakes, variants)`` of ``d_L_d_weights``."""
    n, flat = len(x), x.reshape(len(x), -1)
    expected = flat.T @ d_L_d_out
    shapes = [(weights.T.shape, "transposed",
               "d_L_d_weights[j, k] pairs input j with node k, as weights[j, k] does: a product of shapes "
               "(input_len, n) @ (n, nodes), which sums over the batch.")]
    if x.ndim > 2:
        shapes.append(((x.T @ d_L_d_out).shape, "x was not flattened",
                       "The layer reads each image as one row of input_len values (x.reshape(n, -1), as Flatten "
                       "does): multiply that (n, input_len) array, transposed, by d_L_d_out."))
    variants = []
    if weights.shape[0] == weights.shape[1]:
        variants.append((expected.T, "transposed (d_L_d_out.T @ x_flat, or the outer product the wrong way round)",
                         "d_L_d_weights[j, k] pairs input j with node k, as weights[j, k] does: a product of shapes "
                         "(input_len, n) @ (n, nodes)."))
    if n > 1:
        variants += [
            (expected / n, "divided by the batch size (the mean over the batch)", MEAN_HINT),
            (np.outer(flat[-1], d_L_d_out[-1]), "only the last image of the batch counts",
             "Every image of the batch uses the same weights, so their gradients add up: accumulate with += over "
             "the images (or use one matrix product (input_len, n) @ (n, nodes), which sums over the batch)."),
            (np.outer(flat[0], d_L_d_out[0]), "only the first image of the batch counts",
             "Every image of the batch uses the same weights, so their gradients add up over the batch: a product "
             "(input_len, n) @ (n, nodes) sums over it."),
        ]
    if x.ndim == 4:
        channels_first = x.transpose(0, 3, 1, 2).reshape(n, -1)
        variants.append((channels_first.T @ d_L_d_out, "x was flattened channels first, not in the layer's order",
                         "x is (n, h, w, c), channels last: x.reshape(n, -1) flattens it as Flatten does, so "
                         "that row j of the weights meets the same value forward and backward."))
    return shapes, variants


def dense_bias_mistakes(d_L_d_out):
    """``(shape mistakes, variants)`` of ``d_L_d_biases``."""
    n = len(d_L_d_out)
    summed = ("The bias b_k is added to node k of every image: its gradient is the SUM of d_L_d_out[:, k] over "
              "the batch.")
    shapes = [(d_L_d_out.shape, "one row per image: not summed over the batch", summed)]
    variants = []
    if n > 1:
        variants += [(d_L_d_out.mean(axis=0), "the mean over the batch, not the sum", MEAN_HINT),
                     (d_L_d_out[-1], "only the last image of the batch counts", summed),
                     (d_L_d_out[0], "only the first image of the batch counts", summed)]
    return shapes, variants


def dense_input_mistakes(x, weights, d_L_d_out):
    """``(shape mistakes, variants)`` of ``d_L_d_x``."""
    n, flat = len(x), x.reshape(len(x), -1)
    shapes = [((flat.shape[1], n), "transposed (one column per image)",
               "d_L_d_x has one row per image: a product of shapes (n, nodes) @ (nodes, input_len).")]
    if x.ndim > 2:
        shapes.append((flat.shape, "not reshaped back to the shape of x",
                       "x was flattened forward (x.reshape(n, -1)); backward, reshape the gradient back: "
                       "d_L_d_x.reshape(x.shape), as Flatten's backward does."))
    variants = []
    if weights.shape[0] == weights.shape[1]:
        variants.append(((d_L_d_out @ weights).reshape(x.shape), "multiplied by weights instead of weights.T",
                         "d_L_d_x[i, j] = sum over nodes k of d_L_d_out[i, k] * weights[j, k]: weights.T, so that "
                         "(n, nodes) @ (nodes, input_len) gives one row per image."))
    if x.ndim == 4:
        n, h, w, c = x.shape
        channels_first = (d_L_d_out @ weights.T).reshape(n, c, h, w).transpose(0, 2, 3, 1)
        variants.append((channels_first, "reshaped back channels first, not in the layer's order",
                         "x is (n, h, w, c), channels last: d_L_d_x.reshape(x.shape) undoes x.reshape(n, -1)."))
    return shapes, variants


def check_dense_backward(dense_backward: Callable) -> bool:
    """``dense_backward(x, weights, d_L_d_out) -> (d_L_d_weights, d_L_d_biases, d_L_d_x)``."""
    def judge(learner, case, where):
        x, weights, d_L_d_out = case["x"], case["weights"], case["d_L_d_out"]
        got = call(learner, where, x, weights, d_L_d_out)
        expected = reference_dense_backward(x, weights, d_L_d_out)
        got = three_gradients(got, DENSE_NAMES, expected, where, DENSE_SHAPE_HINTS)
        mistakes = (lambda: dense_weight_mistakes(x, weights, d_L_d_out), lambda: dense_bias_mistakes(d_L_d_out),
                    lambda: dense_input_mistakes(x, weights, d_L_d_out))
        for k, (name, g, e) in enumerate(zip(DENSE_NAMES, got, expected)):
            if name == "d_L_d_biases":
                summed_over_everything(g, d_L_d_out, where, "the nodes", "Sum over the batch only (axis 0): one "
                                       "entry per node.")
            judge_gradient(name, g, e, where, DENSE_HINT, DENSE_SHAPE_HINTS[name],
                           lambda k=k: (*mistakes[k](), dense_numeric(x, weights, d_L_d_out)[k]))
    return run("dense_backward", dense_backward, dense_cases(), judge)


# ----------------------------------------------------------------------------- conv

CONV_NAMES = ("d_L_d_filters", "d_L_d_biases", "d_L_d_x")
CONV_SHAPE_HINTS = {
    "d_L_d_filters": "d_L_d_filters has the shape of the filters, (F, k, k, C): one gradient per weight.",
    "d_L_d_biases": "d_L_d_biases has one entry per filter, shape (F,).",
    "d_L_d_x": "d_L_d_x has the shape of x, (n, h, w, C): pad d_L_d_out by k - 1 (a full convolution), or "
               "scatter into np.zeros(x.shape).",
}
CONV_HINTS = {
    "d_L_d_filters": "d_L_d_filters[f, a, b, c] = sum over the images n and positions (i, j) of d_L_d_out[n, i, j, f] "
                     "* x[n, i + a, j + b, c] (notebook 05, section 6, summed over the batch).",
    "d_L_d_biases": "d_L_d_biases[f] = the sum of d_L_d_out[n, i, j, f] over the images n and positions (i, j): the "
                    "bias is added at every output position of channel f.",
    "d_L_d_x": "d_L_d_x[n, m, p, c] = sum over f and positions (i, j) of d_L_d_out[n, i, j, f] * filters[f, m - i, "
               "p - j, c] (notebook 05, section 6): scatter d_L_d_out[n, i, j, f] * filters[f] onto the window at "
               "(i, j) of image n.",
}
BATCH_SUM_HINT = ("The filters are shared by every image of the batch, so their gradients add up: sum over the "
                  "images n as well as over the positions (i, j).")


def conv_filter_mistakes(x, filters, d_L_d_out, expected):
    """``(shape mistakes, variants)`` of ``d_L_d_filters`` (``expected`` the right one)."""
    n, h, w, C = x.shape
    F, k = filters.shape[:2]
    _, oh, ow, _ = d_L_d_out.shape
    shapes = [((F, k, k), "no input-channel axis: summed over the input channels",
               "Each weight filters[f, a, b, c] reads channel c only: keep the channel, x[n, i + a, j + b, c]."),
              ((C, k, k, F), "the channel axes are swapped",
               "filters are (F, k, k, C): the filter (output channel) first, the input channel last."),
              ((n, F, k, k, C), "one gradient per image: not summed over the batch", BATCH_SUM_HINT)]
    variants = [(expected[:, ::-1, ::-1, :], "your gradient is rotated by 180°",
                 "d_L_d_filters[f, a, b, c] multiplies x[n, i + a, j + b, c]: no flip here (the rotation belongs "
                 "to d_L_d_x, in the gather view).")]
    if k > 1:
        variants.append((expected.transpose(0, 2, 1, 3), "rows and columns of your gradient are swapped",
                         "d_L_d_filters[f, a, b, c] goes with row i + a and column j + b of x."))
    if C > 1:
        variants.append((np.broadcast_to(expected.sum(axis=3, keepdims=True), expected.shape),
                         "every input channel got the same gradient, the sum over the channels",
                         "Each weight filters[f, a, b, c] reads channel c only: multiply by x[n, i + a, j + b, c], "
                         "not by the window summed over its channels."))
    if C == F > 1:
        variants.append((expected.transpose(3, 1, 2, 0), "the channel axes are swapped",
                         "filters are (F, k, k, C): entry (f, a, b, c) pairs d_L_d_out[..., f] with x[..., c]."))
    last_position = d_L_d_out[-1, -1, -1][:, None, None, None] * x[-1, oh - 1:oh - 1 + k, ow - 1:ow - 1 + k][None]
    variants.append((last_position, "only the last position (of the last image) counts",
                     "Each filter is used at every output position of every image: its gradient is the SUM over "
                     "them, so accumulate with +=, do not assign."))
    if n > 1:
        biases = np.zeros(F)
        variants += [
            (expected / n, "divided by the batch size (the mean over the batch)", MEAN_HINT),
            (reference_conv_backward(x[-1:], filters, biases, d_L_d_out[-1:])[0],
             "only the last image of the batch counts", BATCH_SUM_HINT),
            (reference_conv_backward(x[:1], filters, biases, d_L_d_out[:1])[0],
             "only the first image of the batch counts", BATCH_SUM_HINT),
        ]
    return shapes, variants


def conv_bias_mistakes(d_L_d_out):
    """``(shape mistakes, variants)`` of ``d_L_d_biases``."""
    n, oh, ow, F = d_L_d_out.shape
    per_position = ("The bias b_f is added at every output position of channel f in every image: its gradient is the "
                    "sum of d_L_d_out[..., f] over the images and positions (axes 0, 1 and 2).")
    shapes = [((n, F), "one row per image: not summed over the batch", per_position),
              ((oh, ow, F), "not summed over the positions (i, j)", per_position),
              ((n, oh, ow, F), "the shape of d_L_d_out: not summed at all", per_position)]
    summed = d_L_d_out.sum(axis=(0, 1, 2))
    variants = []
    if n * oh * ow > 1:
        variants.append((d_L_d_out.mean(axis=(0, 1, 2)), "the mean over the images and positions, not the sum",
                         per_position))
    if n > 1:
        variants += [(summed / n, "divided by the batch size (the mean over the batch)", MEAN_HINT),
                     (d_L_d_out[-1].sum(axis=(0, 1)), "only the last image of the batch counts", per_position),
                     (d_L_d_out[0].sum(axis=(0, 1)), "only the first image of the batch counts", per_position)]
    return shapes, variants


def scatter_assigned(filters, d_L_d_out, x_shape, per_filter: bool) -> np.ndarray:
    """``d_L_d_x`` scattered with ``=`` instead of ``+=``: each window overwrites the overlap of the windows before
    it, and with ``per_filter`` each filter's contribution also replaces the previous filter's."""
    k = filters.shape[1]
    d_L_d_x = np.zeros(x_shape)
    n, oh, ow, F = d_L_d_out.shape
    for m in range(n):
        for i in range(oh):
            for j in range(ow):
                if per_filter:
                    d_L_d_x[m, i:i + k, j:j + k] = d_L_d_out[m, i, j, F - 1] * filters[F - 1]
                else:
                    d_L_d_x[m, i:i + k, j:j + k] = np.tensordot(d_L_d_out[m, i, j], filters, axes=1)
    return d_L_d_x


def conv_input_mistakes(x, filters, biases, d_L_d_out):
    """``(shape mistakes, variants)`` of ``d_L_d_x``."""
    n, h, w, C = x.shape
    F, k = filters.shape[:2]

    def stamp(used):
        return reference_conv_backward(x, used, biases, d_L_d_out)[2]
    shapes = [((h, w, C), "summed over the batch: one map per image is needed",
               "Each image has its own input gradient: keep the batch axis, d_L_d_x[n] collects only from "
               "d_L_d_out[n]."),
              ((n, h, w), "no input-channel axis: summed over the input channels",
               "Every input channel c gets its own map: d_L_d_out[n, i, j, f] * filters[f, :, :, c] for channel c.")]
    if F != C:
        shapes.append(((n, h, w, F), "one map per filter, not per input channel",
                       "d_L_d_x has the input's channels C: add filters[f, :, :, c] times d_L_d_out[n, i, j, f] "
                       "into channel c, summed over the filters f."))
    variants = [(stamp(filters[:, ::-1, ::-1, :]), "the filters are not rotated the right way",
                 "In the gather view (a full convolution of the zero-padded d_L_d_out) the filters are rotated by "
                 "180°; in the scatter view each d_L_d_out[n, i, j, f] adds filters[f] as it is onto the window at "
                 "(i, j). Mixing the two views rotates the result (notebook 05, section 4).")]
    if k > 1:
        variants.append((stamp(filters.transpose(0, 2, 1, 3)), "the filters are transposed, which is not a rotation",
                         "A 180° rotation flips both spatial axes, filters[:, ::-1, ::-1, :] (or none, in the "
                         "scatter view); a transpose mirrors along the diagonal."))
    if F > 1:
        last_only = np.zeros_like(filters)
        last_only[-1] = filters[-1]
        variants.append((stamp(last_only), "only the last filter contributes: not summed over the filters",
                         "Every filter read every input pixel of its windows, so d_L_d_x sums the contributions of "
                         "all F filters: add (+=) over f, do not assign."))
    if C == F > 1:
        variants.append((stamp(filters.transpose(3, 1, 2, 0)), "the channel axes of the filters are swapped",
                         "filters[f, a, b, c] links output channel f to input channel c: d_L_d_out[..., f] "
                         "goes back through filters[f] into channel c as filters[f, :, :, c]."))
    if C == F > 1:
        per_filter = np.stack([reference_conv_backward(x, filters[f:f + 1], biases[f:f + 1], d_L_d_out[..., f:f + 1])[2]
                               .sum(axis=3) for f in range(F)], axis=3)
        variants.append((per_filter, "one map per filter (summed over the input channels), not per input channel",
                         "Channel c of d_L_d_x collects filters[f, :, :, c] times d_L_d_out[n, i, j, f], summed over "
                         "the filters f: keep the input channel c."))
    for per_filter in (False, True):
        variants.append((scatter_assigned(filters, d_L_d_out, x.shape, per_filter),
                         "overlapping windows overwrite each other" + (" (and each filter the one before)"
                                                                       if per_filter and F > 1 else ""),
                         "Neighbouring windows share pixels, and every filter adds to every pixel of its window: add "
                         "each contribution (+=) instead of assigning it."))
    return shapes, variants


def check_conv_backward(conv_backward: Callable) -> bool:
    """``conv_backward(x, filters, biases, d_L_d_out) -> (d_L_d_filters, d_L_d_biases, d_L_d_x)``."""
    def judge(learner, case, where):
        x, filters, biases, d_L_d_out = case["x"], case["filters"], case["biases"], case["d_L_d_out"]
        got = call(learner, where, x, filters, biases, d_L_d_out)
        expected = reference_conv_backward(x, filters, biases, d_L_d_out)
        got = three_gradients(got, CONV_NAMES, expected, where, CONV_SHAPE_HINTS)
        mistakes = (lambda: conv_filter_mistakes(x, filters, d_L_d_out, expected[0]),
                    lambda: conv_bias_mistakes(d_L_d_out), lambda: conv_input_mistakes(x, filters, biases, d_L_d_out))
        for k, (name, g, e) in enumerate(zip(CONV_NAMES, got, expected)):
            if name == "d_L_d_biases":
                summed_over_everything(g, d_L_d_out, where, "the filters", "Sum over the images and positions only "
                                       "(axes 0, 1 and 2): one entry per filter.")
            judge_gradient(name, g, e, where, CONV_HINTS[name], CONV_SHAPE_HINTS[name],
                           lambda k=k: (*mistakes[k](), conv_backward_numeric(x, filters, biases, d_L_d_out)[k]))
    return run("conv_backward", conv_backward, conv_backward_cases(), judge)
