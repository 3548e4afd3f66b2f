"""The exercise checks deserve trust: the reference passes, typical mistakes are caught and named.

For every exercise of ``cnn_lib.checks``, a catalogue of wrong implementations (the mistakes learners
make) must each be rejected with the feedback meant for it: the test asserts on a key phrase of the
printed message. A stub that raises ``NotImplementedError`` gets a friendly line, and no check ever
raises: whatever a learner's function raises or returns (None, a list, a generator, complex or boolean
values, nan, a tuple of the wrong length, a broken network...) becomes one ✗ line saying what was
expected and what came.
"""

from __future__ import annotations

import copy
import re
import inspect

import numpy as np
import pytest

from cnn_lib import checks
from cnn_lib.checks import _cases, _feedback, references

try:
    from check_harness import ODD_GRADIENTS, assert_feedback, assert_gradient, central_differences, exercise_tests, returning, run_check
except ImportError:  # tests/ imported as a package
    from .check_harness import ODD_GRADIENTS, assert_feedback, assert_gradient, central_differences, exercise_tests, returning, run_check

# ----------------------------------------------------------------------------- right answers
# Written the way a learner would (loops, as in the notebooks), not by calling the library.


def softmax_forward(totals):
    exp = np.exp(totals - np.max(totals))
    return exp / np.sum(exp)


def _d_L_d_t(d_L_d_out, totals):
    p = softmax_forward(totals)
    return (np.diag(p) - np.outer(p, p)) @ d_L_d_out


def softmax_backward(d_L_d_out, input, weights, totals):
    d_L_d_t = _d_L_d_t(d_L_d_out, totals)
    return np.outer(input, d_L_d_t), d_L_d_t, weights @ d_L_d_t


