"""Notebook 08's exercise checks, ``check_relu_backward``, ``check_dense_backward`` and ``check_conv_backward``,
deserve trust too.

As in ``tests/test_checks.py``: right implementations pass (written the ways a learner would: with loops as in
notebook 05, or with matrix products as the fast layers; at ReLU's kink with either convention); each typical
mistake is rejected with the feedback meant for it (the test asserts on a key phrase of the ✗ line, and that no
solution code is shown); a stub says "not implemented yet"; whatever a learner's function returns or raises
becomes one ✗ line. The references, the fast layers' own backward passes, are checked against the loop layers,
hand computations and central differences of forward passes written here.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from cnn_lib.checks import _cases, references

try:
    from check_harness import ODD_GRADIENTS, assert_feedback, assert_gradient, central_differences, exercise_tests, returning, run_check
except ImportError:  # tests/ imported as a package
    from .check_harness import ODD_GRADIENTS, assert_feedback, assert_gradient, central_differences, exercise_tests, returning, run_check

# ----------------------------------------------------------------------------- right answers


# The first of each is notebook 08's reference solution, as it stands there.


def relu_backward(x, d_L_d_out):
    return d_L_d_out * (x > 0)


def dense_backward(x, weights, d_L_d_out):
    n = x.shape[0]
    x_flat = x.reshape(n, -1)
    d_L_d_weights = x_flat.T @ d_L_d_out
    d_L_d_biases = d_L_d_out.sum(axis=0)
    d_L_d_x = (d_L_d_out @ weights.T).reshape(x.shape)
    return d_L_d_weights, d_L_d_biases, d_L_d_x


def dense_backward_by_images(x, weights, d_L_d_out):
    """Notebook 02's gradients of one image, summed over the batch."""
    x_flat = x.reshape(len(x), -1)
    d_L_d_weights, d_L_d_biases = np.zeros(weights.shape), np.zeros(weights.shape[1])
    d_L_d_x = np.zeros(x_flat.shape)
    for i in range(len(x)):
        d_L_d_weights += np.outer(x_flat[i], d_L_d_out[i])
        d_L_d_biases += d_L_d_out[i]
        d_L_d_x[i] = weights @ d_L_d_out[i]
    return d_L_d_weights, d_L_d_biases, d_L_d_x.reshape(x.shape)


def conv_backward(x, filters, biases, d_L_d_out):
    """Notebook 05's scatter loop, with channels and a batch."""
    n, out_h, out_w, num_filters = d_L_d_out.shape
    k = filters.shape[1]
    d_L_d_filters = np.zeros(filters.shape)
    d_L_d_x = np.zeros(x.shape)
    for image in range(n):
        for i in range(out_h):
            for j in range(out_w):
                for f in range(num_filters):
                    d_L_d_filters[f] += d_L_d_out[image, i, j, f] * x[image, i:i + k, j:j + k]
                    d_L_d_x[image, i:i + k, j:j + k] += d_L_d_out[image, i, j, f] * filters[f]
    d_L_d_biases = d_L_d_out.sum(axis=(0, 1, 2))
    return d_L_d_filters, d_L_d_biases, d_L_d_x


def conv_backward_gather(x, filters, biases, d_L_d_out):
    """The gather view: d_L_d_filters as a correlation per offset, d_L_d_x as a full convolution with the filters
    rotated by 180° (notebook 05, section 4)."""
    n, out_h, out_w, num_filters = d_L_d_out.shape
    k = filters.shape[1]
    d_L_d_filters = np.zeros(filters.shape)
    for a in range(k):
        for b in range(k):
            window = x[:, a:a + out_h, b:b + out_w, :]                      # (n, out_h, out_w, C)
            d_L_d_filters[:, a, b, :] = np.einsum("nijf,nijc->fc", d_L_d_out, window)
    padded = np.pad(d_L_d_out, ((0, 0), (k - 1, k - 1), (k - 1, k - 1), (0, 0)))
    rotated = filters[:, ::-1, ::-1, :]
    d_L_d_x = np.zeros(x.shape)
    for m in range(x.shape[1]):
        for p in range(x.shape[2]):
            d_L_d_x[:, m, p, :] = np.einsum("nabf,fabc->nc", padded[:, m:m + k, p:p + k, :], rotated)
    return d_L_d_filters, d_L_d_out.sum(axis=(0, 1, 2)), d_L_d_x


