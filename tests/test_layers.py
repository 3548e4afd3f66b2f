"""The readable loop layers: shapes, the tutorial's formulas, ties, float64 and bad input.

Their gradient checks and the layer protocol (params/grads, backward changes no weight,
backprop = backward + SGD, config) are checked with every other layer in test_protocol.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnn_lib import Conv3x3, MaxPool2, Softmax


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- shapes and initialisation -------------------------------------------------------------

def test_shapes_through_the_tutorial_network():
    image = rng().uniform(-0.5, 0.5, (28, 28))
    conv, pool, softmax = Conv3x3(8, rng(1)), MaxPool2(), Softmax(13 * 13 * 8, 10, rng(2))
    out = conv.forward(image)
    assert out.shape == (26, 26, 8)
    out = pool.forward(out)
    assert out.shape == (13, 13, 8)
    probabilities = softmax.forward(out)
    assert probabilities.shape == (10,)
    assert probabilities.sum() == pytest.approx(1.0)
    assert np.all(probabilities > 0)


def test_initialisation_follows_the_tutorial():
    conv = Conv3x3(8, rng(0))
    assert conv.filters.shape == (8, 3, 3)
    np.testing.assert_allclose(conv.filters, rng(0).standard_normal((8, 3, 3)) / 9)
    softmax = Softmax(1352, 10, rng(0))
    np.testing.assert_allclose(softmax.weights, rng(0).standard_normal((1352, 10)) / 1352)
    np.testing.assert_array_equal(softmax.biases, np.zeros(10))


def test_conv_forward_is_correlation_with_each_filter():
    image = rng(3).standard_normal((6, 7))
    conv = Conv3x3(2, rng(4))
    out = conv.forward(image)
    for f in range(2):
        for i in range(4):
            for j in range(5):
                assert out[i, j, f] == pytest.approx(np.sum(image[i:i + 3, j:j + 3] * conv.filters[f]))


def test_maxpool_forward_takes_each_window_maximum():
    x = rng(5).standard_normal((4, 6, 3))
    out = MaxPool2().forward(x)
    expected = x.reshape(2, 2, 3, 2, 3).max(axis=(1, 3))
    np.testing.assert_array_equal(out, expected)


# --- the backward formulas -----------------------------------------------------------------

def test_conv_input_gradient_is_full_convolution_with_rotated_filters():
    conv = Conv3x3(3, rng(0))
    x = rng(1).standard_normal((7, 6))
    d_L_d_out = rng(2).standard_normal(conv.forward(x).shape)
    d_L_d_input = conv.backward(d_L_d_out)
    # full convolution: pad d_L_d_out by 2, correlate with each filter rotated by 180 degrees
    padded = np.pad(d_L_d_out, ((2, 2), (2, 2), (0, 0)))
    expected = np.zeros_like(x)
    for f in range(3):
        rotated = np.rot90(conv.filters[f], 2)
        for i in range(7):
            for j in range(6):
                expected[i, j] += np.sum(padded[i:i + 3, j:j + 3, f] * rotated)
    np.testing.assert_allclose(d_L_d_input, expected, rtol=1e-12, atol=1e-12)


def test_softmax_backward_equals_p_minus_y_for_cross_entropy():
    softmax = Softmax(20, 10, rng(0))
    x = rng(1).standard_normal(20)
    p = softmax.forward(x)
    label = 7
    d_L_d_out = np.zeros(10)
    d_L_d_out[label] = -1 / p[label]
    softmax.backward(d_L_d_out)
    y = np.eye(10)[label]
    np.testing.assert_allclose(softmax.d_L_d_biases, p - y, atol=1e-15)
    np.testing.assert_allclose(softmax.d_L_d_weights, np.outer(x, p - y), atol=1e-15)


def test_softmax_is_stable_for_huge_totals():
    softmax = Softmax(2, 3, rng(0))
    softmax.weights[:] = np.eye(2, 3)
    for totals in ([1000.0, -1000.0], [-1000.0, -1001.0]):
        p = softmax.forward(np.array(totals))
        assert np.all(np.isfinite(p))
        assert p.sum() == pytest.approx(1.0)
    p = softmax.forward(np.array([1000.0, 999.0]))
    np.testing.assert_allclose(p[:2] / p[:2].sum(), [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))])


# --- max-pool ties -------------------------------------------------------------------------

def tied_input() -> np.ndarray:
    x = np.full((2, 4, 1), -0.5)  # two windows of four tied background pixels...
    x[1, 3, 0] = 0.25             # ...except the right window has one clear maximum
    return x


def test_maxpool_ties_first_routes_one_position_per_window():
    pool = MaxPool2()
    pool.forward(tied_input())
    d_L_d_input = pool.backward(np.array([[[2.0], [3.0]]]))
    np.testing.assert_array_equal(d_L_d_input[:, :, 0], [[2.0, 0, 0, 0], [0, 0, 0, 3.0]])


def test_maxpool_ties_all_is_the_tutorials_rule():
    pool = MaxPool2(ties="all")
    pool.forward(tied_input())
    d_L_d_input = pool.backward(np.array([[[2.0], [3.0]]]))
    np.testing.assert_array_equal(d_L_d_input[:, :, 0], [[2.0, 2.0, 0, 0], [2.0, 2.0, 0, 3.0]])


def test_maxpool_ties_first_passes_the_gradient_check_of_max_and_all_does_not():
    """Moving a window's four tied inputs up together moves max by h, not by 4h."""
    x = tied_input()
    upstream = np.array([[[2.0], [3.0]]])
    for ties, expect_ok in (("first", True), ("all", False)):
        pool = MaxPool2(ties=ties)
        pool.forward(x)
        d_L_d_input = pool.backward(upstream)
        # directional derivative along "raise the whole tied window": exact for a one-sided nudge up
        direction = np.zeros_like(x)
        direction[:, :2] = 1.0
        h = 1e-6
        numeric = (np.sum(MaxPool2().forward(x + h * direction) * upstream)
                   - np.sum(MaxPool2().forward(x) * upstream)) / h
        analytic = np.sum(d_L_d_input * direction)
        assert (abs(analytic - numeric) < 1e-6) == expect_ok, ties