def _windows(x):
    h, w, _ = x.shape
    for i in range(h // 2):
        for j in range(w // 2):
            yield i, j, x[2 * i:2 * i + 2, 2 * j:2 * j + 2]


def maxpool_forward(x):
    h, w, c = x.shape
    out = np.zeros((h // 2, w // 2, c))
    for i, j, region in _windows(x):
        out[i, j] = region.max(axis=(0, 1))
    return out


def _maxpool_backward(x, d_L_d_out, pick="first"):
    """Route each window's gradient to one maximum; ``pick`` says which (all correct)."""
    d = np.zeros(x.shape)
    for i, j, region in _windows(x):
        for f in range(x.shape[2]):
            positions = np.argwhere(region[:, :, f] == region[:, :, f].max())
            a, b = positions[0] if pick == "first" else positions[-1]
            d[2 * i + a, 2 * j + b, f] = d_L_d_out[i, j, f]
    return d


def maxpool_backward(x, d_L_d_out):
    return _maxpool_backward(x, d_L_d_out)


def _maxpool_backward_split(x, d_L_d_out, weights_of):
    """Split each window's gradient among its tied maxima: ``weights_of(k)`` gives the k maxima's weights."""
    d = np.zeros(x.shape)
    for i, j, region in _windows(x):
        for f in range(x.shape[2]):
            positions = np.argwhere(region[:, :, f] == region[:, :, f].max())
            for (a, b), weight in zip(positions, weights_of(len(positions))):
                d[2 * i + a, 2 * j + b, f] = weight * d_L_d_out[i, j, f]
    return d


def conv_forward(image, filters):
    h, w = image.shape
    out = np.zeros((h - 2, w - 2, len(filters)))
    for i in range(h - 2):
        for j in range(w - 2):
            out[i, j] = np.sum(image[i:i + 3, j:j + 3] * filters, axis=(1, 2))
    return out


def conv_d_L_d_filters(image, d_L_d_out):
    h, w, num_filters = d_L_d_out.shape
    d = np.zeros((num_filters, 3, 3))
    for i in range(h):
        for j in range(w):
            d += d_L_d_out[i, j][:, None, None] * image[i:i + 3, j:j + 3]
    return d


def conv_d_L_d_input(filters, d_L_d_out):
    h, w, _ = d_L_d_out.shape
    d = np.zeros((h + 2, w + 2))
    for i in range(h):
        for j in range(w):
            d[i:i + 3, j:j + 3] += np.sum(d_L_d_out[i, j][:, None, None] * filters, axis=0)
    return d


def conv_d_L_d_input_full_convolution(filters, d_L_d_out):
    """The gather view: full convolution of the padded d_L_d_out with the rotated filters."""
    h, w, _ = d_L_d_out.shape
    padded = np.pad(d_L_d_out, ((2, 2), (2, 2), (0, 0)))
    rotated = filters[:, ::-1, ::-1]
    d = np.zeros((h + 2, w + 2))
    for m in range(h + 2):
        for n in range(w + 2):
            d[m, n] = np.sum(padded[m:m + 3, n:n + 3].transpose(2, 0, 1) * rotated)
    return d


def train_step(net, image, label, lr):
    out, loss, correct = net.forward(image, label)
    gradient = np.zeros(10)
    gradient[label] = -1 / out[label]
    gradient = net.softmax.backprop(gradient, lr)
    gradient = net.pool.backprop(gradient)
    net.conv.backprop(gradient, lr)
    return loss, correct


RIGHT = {
    "softmax_forward": [softmax_forward, lambda t: np.exp(t - t.max()) / np.exp(t - t.max()).sum()],
    "softmax_backward": [softmax_backward],
    "maxpool_forward": [maxpool_forward,
                        lambda x: x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2, -1).max(axis=(1, 3))],
    "maxpool_backward": [maxpool_backward, lambda x, g: _maxpool_backward(x, g, pick="last"),
                         # any subgradient at a tie (notebook 04, section 3): an equal or an uneven split
                         lambda x, g: _maxpool_backward_split(x, g, lambda k: np.full(k, 1 / k)),
                         lambda x, g: _maxpool_backward_split(x, g, lambda k: np.arange(1.0, k + 1) * 2 / (k * k + k))],
    "conv_forward": [conv_forward],
    "conv_d_L_d_filters": [conv_d_L_d_filters],
    "conv_d_L_d_input": [conv_d_L_d_input, conv_d_L_d_input_full_convolution],
    "train_step": [train_step, lambda net, image, label, lr: net.train(image, label, lr)],
}

# ----------------------------------------------------------------------------- wrong answers
# (exercise, what the learner did, the function, a key phrase the feedback must contain)


def _softmax_backward_with(d_L_d_t_of, w_transposed=False, b_summed=False, order=None):
    def f(d_L_d_out, input, weights, totals):
        d_L_d_t = d_L_d_t_of(d_L_d_out, totals)
        d_w = np.outer(d_L_d_t, input) if w_transposed else np.outer(input, d_L_d_t)
        d_b = np.sum(d_L_d_t) if b_summed else d_L_d_t
        grads = (d_w, d_b, weights @ d_L_d_t)
        return tuple(grads[k] for k in order) if order else grads
    return f


def _naive_d_L_d_t(d_L_d_out, totals):
    exp = np.exp(totals)
    p = exp / exp.sum()
    return (np.diag(p) - np.outer(p, p)) @ d_L_d_out


def _one_over_S_d_L_d_t(d_L_d_out, totals):  # d_out_d_t divided by S instead of S ** 2
    t_exp = np.exp(totals - np.max(totals))
    return _d_L_d_t(d_L_d_out, totals) * t_exp.sum()


def _maxpool_backward_loop(x, d_L_d_out, route):
    d = np.zeros(x.shape)
    for i, j, region in _windows(x):
        d[2 * i:2 * i + 2, 2 * j:2 * j + 2] = route(region, d_L_d_out[i, j])
    return d


def _conv_d_L_d_input_stamping(transform, accumulate=True, filters_used=None):
    def f(filters, d_L_d_out):
        h, w, _ = d_L_d_out.shape
        d = np.zeros((h + 2, w + 2))
        used = transform(filters)
        for i in range(h):
            for j in range(w):
                k = slice(None) if filters_used is None else filters_used
                value = np.sum(d_L_d_out[i, j][k, None, None] * used[k], axis=0)
                if accumulate:
                    d[i:i + 3, j:j + 3] += value
                else:
                    d[i:i + 3, j:j + 3] = value
        return d
    return f


def _train_step_with(sign=-1, initial_sign=-1, lr_scale=None, applied=1, layers=("softmax", "pool", "conv"),
                     scaled=True, log=np.log, loss_after=False):
    def f(net, image, label, lr):
        from cnn_lib import preprocess
        x = preprocess(image) if scaled else image.astype(float)
        out = net.softmax.forward(net.pool.forward(net.conv.forward(x)))
        gradient = np.zeros(10)
        gradient[label] = initial_sign / out[label]
        step = applied * (lr if lr_scale is None else lr_scale)
        gradient = net.softmax.backward(gradient)
        if "softmax" in layers:
            for name, param in net.softmax.params().items():
                param += sign * step * net.softmax.grads()[name]
        gradient = net.pool.backward(gradient)
        net.conv.backward(gradient)
        if "conv" in layers:
            net.conv.params()["filters"] += sign * step * net.conv.grads()["filters"]
        if loss_after:
            out = net.softmax.forward(net.pool.forward(net.conv.forward(x)))
        return float(-log(out[label])), int(np.argmax(out) == label)
    return f


def _returning_correct(correct_of):
    """A right train step whose ``correct`` is ``correct_of(out, label)``, with ``out`` before the step."""
    def f(net, image, label, lr):
        out, loss, _ = net.forward(image, label)
        train_step(net, image, label, lr)
        return loss, correct_of(out, label)
    return f


WRONG = [
    # softmax forward
    ("softmax_forward", "no max shift", lambda t: np.exp(t) / np.exp(t).sum(), "overflow"),
    ("softmax_forward", "shift by the min", lambda t: np.exp(t - t.min()) / np.exp(t - t.min()).sum(), "not the min"),
    ("softmax_forward", "forgot to normalise", lambda t: np.exp(t - t.max()), "do not add up to 1"),
    ("softmax_forward", "e^-t", lambda t: softmax_forward(-t), "softmax of -totals"),
    ("softmax_forward", "10 ** t", lambda t: 10.0 ** (t - t.max()) / (10.0 ** (t - t.max())).sum(), "powers of 10"),
    ("softmax_forward", "log-softmax", lambda t: np.log(softmax_forward(t)), "log-probabilities"),
    ("softmax_forward", "divide by the sum of totals", lambda t: np.exp(t - t.max()) / np.sum(t), "nan or inf"),
    ("softmax_forward", "shifts in place", lambda t: (t.__isub__(t.max()), np.exp(t) / np.exp(t).sum())[1],
     "in place"),
    ("softmax_forward", "forgot return", lambda t: None, "forget a `return`"),
    # softmax backward
    ("softmax_backward", "skipped the softmax Jacobian", _softmax_backward_with(lambda g, t: g), "missing factor"),
    ("softmax_backward", "diagonal of the Jacobian only",
     _softmax_backward_with(lambda g, t: g * softmax_forward(t) * (1 - softmax_forward(t))), "only the diagonal"),
    ("softmax_backward", "off-diagonal sign",
     _softmax_backward_with(lambda g, t: (np.diag(softmax_forward(t)) + np.outer(softmax_forward(t), softmax_forward(t))
                                          - 2 * np.diag(softmax_forward(t) ** 2)) @ g), "wrong sign"),
    ("softmax_backward", "d_L_d_w transposed", _softmax_backward_with(_d_L_d_t, w_transposed=True), "transposed"),
    ("softmax_backward", "d_L_d_b summed over nodes", _softmax_backward_with(_d_L_d_t, b_summed=True),
     "one entry per node"),
    ("softmax_backward", "no max shift", _softmax_backward_with(_naive_d_L_d_t), "subtract max(totals)"),
    ("softmax_backward", "divided by S, not S squared", _softmax_backward_with(_one_over_S_d_L_d_t),
     "times the right answer"),
    ("softmax_backward", "returned the step -gradient", _softmax_backward_with(lambda g, t: -_d_L_d_t(g, t)),
     "wrong sign"),
    ("softmax_backward", "gradients in the wrong order", _softmax_backward_with(_d_L_d_t, order=(1, 0, 2)),
     "wrong order"),
    # max-pool forward
    ("maxpool_forward", "average pooling",
     lambda x: x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2, -1).mean(axis=(1, 3)), "average pooling"),
    ("maxpool_forward", "running max started at 0",
     lambda x: np.maximum(maxpool_forward(x), 0), "never below 0"),
    ("maxpool_forward", "window without its second row (off by one)",
     lambda x: np.maximum(x[::2, ::2], x[::2, 1::2]), "off by one"),
    ("maxpool_forward", "windows at (i, j), not (2i, 2j)",
     lambda x: np.stack([[x[i:i + 2, j:j + 2].max(axis=(0, 1)) for j in range(x.shape[1] // 2)]
                         for i in range(x.shape[0] // 2)]), "instead of (2i, 2j)"),
    ("maxpool_forward", "stride 1 (overlapping windows)",
     lambda x: np.stack([[x[i:i + 2, j:j + 2].max(axis=(0, 1)) for j in range(x.shape[1] - 1)]
                         for i in range(x.shape[0] - 1)]), "stride 2"),
    ("maxpool_forward", "max over the channels too",
     lambda x: np.repeat(maxpool_forward(x).max(axis=2, keepdims=True), x.shape[2], axis=2), "over the channels"),
    ("maxpool_forward", "subsampling", lambda x: x[::2, ::2], "top-left pixel"),
    ("maxpool_forward", "wrong axis in np.amax",
     lambda x: np.stack([[x[2 * i:2 * i + 2, 2 * j:2 * j + 2].max(axis=2) for j in range(x.shape[1] // 2)]
                         for i in range(x.shape[0] // 2)]), "pooled separately"),
    # max-pool backward
    ("maxpool_backward", "every tied maximum gets the gradient",
     lambda x, g: _maxpool_backward_loop(x, g, lambda r, v: np.where(r == r.max(axis=(0, 1)), v, 0)),
     "every tied maximum"),
    ("maxpool_backward", "all four pixels get the gradient",
     lambda x, g: _maxpool_backward_loop(x, g, lambda r, v: np.broadcast_to(v, r.shape)), "every pixel of the window"),
    ("maxpool_backward", "average-pooling gradient",
     lambda x, g: _maxpool_backward_loop(x, g, lambda r, v: np.broadcast_to(v / 4, r.shape)), "average pooling"),
    ("maxpool_backward", "the mask without d_L_d_out",
     lambda x, g: _maxpool_backward(x, np.ones_like(g)), "missing factor"),
    ("maxpool_backward", "routed to the minimum",
     lambda x, g: -_maxpool_backward(-x, g) * -1, "minimum"),
    ("maxpool_backward", "max over all channels of the window",
     lambda x, g: _maxpool_backward_loop(x, g, lambda r, v: np.where(r == r.max(), v, 0)), "over all channels"),
    ("maxpool_backward", "returns d_L_d_out itself", lambda x, g: g, "shape of the input"),
    ("maxpool_backward", "tied windows split in quarters, whatever the number of ties",
     lambda x, g: _maxpool_backward_split(x, g, lambda k: np.full(k, 1 / 4 if k > 1 else 1.0)),
     "whose maximum is tied 2 times, your entries add up to"),
    ("maxpool_backward", "a split with a negative share",
     lambda x, g: _maxpool_backward_split(x, g, lambda k: np.array([2.0, -1.0] + [0.0] * (k - 2)) if k > 1 else [1.0]),
     "but not all have its sign"),
    # conv forward
    ("conv_forward", "rotated filters (textbook convolution)",
     lambda image, filters: conv_forward(image, filters[:, ::-1, ::-1]), "rotated the filters"),
    ("conv_forward", "transposed filters",
     lambda image, filters: conv_forward(image, filters.transpose(0, 2, 1)), "transposed"),
    ("conv_forward", "channels first",
     lambda image, filters: np.moveaxis(conv_forward(image, filters), 2, 0), "channels come first"),
    ("conv_forward", "range(h - 3) (off by one)",
     lambda image, filters: conv_forward(image, filters)[:-1, :-1], "off by one"),
    ("conv_forward", "same padding",
     lambda image, filters: conv_forward(np.pad(image, 1), filters), "Valid padding"),
    ("conv_forward", "filter 0 for every channel",
     lambda image, filters: np.repeat(conv_forward(image, filters[:1]), len(filters), axis=2), "filter 0"),
    ("conv_forward", "matrix product instead of element-wise",
     lambda image, filters: np.array([[[np.sum(image[i:i + 3, j:j + 3] @ f) for f in filters]
                                       for j in range(image.shape[1] - 2)] for i in range(image.shape[0] - 2)]),
     "matrix product"),
    ("conv_forward", "preprocessed the image again",
     lambda image, filters: conv_forward(image / 255 - 0.5, filters), "scaled the image"),
    # conv dL/dfilters
    ("conv_d_L_d_filters", "= instead of += (last position only)",
     lambda image, g: g[-1, -1][:, None, None] * image[-3:, -3:], "only the last position"),
    ("conv_d_L_d_filters", "rotated",
     lambda image, g: conv_d_L_d_filters(image, g)[:, ::-1, ::-1], "rotated"),
    ("conv_d_L_d_filters", "mean over positions instead of sum",
     lambda image, g: conv_d_L_d_filters(image, g) / (g.shape[0] * g.shape[1]), "times the right answer"),
    ("conv_d_L_d_filters", "returned the SGD update",
     lambda image, g: -0.005 * conv_d_L_d_filters(image, g), "not the update"),
    ("conv_d_L_d_filters", "summed over channels",
     lambda image, g: np.repeat(conv_d_L_d_filters(image, g).sum(axis=0, keepdims=True), g.shape[2], axis=0),
     "same gradient"),
    ("conv_d_L_d_filters", "range(h - 3) (off by one)",
     lambda image, g: conv_d_L_d_filters(image[:-1, :-1], g[:-1, :-1]), "off by one"),
    ("conv_d_L_d_filters", "transposed",
     lambda image, g: conv_d_L_d_filters(image, g).transpose(0, 2, 1), "transposed"),
    ("conv_d_L_d_filters", "wrong sign", lambda image, g: -conv_d_L_d_filters(image, g), "wrong sign"),
    # conv dL/dinput
    ("conv_d_L_d_input", "full convolution without rotating the filter",
     _conv_d_L_d_input_stamping(lambda f: f[:, ::-1, ::-1]), "not rotated"),
    ("conv_d_L_d_input", "transposed instead of rotated",
     _conv_d_L_d_input_stamping(lambda f: f.transpose(0, 2, 1)), "transposed"),
    ("conv_d_L_d_input", "flipped one axis",
     _conv_d_L_d_input_stamping(lambda f: f[:, ::-1, :]), "flipped upside down only"),
    ("conv_d_L_d_input", "= instead of +=",
     _conv_d_L_d_input_stamping(lambda f: f, accumulate=False), "overwrite"),
    ("conv_d_L_d_input", "last filter only",
     _conv_d_L_d_input_stamping(lambda f: f, filters_used=slice(-1, None)), "only the last filter"),
    ("conv_d_L_d_input", "valid instead of full (no padding)",
     lambda filters, g: conv_d_L_d_input(filters, g)[1:-1, 1:-1], "shape of the input"),
    ("conv_d_L_d_input", "not summed over filters",
     lambda filters, g: np.stack([conv_d_L_d_input(filters[k:k + 1], g[:, :, k:k + 1])
                                  for k in range(len(filters))], axis=2), "summed over filters"),
    ("conv_d_L_d_input", "wrong sign", lambda filters, g: -conv_d_L_d_input(filters, g), "wrong sign"),
    # one training step
    ("train_step", "gradient ascent (+= lr * gradient)", _train_step_with(sign=+1), "uphill"),
    ("train_step", "initial gradient +1 / out[label]", _train_step_with(initial_sign=+1), "uphill"),
    ("train_step", "learning rate not applied", _train_step_with(lr_scale=1.0), "learning rate was not applied"),
    ("train_step", "update applied twice (backprop, then -= lr * gradient again)", _train_step_with(applied=2),
     "taken twice"),
    ("train_step", "net.train called twice", lambda net, image, label, lr: (net.train(image, label, lr),
                                                                         net.train(image, label, lr))[0],
     "the change of"),
    ("train_step", "conv layer not updated", _train_step_with(layers=("softmax",)), "filters did not change"),
    ("train_step", "no update at all", _train_step_with(layers=()), "no weight changed"),
    ("train_step", "image not preprocessed", _train_step_with(scaled=False), "not scaled"),
    ("train_step", "log10 loss", _train_step_with(log=np.log10), "log10"),
    ("train_step", "loss after the update", _train_step_with(loss_after=True), "after the update"),
    ("train_step", "returns out too", lambda net, image, label, lr: net.forward(image, label), "return (loss, correct)"),
    # correct always 0: only the case whose net predicts its label right (correct == 1) can tell
    ("train_step", "correct compares a probability with the label",
     _returning_correct(lambda out, label: int(np.max(out) == label)),
     "correct is 0, expected 1: the network's most probable digit, np.argmax(out) = 1, is the label 1"),
    ("train_step", "correct compared with `is`",
     _returning_correct(lambda out, label: int(np.argmax(out) is label)), "correct is 0, expected 1"),
    ("train_step", "correct is always 0", _returning_correct(lambda out, label: 0), "correct is 0, expected 1"),
    ("train_step", "correct is always True", _returning_correct(lambda out, label: True),
     "correct is 1, expected 0: the network's most probable digit, np.argmax(out) = 6, is not the label 5"),
]

EXERCISES = list(RIGHT)
SOLUTION_LINES = {line.strip() for function in (softmax_forward, _d_L_d_t, softmax_backward, maxpool_forward,
                                                _maxpool_backward, conv_forward, conv_d_L_d_filters,
                                                conv_d_L_d_input, train_step)
                  for line in inspect.getsource(function).splitlines()[1:]
                  if len(line.strip()) > 12 and not line.strip().startswith(("#", '"""'))}
ARRAY_EXERCISES = ["softmax_forward", "maxpool_forward", "maxpool_backward", "conv_forward",
                   "conv_d_L_d_filters", "conv_d_L_d_input"]

# Right answers pass, mistakes get their feedback, stubs, exceptions, odd arrays: tests/check_harness.py.
globals().update(exercise_tests(RIGHT, WRONG, SOLUTION_LINES, min_mistakes=5, array_exercises=ARRAY_EXERCISES))


# The references are what every answer is compared with, so they are checked against computations that
# share no code with the library: numbers worked out by hand on tiny cases, and central differences of
# the forward passes written above (the learner's way, with loops).

E = np.e
HAND = [
    ("softmax_forward: e^t = 1, 2, 3", lambda: references.reference_softmax_forward(np.log([1.0, 2.0, 3.0])),
     [1 / 6, 2 / 6, 3 / 6]),
    ("softmax_forward: equal totals around 1000", lambda: references.reference_softmax_forward([1000.0, 1000.0]),
     [0.5, 0.5]),
    ("softmax_forward: totals 0 and 1", lambda: references.reference_softmax_forward([0.0, 1.0]),
     [1 / (1 + E), E / (1 + E)]),
    # p = (1/2, 1/2), so d_L_d_t = (diag(p) - p p^T) (1, 0) = (1/4, -1/4); t = input . w + b
    ("softmax_backward: d_L_d_w", lambda: references.reference_softmax_backward(
        [1.0, 0.0], [1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]], [0.0, 0.0])[0], [[0.25, -0.25], [0.5, -0.5]]),
    ("softmax_backward: d_L_d_b", lambda: references.reference_softmax_backward(
        [1.0, 0.0], [1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]], [0.0, 0.0])[1], [0.25, -0.25]),
    ("softmax_backward: d_L_d_input", lambda: references.reference_softmax_backward(
        [1.0, 0.0], [1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]], [0.0, 0.0])[2], [-0.25, -0.25]),
    ("maxpool_forward: 4x4, two channels, negative values", lambda: references.reference_maxpool_forward(
        np.stack([[[1, 4, -1, -2], [3, 2, -3, -4], [0, 0, 5, 6], [0, 9, 7, 8]],
                  [[-5, -6, 1, 1], [-7, -8, 1, 1], [2, 2, 0, 0], [2, 2, 0, -1]]], axis=2).astype(float)),
     np.stack([[[4, -1], [9, 8]], [[-5, 1], [2, 0]]], axis=2)),
    ("maxpool_backward: ties go to the first maximum", lambda: references.reference_maxpool_backward(
        np.array([[1.0, 1.0], [0.0, 1.0]])[:, :, None], np.array([[[7.0]]])), [[[7.0], [0.0]], [[0.0], [0.0]]]),
    ("maxpool_backward: ties='all' is the tutorial's rule", lambda: references.reference_maxpool_backward(
        np.array([[1.0, 1.0], [0.0, 1.0]])[:, :, None], np.array([[[7.0]]]), ties="all"),
     [[[7.0], [7.0]], [[0.0], [7.0]]]),
    ("maxpool_backward: the maximum of each window and channel", lambda: references.reference_maxpool_backward(
        np.array([[1.0, 2.0, 8.0, 5.0], [4.0, 3.0, 6.0, 7.0]])[:, :, None], np.array([[[-1.0], [2.0]]])),
     [[[0.0], [0.0], [2.0], [0.0]], [[-1.0], [0.0], [0.0], [0.0]]]),
    # image 0..11 in a 3x4 grid, filter 1..9: out[0, 0] = 0*1 + 1*2 + 2*3 + 4*4 + 5*5 + 6*6 + 8*7 + 9*8 + 10*9
    ("conv_forward: image 0..11, filter 1..9", lambda: references.reference_conv_forward(
        np.arange(12.0).reshape(3, 4), np.arange(1.0, 10.0).reshape(1, 3, 3)), [[[303.0], [348.0]]]),
    ("conv_forward: two filters, channels last", lambda: references.reference_conv_forward(
        np.ones((3, 3)), np.stack([np.eye(3), -np.ones((3, 3))])), [[[3.0, -9.0]]]),
    # d_L_d_filters = 1 * image[:, 0:3] + 2 * image[:, 1:4]
    ("conv_d_L_d_filters: image 0..11, d_L_d_out (1, 2)", lambda: references.reference_conv_d_L_d_filters(
        np.arange(12.0).reshape(3, 4), np.array([[[1.0], [2.0]]])), [[[2, 5, 8], [14, 17, 20], [26, 29, 32]]]),
    # the filter stamped at column 0 (times 1) and at column 1 (times 2), overlaps added
    ("conv_d_L_d_input: filter 1..9, d_L_d_out (1, 2)", lambda: references.reference_conv_d_L_d_input(
        np.arange(1.0, 10.0).reshape(1, 3, 3), np.array([[[1.0], [2.0]]])),
     [[1, 4, 7, 6], [4, 13, 16, 12], [7, 22, 25, 18]]),
]


@pytest.mark.parametrize("compute, by_hand", [h[1:] for h in HAND], ids=[h[0] for h in HAND])
def test_references_match_hand_computations(compute, by_hand):
    got = compute()
    assert got.shape == np.shape(by_hand) and np.allclose(got, by_hand, rtol=1e-12, atol=1e-12), (got, by_hand)


@pytest.mark.parametrize("seed", [0, 1])
def test_reference_softmax_backward_matches_central_differences(seed):
    r = np.random.default_rng(seed)
    input, weights, biases, g = r.standard_normal(5), r.standard_normal((5, 3)), r.standard_normal(3), r.standard_normal(3)

    def loss():
        return float(np.sum(softmax_forward(input @ weights + biases) * g))
    d_w, d_b, d_input = references.reference_softmax_backward(g, input, weights, input @ weights + biases)
    assert_gradient(d_w, central_differences(loss, weights))
    assert_gradient(d_b, central_differences(loss, biases))
    assert_gradient(d_input, central_differences(loss, input))


@pytest.mark.parametrize("seed", [0, 1])
def test_reference_maxpool_backward_matches_central_differences(seed):
    r = np.random.default_rng(seed)
    x, g = r.standard_normal((4, 6, 2)), r.standard_normal((2, 3, 2))  # no ties: max is differentiable here
    d_x = references.reference_maxpool_backward(x, g)
    assert_gradient(d_x, central_differences(lambda: float(np.sum(maxpool_forward(x) * g)), x))


@pytest.mark.parametrize("seed", [0, 1])
def test_reference_conv_gradients_match_central_differences(seed):
    r = np.random.default_rng(seed)
    image, filters, g = r.standard_normal((5, 6)), r.standard_normal((2, 3, 3)), r.standard_normal((3, 4, 2))

    def loss():
        return float(np.sum(conv_forward(image, filters) * g))
    assert_gradient(references.reference_conv_d_L_d_filters(image, g), central_differences(loss, filters))
    assert_gradient(references.reference_conv_d_L_d_input(filters, g), central_differences(loss, image))


def test_the_train_step_reference_moves_each_weight_by_minus_lr_times_its_gradient():
    """check_train_step compares with TutorialCNN.train: its step must be -lr * dL/dw, with dL/dw from
    central differences of the loss that forward reports (sampled: up to 12 weights per array)."""
    from cnn_lib import TutorialCNN, load_subset
    images, labels, _, _ = load_subset()
    image, label, lr = images[0], int(labels[0]), 0.01
    net = TutorialCNN(np.random.default_rng(0))
    before = {name: value.copy() for name, value in net.params().items()}
    stepped = copy.deepcopy(net)
    stepped.train(image, label, lr)
    r = np.random.default_rng(1)
    for name, param in net.params().items():
        indices = [np.unravel_index(k, param.shape) for k in r.choice(param.size, size=min(12, param.size), replace=False)]
        gradient = central_differences(lambda: net.forward(image, label)[1], param, indices)
        for index in indices:
            step = stepped.params()[name][index] - before[name][index]
            assert np.isclose(step, -lr * gradient[index], rtol=1e-5, atol=1e-10), (name, index, step)


# ----------------------------------------------------------------------------- odd values and exceptions
# Whatever a learner's function returns or raises, a check prints one ✗ line that says what was expected
# and what came, with a hint, and returns False: never a traceback, never the safety net's "could not judge".


def _replace(grads, k, value):
    return tuple(value if i == k else g for i, g in enumerate(grads))


# (what softmax_backward returned instead of (d_L_d_w, d_L_d_b, d_L_d_input), how, phrase)
ODD_GRADIENT_TUPLES = [
    ("None", lambda g: None, "your function returned None"),
    ("a generator of the three", lambda g: (x for x in g), "a generator"),
    ("a dict", lambda g: dict(zip(("w", "b", "input"), g)), "a dict"),
    ("a string", lambda g: str(g), "a string"),
    ("only d_L_d_w", lambda g: g[0], "an array of shape"),
    ("two gradients", lambda g: g[:2], "a tuple of 2 items"),
    ("four values", lambda g: g + (0.0,), "a tuple of 4 items"),
    ("an object array of the three", lambda g: np.array(g, dtype=object), "an array of shape (3,)"),
] + [
    (f"{name} is {odd}", lambda g, k=k, value=value: _replace(g, k, value(g[k])), (f"✗ softmax_backward: {name}", phrase))
    for k, name in enumerate(("d_L_d_w", "d_L_d_b", "d_L_d_input"))
    for odd, value, phrase in ODD_GRADIENTS + [
        ("a string", lambda x: "d", "a string"),
        ("one number", lambda x: 1.5, "a single number"),
    ]
]


@pytest.mark.parametrize("odd, transform, phrase", ODD_GRADIENT_TUPLES, ids=[o[0] for o in ODD_GRADIENT_TUPLES])
def test_odd_softmax_backward_returns_are_feedback(odd, transform, phrase, capsys):
    passed, out = run_check("softmax_backward", returning(RIGHT["softmax_backward"][0], transform), capsys)
    assert_feedback("softmax_backward", passed, out, *([phrase] if isinstance(phrase, str) else phrase))


# (what train_step returned instead of (loss, correct), how, phrase)
ODD_TRAIN_RETURNS = [
    ("None", lambda loss, correct: None, "returned None"),
    ("the loss only", lambda loss, correct: loss, "returned the number"),
    ("a 1-tuple", lambda loss, correct: (loss,), "a tuple of 1 item"),
    ("a 3-tuple", lambda loss, correct: (loss, correct, 0), "a tuple of 3 items"),
    ("a string", lambda loss, correct: f"{loss} {correct}", "a string"),
    ("a dict", lambda loss, correct: {"loss": loss, "correct": correct}, "a dict"),
    ("a generator", lambda loss, correct: (v for v in (loss, correct)), "a generator"),
    ("an array of the two", lambda loss, correct: np.array([loss, correct]), "an array of shape (2,)"),
    ("correct is None", lambda loss, correct: (loss, None), "correct should be 0 or 1, but it is None"),
    ("correct in an array", lambda loss, correct: (loss, np.array([correct])), "an array of shape (1,)"),
    ("correct is two values", lambda loss, correct: (loss, np.array([1, 0])), "an array of shape (2,)"),
    ("correct is a string", lambda loss, correct: (loss, str(correct)), "a string"),
    ("correct is 0.5", lambda loss, correct: (loss, 0.5), "correct is 0.5"),
    ("correct is 2", lambda loss, correct: (loss, 2), "correct is 2"),
    ("correct is complex", lambda loss, correct: (loss, complex(correct)), "complex"),
    ("correct is nan", lambda loss, correct: (loss, float("nan")), "correct is nan"),
    ("the loss in an array", lambda loss, correct: (np.array([loss]), correct), "an array of shape (1,)"),
    ("the loss is None", lambda loss, correct: (None, correct), "the loss should be one number, but it is None"),
    ("the loss is a string", lambda loss, correct: (str(loss), correct), "a string"),
    ("the loss is complex", lambda loss, correct: (complex(loss), correct), "complex"),
    ("the loss is a bool", lambda loss, correct: (True, correct), "True"),
    ("the loss is nan", lambda loss, correct: (float("nan"), correct), "the loss is nan"),
    ("the loss is inf", lambda loss, correct: (float("inf"), correct), "the loss is inf"),
    ("the loss is a list", lambda loss, correct: ([loss], correct), "a list of 1 item"),
]


@pytest.mark.parametrize("odd, transform, phrase", ODD_TRAIN_RETURNS, ids=[o[0] for o in ODD_TRAIN_RETURNS])
def test_odd_train_step_returns_are_feedback(odd, transform, phrase, capsys):
    passed, out = run_check("train_step", returning(RIGHT["train_step"][0], lambda r: transform(*r)), capsys)
    assert_feedback("train_step", passed, out, phrase)


def _breaking(change):
    """A train step that takes the right step, then ``change(net)``s the network."""
    def learner(net, image, label, lr):
        result = train_step(net, image, label, lr)
        change(net)
        return result
    return learner


def _set(layer, name, value_of):
    def change(net):
        setattr(getattr(net, layer), name, value_of(getattr(getattr(net, layer), name)))
    return change


# (what train_step did to the network, how, phrase)
BROKEN_NETWORKS = [
    ("filters set to None", _set("conv", "filters", lambda f: None), "conv.filters after your step"),
    ("weights made a list", _set("softmax", "weights", lambda w: w.tolist()), "a list of"),
    ("biases of another shape", _set("softmax", "biases", lambda b: np.zeros(3)), "shape (3,)"),
    ("filters made complex", _set("conv", "filters", lambda f: f.astype(complex)), "complex numbers"),
    ("weights made nan", _set("softmax", "weights", lambda w: w * np.nan), "softmax.weights after your step holds nan"),
    ("the softmax layer removed", lambda net: setattr(net, "softmax", None), "cannot be read"),
    ("the conv layer replaced by a pool", lambda net: setattr(net, "conv", net.pool), "cannot be read"),
]


@pytest.mark.parametrize("odd, change, phrase", BROKEN_NETWORKS, ids=[b[0] for b in BROKEN_NETWORKS])
def test_a_train_step_that_breaks_the_network_is_feedback(odd, change, phrase, capsys):
    passed, out = run_check("train_step", _breaking(change), capsys)
    assert_feedback("train_step", passed, out, phrase)


@pytest.mark.parametrize("harmless", [
    lambda loss, correct: [loss, correct],
    lambda loss, correct: (np.float64(loss), np.int64(correct)),
    lambda loss, correct: (np.float32(loss), bool(correct)),
    lambda loss, correct: (np.array(loss), np.array(correct)),
    lambda loss, correct: (loss, float(correct)),
], ids=["a list", "NumPy scalars", "float32 and bool", "0-d arrays", "correct as a float"])
def test_harmless_train_step_returns_pass(harmless, capsys):
    passed, out = run_check("train_step", returning(RIGHT["train_step"][0], lambda r: harmless(*r)), capsys)
    assert passed is True, out


@pytest.mark.parametrize("harmless", [lambda a: a.astype(np.float32), lambda a: np.asarray(a, dtype=np.longdouble),
                                      lambda a: np.ma.masked_array(a)],
                         ids=["float32", "longdouble", "masked array"])
def test_harmless_array_types_pass(harmless, capsys):
    passed, out = run_check("softmax_forward", returning(RIGHT["softmax_forward"][0], harmless), capsys)
    assert passed is True, out


# (the exception a learner's function raises, a phrase the ✗ line must contain)
def test_endless_recursion_is_feedback(capsys):
    def recursive(*args):
        return recursive(*args)
    passed, out = run_check("softmax_forward", recursive, capsys)
    assert_feedback("softmax_forward", passed, out, "raised RecursionError")
    assert "line 2 of your function: `return recursive(*args)`" in out, out


def test_a_keyboard_interrupt_still_stops_the_check(capsys):
    """Interrupting the kernel must stop an endless loop in the learner's code, not become feedback."""
    def interrupted(*args):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        checks.check_softmax_forward(interrupted)


def test_the_safety_net_turns_a_failing_check_into_feedback(capsys):
    """Should a check itself fail on an answer nobody foresaw, the learner reads a ✗ line, not a traceback."""
    def judge(learner, case, where):
        raise TypeError("unsupported operand")
    passed = _feedback.run("demo", lambda x: x, [{"desc": "a case"}], judge)
    out = capsys.readouterr().out
    assert not passed and str(passed) + "\n" == out
    assert out.startswith("✗ demo: the check could not judge your answer (case 1 of 1: a case)"), out
    assert "TypeError: unsupported operand" in out and "\n  Hint: " in out and "Traceback" not in out, out


def test_an_error_in_a_helper_names_the_helper_and_the_line_that_called_it(capsys):
    def helper(t):
        return t[99]

    def softmax_with_a_helper(totals):
        shifted = totals - np.max(totals)
        return helper(shifted)
    passed, out = run_check("softmax_forward", softmax_with_a_helper, capsys)
    assert_feedback("softmax_forward", passed, out, "raised IndexError")
    assert ("line 2 of your helper `helper`: `return t[99]` (called in line 3 of your function: "
            "`return helper(shifted)`)") in out, out


CELL = """import numpy as np

def helper(t):
    doubled = t * 2
    return doubled[99]

def softmax_forward(totals):
    \"\"\"A docstring, so that line numbers within the function and the cell differ.\"\"\"
    shifted = totals - np.max(totals)
    return helper(shifted)

def nested(totals):
    def inner(t):
        return t.reshape(7)
    return inner(totals)

def in_a_comprehension(totals):
    values = [totals[k] for k in range(9)]
    return np.array(values)

as_lambda = lambda t: t[None] @ np.ones(5)

def via_lambda(totals):
    return as_lambda(totals)
"""


def run_cell(source, filename):
    """Run ``source`` as a notebook cell does: compiled under one file name whose text linecache can read
    (IPython registers every cell with linecache in the same way)."""
    import linecache
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


@pytest.mark.parametrize("function, phrase", [
    ("softmax_forward", "line 3 of your helper `helper`: `return doubled[99]` (called in line 4 of your "
                        "function: `return helper(shifted)`)"),
    ("nested", "line 2 of your helper `inner`: `return t.reshape(7)` (called in line 4 of your function: "
               "`return inner(totals)`)"),
    ("in_a_comprehension", "line 2 of your function: `values = [totals[k] for k in range(9)]`"),
    ("via_lambda", "line 1 of your helper a lambda: `as_lambda = lambda t: t[None] @ np.ones(5)` (called in "
                   "line 2 of your function: `return as_lambda(totals)`)"),
])
def test_an_error_in_a_helper_defined_in_the_notebook_cell_names_its_line(function, phrase, capsys):
    """Lines are counted from the ``def`` of the function the error is in, wherever it sits in the cell."""
    cell = run_cell(CELL, "/tmp/ipykernel_0/cell-with-helpers.py")
    passed, out = run_check("softmax_forward", cell[function], capsys)
    assert_feedback("softmax_forward", passed, out, "your function raised")
    assert phrase in out, out
    assert "line -" not in out and "line 0 " not in out, out


def test_an_error_in_a_helper_of_another_cell_points_at_the_call(capsys):
    helpers = run_cell("def helper(t):\n    return t[99]\n", "/tmp/ipykernel_0/helpers.py")
    cell = run_cell("def softmax_forward(totals):\n    return helper(totals)\n", "/tmp/ipykernel_0/solution.py")
    cell["helper"] = helpers["helper"]
    passed, out = run_check("softmax_forward", cell["softmax_forward"], capsys)
    assert "line 2 of your function: `return helper(totals)`" in out, out


def test_a_helper_with_the_learners_name_is_not_taken_for_the_learners_function(capsys):
    """Frames are matched by code object: another function called ``softmax_forward`` is a helper."""
    other = run_cell("def softmax_forward(t):\n    x = 1\n    return t[99]\n", "/tmp/ipykernel_0/other.py")
    cell = run_cell("def softmax_forward(totals):\n    return helper(totals)\n", "/tmp/ipykernel_0/mine.py")
    cell["helper"] = other["softmax_forward"]
    passed, out = run_check("softmax_forward", cell["softmax_forward"], capsys)
    assert "line 2 of your function: `return helper(totals)`" in out, out


# ----------------------------------------------------------------------------- the verdict
# A check returns its verdict: true or false, and the printed text, so that an assert can carry it.


def test_a_verdict_is_true_or_false_and_reads_as_the_printed_line(capsys):
    good = checks.check_softmax_forward(softmax_forward)
    bad = checks.check_softmax_forward(lambda t: np.exp(t) / np.exp(t).sum())
    out = capsys.readouterr().out
    assert bool(good) is True and bool(bad) is False
    assert out == f"{good}\n{bad}\n"
    assert str(bad).startswith("✗ softmax_forward: ") and "\n  Hint: " in str(bad)
    assert repr(bad).startswith("<Verdict ✗ softmax_forward: ") and "\n" not in repr(bad)


# ----------------------------------------------------------------------------- precision and dtypes
# An answer is judged at the precision of the dtype it comes in, the same way in every check: float64 to
# a relative 1e-6, float32 to 1e-5 of its scale (and the ✓ line says so), float16 not at all.


def _in_float32(function, accumulate=True):
    """``function`` run on float32 copies of its array arguments; its arrays returned as float32
    (``accumulate``: as a learner whose np.zeros(..., dtype=np.float32) accumulator keeps float32)."""
    def cast(value):
        return value.astype(np.float32) if isinstance(value, np.ndarray) else value

    def learner(*args):
        result = function(*(cast(a) for a in args))
        if isinstance(result, tuple):
            return tuple(cast(r) for r in result)
        return cast(result) if accumulate else result
    return learner


def _conv_forward_float32_loop(image, filters):
    """conv_forward with a float32 accumulator: every product and sum rounded to float32."""
    image, filters = image.astype(np.float32), filters.astype(np.float32)
    h, w = image.shape
    out = np.zeros((h - 2, w - 2, len(filters)), dtype=np.float32)
    for i in range(h - 2):
        for j in range(w - 2):
            for f in range(len(filters)):
                for a in range(3):
                    for b in range(3):
                        out[i, j, f] += image[i + a, j + b] * filters[f, a, b]
    return out


def _train_step_float32_weights(net, image, label, lr):
    """The right step, then the weights stored as float32."""
    result = train_step(net, image, label, lr)
    net.softmax.weights = net.softmax.weights.astype(np.float32)
    net.softmax.biases = net.softmax.biases.astype(np.float32)
    net.conv.filters = net.conv.filters.astype(np.float32)
    return np.float32(result[0]), result[1]


FLOAT32 = {exercise: _in_float32(RIGHT[exercise][0]) for exercise in EXERCISES if exercise != "train_step"}
FLOAT32["train_step"] = _train_step_float32_weights


@pytest.mark.parametrize("exercise", EXERCISES)
def test_float32_answers_pass_at_float32_precision_and_say_so(exercise, capsys):
    passed, out = run_check(exercise, FLOAT32[exercise], capsys)
    assert passed is True, out
    assert out.startswith(f"✓ {exercise} passed (") and "Your results are float32" in out, out
    assert "within float32's precision" in out and out.count("\n") == 1, out


def test_a_float32_accumulator_passes():
    assert checks.check_conv_forward(_conv_forward_float32_loop)


def test_float64_answers_do_not_mention_a_dtype(capsys):
    passed, out = run_check("conv_forward", conv_forward, capsys)
    assert passed is True and "float" not in out, out


def test_float32_rounding_returned_as_float64_is_named_as_rounding(capsys):
    """Computed in float32, returned as float64: judged at float64's 1e-6, so rejected, but the message
    says it is rounding, shows the two values with the digits where they differ, and says what to do."""
    passed, out = run_check("conv_forward", lambda image, filters: _conv_forward_float32_loop(image, filters)
                            .astype(np.float64), capsys)
    assert_feedback("conv_forward", passed, out, "close, but not within the tolerance",
                    "where the check allows 1e-06 for a float64 result")
    assert "rounding" in out and "float32" in out and "Compute in float64" in out, out
    got, reference = re.search(r"you return (\S+), the reference gives (\S+),", out).groups()
    assert got != reference, out


def test_a_float64_answer_off_in_the_7th_digit_shows_the_digits_that_differ(capsys):
    passed, out = run_check("softmax_forward", lambda t: softmax_forward(t) * (1 + 3e-6), capsys)
    assert_feedback("softmax_forward", passed, out, "close, but not within the tolerance", "float64")
    got, reference = re.search(r"you return (\S+), the reference gives (\S+),", out).groups()
    assert got != reference and len(got) >= 8, out


def test_a_float32_answer_beyond_float32_precision_is_rejected_naming_float32(capsys):
    passed, out = run_check("conv_d_L_d_filters",
                            lambda image, g: (conv_d_L_d_filters(image, g) * (1 + 3e-4)).astype(np.float32), capsys)
    assert_feedback("conv_d_L_d_filters", passed, out, "close, but not within the tolerance",
                    "the check allows 1e-05 for a float32 result")
    assert "float32 keeps about 7 significant digits" in out, out


@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e not in ("softmax_backward", "train_step")])
def test_float16_is_rejected_with_a_reason(exercise, capsys):
    passed, out = run_check(exercise, returning(RIGHT[exercise][0], lambda a: a.astype(np.float16)), capsys)
    assert_feedback(exercise, passed, out, "is float16, which keeps only about 3 significant digits")
    assert "Compute in float64" in out


def test_an_integer_accumulator_is_named(capsys):
    def conv_d_L_d_filters_int(image, d_L_d_out):
        return conv_d_L_d_filters(image, d_L_d_out).astype(int)
    passed, out = run_check("conv_d_L_d_filters", conv_d_L_d_filters_int, capsys)
    assert_feedback("conv_d_L_d_filters", passed, out, "holds integers (dtype int64)")


def test_the_train_step_cases_include_a_net_that_predicts_its_label():
    """Else a train_step whose correct is always 0 (or always right for the wrong reason) would pass."""
    results = [case["net"].forward(case["image"], case["label"])[2] for case in _cases.train_cases()]
    assert 1 in results and 0 in results, results