RIGHT = {
    "relu_backward": [relu_backward,
                      lambda x, g: np.where(x >= 0, g, 0.0),                # the other convention at the kink
                      lambda x, g: g * np.heaviside(x, 0.5),                # half the gradient at the kink
                      lambda x, g: g * (np.maximum(x, 0) > 0)],             # the mask from ReLU's output
    "dense_backward": [dense_backward, dense_backward_by_images],
    "conv_backward": [conv_backward, conv_backward_gather],
}
EXERCISES = list(RIGHT)


# ----------------------------------------------------------------------------- wrong answers
# (exercise, what the learner did, the function, a key phrase the feedback must contain)


def _relu_in_place(x, d_L_d_out):
    d_L_d_out[x <= 0] = 0
    return d_L_d_out


def _dense_with(d_weights=None, d_biases=None, d_x=None, order=(0, 1, 2)):
    """``dense_backward`` with any of its three gradients replaced: ``d_*(x, weights, d_L_d_out)``."""
    def f(x, weights, d_L_d_out):
        grads = list(dense_backward(x, weights, d_L_d_out))
        for k, wrong in enumerate((d_weights, d_biases, d_x)):
            if wrong is not None:
                grads[k] = wrong(x, weights, d_L_d_out)
        return tuple(grads[k] for k in order)
    return f


def _channels_first(x):
    return x.transpose(0, 3, 1, 2).reshape(len(x), -1) if x.ndim == 4 else x


def _dense_channels_first(x, weights, d_L_d_out):
    """Flattened NCHW-style, as a PyTorch habit would: consistently, forward and back."""
    d_L_d_x = d_L_d_out @ weights.T
    if x.ndim == 4:
        n, h, w, c = x.shape
        d_L_d_x = d_L_d_x.reshape(n, c, h, w).transpose(0, 2, 3, 1)
    return _channels_first(x).T @ d_L_d_out, d_L_d_out.sum(axis=0), d_L_d_x


def _dense_last_image(x, weights, d_L_d_out):
    """A loop over the images that assigns (=) where it should add (+=)."""
    x_flat = x.reshape(len(x), -1)
    for i in range(len(x)):
        d_L_d_weights = np.outer(x_flat[i], d_L_d_out[i])
    return d_L_d_weights, d_L_d_out.sum(axis=0), (d_L_d_out @ weights.T).reshape(x.shape)


def _conv_with(d_filters=None, d_biases=None, d_x=None):
    """``conv_backward`` with any of its three gradients replaced: ``d_*(x, filters, biases, d_L_d_out)``."""
    def f(x, filters, biases, d_L_d_out):
        grads = list(conv_backward(x, filters, biases, d_L_d_out))
        for k, wrong in enumerate((d_filters, d_biases, d_x)):
            if wrong is not None:
                grads[k] = wrong(x, filters, biases, d_L_d_out)
        return tuple(grads)
    return f


def _conv_loop(x, filters, d_L_d_out, window_of=lambda w: w, filter_of=lambda f: f, add_filters=True,
               add_input=True, fresh_per_image=False):
    """The scatter loop with one thing changed: how a window or a filter is read, ``=`` for ``+=``, or
    ``d_L_d_filters`` started afresh for every image."""
    n, out_h, out_w, num_filters = d_L_d_out.shape
    k = filters.shape[1]
    d_L_d_filters = np.zeros(filters.shape)
    d_L_d_x = np.zeros(x.shape)
    for image in range(n):
        if fresh_per_image:
            d_L_d_filters = np.zeros(filters.shape)
        for i in range(out_h):
            for j in range(out_w):
                for f in range(num_filters):
                    contribution = d_L_d_out[image, i, j, f] * window_of(x[image, i:i + k, j:j + k])
                    if add_filters:
                        d_L_d_filters[f] += contribution
                    else:
                        d_L_d_filters[f] = contribution
                    if add_input:
                        d_L_d_x[image, i:i + k, j:j + k] += d_L_d_out[image, i, j, f] * filter_of(filters[f])
                    else:
                        d_L_d_x[image, i:i + k, j:j + k] = d_L_d_out[image, i, j, f] * filter_of(filters[f])
    return d_L_d_filters, d_L_d_x