def test_maxpool_rejects_an_unknown_tie_rule():
    with pytest.raises(ValueError, match="ties must be one of"):
        MaxPool2(ties="random")


# --- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "layer, value, message",
    [
        (Conv3x3(2), np.zeros((28, 28, 1)), r"2 dimensions .*got shape \(28, 28, 1\)"),
        (Conv3x3(2), np.zeros(28), r"2 dimensions"),
        (Conv3x3(2), np.zeros((2, 5)), r"at least 3x3"),
        (Conv3x3(2), np.array([["a", "b", "c"]] * 3), r"numeric array .*dtype <U1"),
        (Conv3x3(2), np.full((4, 4), np.nan), r"NaN or infinite"),
        (Conv3x3(2), np.full((4, 4), np.inf), r"NaN or infinite"),
        (MaxPool2(), np.zeros((5, 4, 2)), r"even height and width .*\(5, 4, 2\)"),
        (MaxPool2(), np.zeros((4, 4)), r"3 dimensions .*\(h, w, num_filters\)"),
        (MaxPool2(), np.zeros((4, 4, 2), dtype=bool), r"numeric array"),
        (Softmax(1352, 10), np.zeros((13, 13, 7)), r"input_len = 1352 elements, but got shape \(13, 13, 7\)"),
        (Softmax(4, 10), np.array([1.0, np.nan, 0.0, 0.0]), r"NaN or infinite"),
        (Softmax(3, 10), np.array([object(), 1, 2]), r"numeric array"),
    ],
)
def test_bad_input_gets_a_clear_error(layer, value, message):
    with pytest.raises(ValueError, match=message):
        layer.forward(value)


def test_backward_before_forward_and_wrong_gradient_shape():
    conv = Conv3x3(2)
    with pytest.raises(RuntimeError, match="before forward"):
        conv.backward(np.zeros((3, 3, 2)))
    conv.forward(np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"shape of the last forward output \(3, 3, 2\), but got \(3, 3, 3\)"):
        conv.backward(np.zeros((3, 3, 3)))
    softmax = Softmax(4, 10)
    softmax.forward(np.zeros(4))
    with pytest.raises(ValueError, match=r"\(10,\), but got \(9,\)"):
        softmax.backward(np.zeros(9))


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8"])
def test_bad_layer_sizes(bad):
    with pytest.raises(ValueError, match="positive integer"):
        Conv3x3(bad)
    with pytest.raises(ValueError, match="positive integer"):
        Softmax(bad, 10)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int64])
def test_loop_layers_compute_in_float64_throughout(dtype):
    """Issue 9: a float32 input gave float32 outputs but float64 input gradients, so backward did
    not return the dtype of forward. The loop layers now compute in float64 throughout: outputs,
    input gradients and parameter gradients, whatever real dtype comes in."""
    def sample(shape, seed):
        return rng(seed).integers(0, 100, shape).astype(dtype)

    for layer, x in ((Conv3x3(2, rng(1)), sample((6, 6), 2)), (MaxPool2(), sample((4, 4, 2), 3)),
                     (Softmax(8, 10, rng(4)), sample((2, 2, 2), 5))):
        out = layer.forward(x)
        d_x = layer.backward(rng(6).standard_normal(out.shape).astype(dtype))
        assert out.dtype == d_x.dtype == np.float64, type(layer).__name__
        assert d_x.shape == x.shape
        assert all(gradient.dtype == np.float64 for gradient in layer.grads().values())