def _conv_d_x_last_filter(x, filters, biases, d_L_d_out):
    """A sum over f written as an assignment: each filter's map replaces the one before."""
    k = filters.shape[1]
    d_L_d_x = np.zeros(x.shape)
    for f in range(filters.shape[0]):
        d_f = np.zeros(x.shape)
        for i in range(d_L_d_out.shape[1]):
            for j in range(d_L_d_out.shape[2]):
                d_f[:, i:i + k, j:j + k] += d_L_d_out[:, i, j, f, None, None, None] * filters[f]
        d_L_d_x = d_f
    return d_L_d_x


WRONG = [
    # ReLU backward
    ("relu_backward", "the gradient unmasked", lambda x, g: g, "not blocked where x < 0"),
    ("relu_backward", "masked by the gradient's sign (ReLU of the gradient)", lambda x, g: np.maximum(g, 0),
     "the mask comes from the sign of d_L_d_out, not of x"),
    ("relu_backward", "the mask inverted", lambda x, g: g * (x < 0), "the mask is inverted"),
    ("relu_backward", "multiplied by x", lambda x, g: g * x, "you multiplied d_L_d_out by x"),
    ("relu_backward", "multiplied by relu(x)", lambda x, g: g * np.maximum(x, 0), "relu(x), the layer's output"),
    ("relu_backward", "the mask as floats", lambda x, g: (x > 0).astype(float), "you return the mask"),
    ("relu_backward", "the mask as booleans", lambda x, g: x > 0, "True/False"),
    ("relu_backward", "times sign(x)", lambda x, g: g * np.sign(x), "the gradient goes back negated"),
    ("relu_backward", "both masks", lambda x, g: g * (x > 0) * (g > 0), "dropped the negative gradients"),
    ("relu_backward", "a leaky ReLU", lambda x, g: np.where(x > 0, g, 0.01 * g), "leaky ReLU"),
    ("relu_backward", "returns the forward pass", lambda x, g: np.maximum(x, 0), "the forward pass's output"),
    ("relu_backward", "zeroes d_L_d_out in place", _relu_in_place, "changed its argument number 2 in place"),
    ("relu_backward", "twice the gradient at the kink", lambda x, g: np.where(x == 0, 2 * g, g * (x > 0)),
     "ReLU's kink, you return"),
    ("relu_backward", "the step, -gradient", lambda x, g: -g * (x > 0), "wrong sign"),
    # dense backward
    ("dense_backward", "d_L_d_weights transposed", _dense_with(d_weights=lambda x, w, g: g.T @ x.reshape(len(x), -1)),
     "d_L_d_weights: transposed"),
    ("dense_backward", "d_L_d_weights averaged over the batch",
     _dense_with(d_weights=lambda x, w, g: x.reshape(len(x), -1).T @ g / len(x)), "divided by the batch size"),
    ("dense_backward", "d_L_d_weights of the last image only", _dense_last_image, "only the last image"),
    ("dense_backward", "x not flattened", _dense_with(d_weights=lambda x, w, g: x.T @ g), "x was not flattened"),
    ("dense_backward", "d_L_d_biases not summed over the batch", _dense_with(d_biases=lambda x, w, g: g),
     "not summed over the batch"),
    ("dense_backward", "d_L_d_biases averaged over the batch", _dense_with(d_biases=lambda x, w, g: g.mean(axis=0)),
     "the mean over the batch"),
    ("dense_backward", "d_L_d_biases summed over the nodes too", _dense_with(d_biases=lambda x, w, g: g.sum()),
     "summed over the nodes too"),
    ("dense_backward", "d_L_d_x with weights, not weights.T",
     _dense_with(d_x=lambda x, w, g: (g @ w).reshape(x.shape)), "instead of weights.T"),
    ("dense_backward", "d_L_d_x not reshaped back", _dense_with(d_x=lambda x, w, g: g @ w.T),
     "not reshaped back to the shape of x"),
    ("dense_backward", "d_L_d_x transposed", _dense_with(d_x=lambda x, w, g: w @ g.T), "d_L_d_x: shape"),
    ("dense_backward", "flattened channels first", _dense_channels_first, "flattened channels first"),
    ("dense_backward", "the gradients in the wrong order", _dense_with(order=(2, 1, 0)), "wrong order"),
    ("dense_backward", "returns -gradient", lambda x, w, g: tuple(-d for d in dense_backward(x, w, g)), "wrong sign"),
    # conv backward
    ("conv_backward", "d_L_d_filters summed over the input channels",
     _conv_with(d_filters=lambda x, f, b, g: conv_backward(x, f, b, g)[0].sum(axis=3)),
     "summed over the input channels"),
    ("conv_backward", "d_L_d_filters the same for every input channel",
     _conv_with(d_filters=lambda x, f, b, g: _conv_loop(x, f, g, window_of=lambda w: w.sum(axis=2, keepdims=True)
                                                        .repeat(w.shape[2], axis=2))[0]),
     "every input channel got the same gradient"),
    ("conv_backward", "d_L_d_filters rotated",
     _conv_with(d_filters=lambda x, f, b, g: _conv_loop(x, f, g, window_of=lambda w: w[::-1, ::-1])[0]),
     "rotated by 180°"),
    ("conv_backward", "d_L_d_filters with the channel axes swapped",
     _conv_with(d_filters=lambda x, f, b, g: conv_backward(x, f, b, g)[0].transpose(3, 1, 2, 0)),
     "the channel axes are swapped"),
    ("conv_backward", "d_L_d_filters of the last image only",
     _conv_with(d_filters=lambda x, f, b, g: _conv_loop(x, f, g, fresh_per_image=True)[0]), "only the last image"),
    ("conv_backward", "d_L_d_filters averaged over the batch",
     _conv_with(d_filters=lambda x, f, b, g: conv_backward(x, f, b, g)[0] / len(x)), "divided by the batch size"),
    ("conv_backward", "d_L_d_filters assigned (=), not added",
     _conv_with(d_filters=lambda x, f, b, g: _conv_loop(x, f, g, add_filters=False)[0]), "only the last position"),
    ("conv_backward", "d_L_d_biases not summed over the positions",
     _conv_with(d_biases=lambda x, f, b, g: g.sum(axis=0)), "not summed over the positions"),
    ("conv_backward", "d_L_d_biases not summed over the batch",
     _conv_with(d_biases=lambda x, f, b, g: g.sum(axis=(1, 2))), "not summed over the batch"),
    ("conv_backward", "d_L_d_biases the mean", _conv_with(d_biases=lambda x, f, b, g: g.mean(axis=(0, 1, 2))),
     "the mean over the images and positions"),
    ("conv_backward", "d_L_d_biases summed over the filters too", _conv_with(d_biases=lambda x, f, b, g: g.sum()),
     "summed over the filters too"),
    ("conv_backward", "d_L_d_x with the filters rotated in the scatter view",
     _conv_with(d_x=lambda x, f, b, g: _conv_loop(x, f, g, filter_of=lambda w: w[::-1, ::-1])[1]),
     "not rotated the right way"),
    ("conv_backward", "d_L_d_x with transposed filters",
     _conv_with(d_x=lambda x, f, b, g: _conv_loop(x, f, g, filter_of=lambda w: w.transpose(1, 0, 2))[1]),
     "transposed, which is not a rotation"),
    ("conv_backward", "d_L_d_x not summed over the filters", _conv_with(d_x=_conv_d_x_last_filter),
     "only the last filter contributes"),
    ("conv_backward", "d_L_d_x with the channel axes of the filters swapped",
     _conv_with(d_x=lambda x, f, b, g: conv_backward(x, f.transpose(3, 1, 2, 0), b, g)[2]),
     "the channel axes of the filters are swapped"),
    ("conv_backward", "d_L_d_x assigned (=), not added",
     _conv_with(d_x=lambda x, f, b, g: _conv_loop(x, f, g, add_input=False)[1]), "overwrite"),
    ("conv_backward", "d_L_d_x summed over the batch",
     _conv_with(d_x=lambda x, f, b, g: conv_backward(x, f, b, g)[2].sum(axis=0)), "summed over the batch"),
    ("conv_backward", "d_L_d_x one map per filter",
     _conv_with(d_x=lambda x, f, b, g: np.stack([conv_backward(x, f[k:k + 1], b, g[..., k:k + 1])[2].sum(axis=3)
                                                 for k in range(len(f))], axis=3)),
     "one map per filter"),
    ("conv_backward", "d_L_d_x valid, not full (no padding)",
     _conv_with(d_x=lambda x, f, b, g: conv_backward(x, f, b, g)[2][:, 1:-1, 1:-1]), "pad d_L_d_out by k - 1"),
]



def solution_lines() -> set:
    """The code lines (comments cut off) of the right answers above and of notebook 08's solution cells."""
    sources = [inspect.getsource(function).split(":", 1)[1] for function in (relu_backward, dense_backward,
                                                                            conv_backward)]
    notebook = json.loads((Path(__file__).parent.parent / "notebooks" / "08_full_mnist_and_deeper.ipynb").read_text())
    sources += ["".join(cell["source"]).split("### BEGIN SOLUTION")[1] for cell in notebook["cells"]
                if cell["metadata"].get("nbgrader", {}).get("solution")]
    lines = {line.split("#")[0].strip() for source in sources for line in source.splitlines()}
    return {line for line in lines if len(line) > 12 and not line.startswith('"""')}


SOLUTION_LINES = solution_lines()

# Right answers pass, mistakes get their feedback, stubs, exceptions, odd arrays: tests/check_harness.py.
globals().update(exercise_tests(RIGHT, WRONG, SOLUTION_LINES, min_mistakes=7, array_exercises=["relu_backward"]))


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_first_case_tells_the_mistakes_apart(exercise):
    """Where two typical mistakes give the same answer, the check names the first of them. The first case is
    chosen so that every mistake gives its own answer there (square weights, as many filters as channels, a
    batch of more than one, exact zeros in x next to both signs of d_L_d_out), so a learner's first ✗ line
    names the right one."""
    from cnn_lib.checks import deep
    if exercise == "relu_backward":
        case = _cases.relu_cases()[0]
        groups = [deep.relu_variants(case["x"], case["d_L_d_out"])]
    elif exercise == "dense_backward":
        case = _cases.dense_cases()[0]
        args = case["x"], case["weights"], case["d_L_d_out"]
        groups = [deep.dense_weight_mistakes(*args)[1], deep.dense_bias_mistakes(case["d_L_d_out"])[1],
                  deep.dense_input_mistakes(*args)[1]]
    else:
        case = _cases.conv_backward_cases()[0]
        x, filters, biases, d_L_d_out = case["x"], case["filters"], case["biases"], case["d_L_d_out"]
        expected = references.reference_conv_backward(x, filters, biases, d_L_d_out)
        groups = [deep.conv_filter_mistakes(x, filters, d_L_d_out, expected[0])[1],
                  deep.conv_bias_mistakes(d_L_d_out)[1], deep.conv_input_mistakes(x, filters, biases, d_L_d_out)[1]]
    for variants in groups:
        answers = [np.asarray(answer) for answer, _, _ in variants]
        for one in range(len(answers)):
            for other in range(one + 1, len(answers)):
                same = answers[one].shape == answers[other].shape and np.allclose(answers[one], answers[other])
                assert not same, (variants[one][1], variants[other][1])


def test_the_cases_cover_odd_shapes_batches_and_channels():
    relu = _cases.relu_cases()
    assert any(np.any(case["x"] == 0) for case in relu[:1]) and {c["x"].ndim for c in relu} == {2, 4}
    assert all(np.all(case["d_L_d_out"] != 0) for case in relu)
    dense = _cases.dense_cases()
    assert {case["x"].ndim for case in dense} == {2, 4} and any(len(case["x"]) == 1 for case in dense)
    assert all(len(case["x"]) not in case["weights"].shape for case in dense)    # a wrong sum shows in the shape
    conv = _cases.conv_backward_cases()
    kernel_sizes = {case["filters"].shape[1] for case in conv}
    assert kernel_sizes >= {2, 3, 5} and any(c["x"].shape[1] != c["x"].shape[2] for c in conv)
    assert any(c["filters"].shape[0] != c["filters"].shape[3] for c in conv)
    assert {len(c["x"]) for c in conv} >= {1, 2, 4}


# ----------------------------------------------------------------------------- stubs, odd values, exceptions


@pytest.mark.parametrize("harmless", [lambda a: np.asarray(a, dtype=np.longdouble), lambda a: np.ma.masked_array(a),
                                      lambda a: np.array(list(a))],
                         ids=["longdouble", "masked array", "rebuilt from a list of rows"])
@pytest.mark.parametrize("exercise", EXERCISES)
def test_harmless_array_types_pass(exercise, harmless, capsys):
    def transform(result):
        return tuple(harmless(g) for g in result) if isinstance(result, tuple) else harmless(result)
    passed, out = run_check(exercise, returning(RIGHT[exercise][0], transform), capsys)
    assert passed is True, out


@pytest.mark.parametrize("exercise", ["dense_backward", "conv_backward"])
def test_the_three_gradients_may_come_in_a_list(exercise, capsys):
    passed, out = run_check(exercise, returning(RIGHT[exercise][0], list), capsys)
    assert passed is True, out


def _replace(grads, k, value):
    return tuple(value if i == k else g for i, g in enumerate(grads))


NAMES = {"dense_backward": ("d_L_d_weights", "d_L_d_biases", "d_L_d_x"),
         "conv_backward": ("d_L_d_filters", "d_L_d_biases", "d_L_d_x")}
# (what the learner returned instead of its three gradients, how, phrase)
ODD_TUPLES = [
    ("None", lambda g: None, "your function returned None"),
    ("a generator of the three", lambda g: (x for x in g), "a generator"),
    ("a dict", lambda g: dict(zip("abc", g)), "a dict"),
    ("a string", lambda g: str(g), "a string"),
    ("only the first gradient", lambda g: g[0], "an array of shape"),
    ("two gradients", lambda g: g[:2], "a tuple of 2 items"),
    ("four values", lambda g: g + (0.0,), "a tuple of 4 items"),
] + [
    (f"gradient {k} is {odd}", lambda g, k=k, value=value: _replace(g, k, value(g[k])), (k, phrase))
    for k in range(3)
    for odd, value, phrase in ODD_GRADIENTS + [("float16", lambda x: x.astype(np.float16), "float16")]
]


@pytest.mark.parametrize("exercise", ["dense_backward", "conv_backward"])
@pytest.mark.parametrize("odd, transform, phrase", ODD_TUPLES, ids=[o[0] for o in ODD_TUPLES])
def test_odd_gradient_tuples_are_feedback(exercise, odd, transform, phrase, capsys):
    passed, out = run_check(exercise, returning(RIGHT[exercise][0], transform), capsys)
    if isinstance(phrase, tuple):  # the gradient that is odd is named
        k, phrase = phrase
        assert_feedback(exercise, passed, out, f"✗ {exercise}: {NAMES[exercise][k]}", phrase)
    else:
        assert_feedback(exercise, passed, out, phrase)


def _dense_for_flat_x_only(x, weights, d_L_d_out):
    d_L_d_weights = x.reshape(len(x), -1).T @ d_L_d_out
    d_L_d_x = d_L_d_out @ weights.T
    return d_L_d_weights, d_L_d_out.sum(axis=0), d_L_d_x.reshape(x.shape[0], x.shape[1])


def _conv_backward_for_3x3_only(x, filters, biases, d_L_d_out):
    d_L_d_x = np.zeros(x.shape)
    for i in range(d_L_d_out.shape[1]):
        for j in range(d_L_d_out.shape[2]):
            d_L_d_x[:, i:i + 3, j:j + 3] += np.tensordot(d_L_d_out[:, i, j], filters, axes=1)
    return conv_backward(x, filters, biases, d_L_d_out)[0], d_L_d_out.sum(axis=(0, 1, 2)), d_L_d_x


@pytest.mark.parametrize("exercise, function, phrase", [
    ("dense_backward", _dense_for_flat_x_only,
     "line 4 of your function: `return d_L_d_weights, d_L_d_out.sum(axis=0), d_L_d_x.reshape(x.shape[0], x.shape[1])`"),
    ("conv_backward", _conv_backward_for_3x3_only,
     "line 5 of your function: `d_L_d_x[:, i:i + 3, j:j + 3] += np.tensordot(d_L_d_out[:, i, j], filters, axes=1)`"),
], ids=["dense: written for x of shape (n, input_len) only", "conv: written for k = 3 only"])
def test_an_error_names_the_learners_line(exercise, function, phrase, capsys):
    passed, out = run_check(exercise, function, capsys)
    assert_feedback(exercise, passed, out, "your function raised")
    assert phrase in out, out


# ----------------------------------------------------------------------------- precision and dtypes
# The deep network trains in float32: a learner who computes in float32 passes, judged at float32's precision.


def _in_float32(function):
    """``function`` run on float32 copies of its array arguments; its arrays returned as float32."""
    def cast(value):
        return value.astype(np.float32) if isinstance(value, np.ndarray) else value

    def learner(*args):
        result = function(*(cast(a) for a in args))
        return tuple(cast(r) for r in result) if isinstance(result, tuple) else cast(result)
    return learner


@pytest.mark.parametrize("exercise", EXERCISES)
def test_float32_answers_pass_at_float32_precision_and_say_so(exercise, capsys):
    passed, out = run_check(exercise, _in_float32(RIGHT[exercise][0]), capsys)
    assert passed is True, out
    assert out.startswith(f"✓ {exercise} passed (") and "Your results are float32" in out, out


def test_float32_rounding_returned_as_float64_is_named_as_rounding(capsys):
    def conv_backward_float32_then_float64(*args):
        return tuple(g.astype(np.float64) for g in _in_float32(conv_backward)(*args))
    passed, out = run_check("conv_backward", conv_backward_float32_then_float64, capsys)
    assert_feedback("conv_backward", passed, out, "close, but not within the tolerance", "float64")
    assert "rounding" in out and "float32" in out, out


def test_float16_relu_is_rejected_with_a_reason(capsys):
    passed, out = run_check("relu_backward", returning(RIGHT["relu_backward"][0], lambda a: a.astype(np.float16)), capsys)
    assert_feedback("relu_backward", passed, out, "is float16, which keeps only about 3 significant digits")


# ----------------------------------------------------------------------------- the references
# The fast layers' backward passes against computations that share no code with them: the loop layers,
# numbers worked out by hand, and central differences of forward passes written here with loops.


def test_reference_relu_backward_by_hand():
    """ReLU passes the gradient where x > 0; at the kink x = 0 the library passes 0."""
    got = references.reference_relu_backward(np.array([[-1.0, 0.0, 2.0]]), np.array([[5.0, 6.0, 7.0]]))
    assert np.array_equal(got, [[0.0, 0.0, 7.0]])


def test_reference_dense_backward_by_hand():
    """x (1, 2), weights (2, 3): d_L_d_weights = outer(x, d), d_L_d_biases = d, d_L_d_x = weights @ d."""
    d_w, d_b, d_x = references.reference_dense_backward(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0, 3.0],
                                                                                          [4.0, 5.0, 6.0]]),
                                                        np.array([[1.0, 0.0, -1.0]]))
    assert np.array_equal(d_w, [[1, 0, -1], [2, 0, -2]]) and np.array_equal(d_b, [1, 0, -1])
    assert np.array_equal(d_x, [[-2, -2]])


def test_reference_dense_backward_of_feature_maps_is_flatten_then_dense():
    r = np.random.default_rng(3)
    x, weights, g = r.standard_normal((2, 2, 3, 2)), r.standard_normal((12, 4)), r.standard_normal((2, 4))
    flat = references.reference_dense_backward(x.reshape(2, 12), weights, g)
    maps = references.reference_dense_backward(x, weights, g)
    assert np.array_equal(flat[0], maps[0]) and np.array_equal(flat[1], maps[1])
    assert np.array_equal(flat[2].reshape(x.shape), maps[2])


@pytest.mark.parametrize("seed", [0, 1])
def test_reference_conv_backward_is_the_loop_layers_for_one_channel(seed):
    """With one image, one input channel and 3x3 filters, ``Conv`` is the tutorial's ``Conv3x3`` (notebook 05),
    and its bias gradient the sum of d_L_d_out over the positions."""
    r = np.random.default_rng(seed)
    image, filters, g = r.standard_normal((6, 7)), r.standard_normal((3, 3, 3)), r.standard_normal((4, 5, 3))
    d_f, d_b, d_x = references.reference_conv_backward(image[None, :, :, None], filters[..., None], np.zeros(3),
                                                       g[None])
    assert np.allclose(d_f[..., 0], references.reference_conv_d_L_d_filters(image, g), rtol=1e-12, atol=1e-12)
    assert np.allclose(d_x[0, :, :, 0], references.reference_conv_d_L_d_input(filters, g), rtol=1e-12, atol=1e-12)
    assert np.allclose(d_b, g.sum(axis=(0, 1)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_reference_relu_and_dense_match_central_differences(seed):
    r = np.random.default_rng(seed)
    x, g = r.standard_normal((3, 5)), r.standard_normal((3, 5))              # no x within h of the kink
    assert np.min(np.abs(x)) > 1e-3
    assert_gradient(references.reference_relu_backward(x, g),
                    central_differences(lambda: float(np.sum(np.maximum(x, 0) * g)), x))
    x, weights, biases = r.standard_normal((3, 2, 2, 2)), r.standard_normal((8, 4)), r.standard_normal(4)
    g = r.standard_normal((3, 4))

    def loss():
        return float(np.sum((x.reshape(3, -1) @ weights + biases) * g))
    d_w, d_b, d_x = references.reference_dense_backward(x, weights, g)
    assert_gradient(d_w, central_differences(loss, weights))
    assert_gradient(d_b, central_differences(loss, biases))
    assert_gradient(d_x, central_differences(loss, x))


def conv_forward(x, filters, biases):
    """The multi-channel convolution with biases of notebook 05, section 6, for a batch, with loops."""
    n, h, w, _ = x.shape
    num_filters, k = filters.shape[:2]
    out = np.zeros((n, h - k + 1, w - k + 1, num_filters))
    for image in range(n):
        for i in range(h - k + 1):
            for j in range(w - k + 1):
                for f in range(num_filters):
                    out[image, i, j, f] = np.sum(x[image, i:i + k, j:j + k] * filters[f]) + biases[f]
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_reference_conv_backward_matches_central_differences(seed):
    r = np.random.default_rng(seed)
    x, filters, biases = r.standard_normal((2, 5, 4, 3)), r.standard_normal((2, 2, 2, 3)), r.standard_normal(2)
    g = r.standard_normal((2, 4, 3, 2))

    def loss():
        return float(np.sum(conv_forward(x, filters, biases) * g))
    d_f, d_b, d_x = references.reference_conv_backward(x, filters, biases, g)
    assert_gradient(d_f, central_differences(loss, filters))
    assert_gradient(d_b, central_differences(loss, biases))
    assert_gradient(d_x, central_differences(loss, x))


def test_the_numeric_gradients_the_feedback_quotes_agree_with_the_references():
    case = _cases.conv_backward_cases()[3]
    args = case["x"], case["filters"], case["biases"], case["d_L_d_out"]
    for analytic, numeric in zip(references.reference_conv_backward(*args), references.conv_backward_numeric(*args)):
        assert_gradient(analytic, numeric)
    case = _cases.dense_cases()[2]
    args = case["x"], case["weights"], case["d_L_d_out"]
    for analytic, numeric in zip(references.reference_dense_backward(*args), references.dense_numeric(*args)):
        assert_gradient(analytic, numeric)
