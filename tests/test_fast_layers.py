"""The fast batched layers: equal to the loop layers, the softmax loss, float32 vs float64, bad input.

Their gradient checks and the layer protocol are checked with every other layer in test_protocol.py
(which also shows that the check catches a wrong fast gradient).
"""

from __future__ import annotations

import numpy as np
import pytest

from cnn_lib import Conv3x3, MaxPool2, Softmax
from cnn_lib.fast import Conv, ConvPool, Dense, Flatten, MaxPool2x2, ReLU, softmax_cross_entropy
from cnn_lib.fast.layers import (batch_last, patch_filters, patch_filters_gradient, pool_window_columns,
                                 pool_window_patches, pool_window_patches_col2im, routes_to_maxima)
from cnn_lib.data import load_subset
from cnn_lib.gradcheck import check_function

EXACT = 1e-10      # fast vs loop layers, float64
TOLERANCE = 1e-7   # gradient check, float64


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- equality with the readable loop layers ------------------------------------------------

def conv_pair(seed=0, num_filters=4):
    loop = Conv3x3(num_filters, rng(seed))
    fast = Conv(1, num_filters, 3, rng(seed), np.float64, bias=False)
    return loop, fast


def test_conv_starts_with_the_tutorials_filters():
    loop, fast = conv_pair()
    assert fast.filters.shape == (4, 3, 3, 1)
    np.testing.assert_array_equal(fast.filters[..., 0], loop.filters)


def test_conv_equals_conv3x3_per_image_and_for_a_batch():
    loop, fast = conv_pair(1)
    X = rng(2).standard_normal((3, 9, 8))
    G = rng(3).standard_normal((3, 7, 6, 4))
    out = fast.forward(X[..., None])
    d_input = fast.backward(G)
    d_filters_sum = np.zeros_like(loop.filters)
    for k in range(3):
        np.testing.assert_allclose(loop.forward(X[k]), out[k], rtol=0, atol=EXACT)
        np.testing.assert_allclose(loop.backward(G[k]), d_input[k, ..., 0], rtol=0, atol=EXACT)
        d_filters_sum += loop.d_L_d_filters
    # the batch's filter gradient is the sum of the per-image gradients
    np.testing.assert_allclose(fast.d_L_d_filters[..., 0], d_filters_sum, rtol=0, atol=EXACT)


def test_conv_with_zero_bias_equals_conv3x3():
    loop = Conv3x3(2, rng(4))
    fast = Conv(1, 2, 3, rng(4), np.float64, bias=True)
    X = rng(5).standard_normal((1, 6, 6, 1))
    np.testing.assert_allclose(fast.forward(X)[0], loop.forward(X[0, ..., 0]), rtol=0, atol=EXACT)
    G = rng(6).standard_normal((1, 4, 4, 2))
    np.testing.assert_allclose(fast.backward(G)[0, ..., 0], loop.backward(G[0]), rtol=0, atol=EXACT)
    np.testing.assert_allclose(fast.d_L_d_biases, G.sum(axis=(0, 1, 2)), rtol=0, atol=EXACT)


def tied_batch() -> np.ndarray:
    """Values on a coarse grid, so that many 2x2 windows hold tied maxima."""
    x = np.round(rng(7).standard_normal((3, 6, 8, 2)))
    x[0, :2, :2, 0] = 1.0  # one window of four equal maxima
    return x


@pytest.mark.parametrize("ties", ["first", "all"])
def test_maxpool_equals_maxpool2_with_ties(ties):
    X = tied_batch()
    G = rng(8).standard_normal((3, 3, 4, 2))
    fast = MaxPool2x2(ties=ties)
    out = fast.forward(X)
    d_input = fast.backward(G)
    for k in range(3):
        loop = MaxPool2(ties=ties)
        np.testing.assert_array_equal(loop.forward(X[k]), out[k])
        np.testing.assert_array_equal(loop.backward(G[k]), d_input[k])


def test_dense_softmax_cross_entropy_equals_softmax_per_image_and_batch_mean():
    loop = Softmax(18, 10, rng(9))
    loop.biases[:] = rng(10).standard_normal(10)
    dense = Dense(18, 10, rng(9), np.float64)
    dense.biases[:] = loop.biases
    np.testing.assert_array_equal(dense.weights, loop.weights)
    X = rng(11).standard_normal((4, 3, 3, 2))
    labels = np.array([3, 0, 9, 3])

    flat = Flatten()
    loss, d_L_d_scores, probabilities = softmax_cross_entropy(dense.forward(flat.forward(X)), labels)
    d_input = flat.backward(dense.backward(d_L_d_scores))

    losses, sum_w, sum_b = [], np.zeros_like(loop.weights), np.zeros_like(loop.biases)
    for k in range(4):
        p = loop.forward(X[k])
        np.testing.assert_allclose(probabilities[k], p, rtol=0, atol=EXACT)
        losses.append(-np.log(p[labels[k]]))
        d_L_d_out = np.zeros(10)
        d_L_d_out[labels[k]] = -1 / p[labels[k]]
        # the readable gradient is for one image's loss -ln p_c; the batch loss is the mean
        np.testing.assert_allclose(loop.backward(d_L_d_out) / 4, d_input[k], rtol=0, atol=EXACT)
        sum_w += loop.d_L_d_weights
        sum_b += loop.d_L_d_biases
    assert loss == pytest.approx(np.mean(losses), abs=EXACT)
    np.testing.assert_allclose(dense.d_L_d_weights, sum_w / 4, rtol=0, atol=EXACT)
    np.testing.assert_allclose(dense.d_L_d_biases, sum_b / 4, rtol=0, atol=EXACT)


# --- the softmax cross-entropy loss ---------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_softmax_cross_entropy_gradient_and_stability(seed):
    scores = rng(seed).standard_normal((5, 10))  # moderate scores: no tiny gradients lost to round-off
    labels = rng(seed + 1).integers(0, 10, 5)
    loss, d_L_d_scores, p = softmax_cross_entropy(scores, labels)
    # the loss is a scalar, so its "upstream gradient" is 1
    assert check_function(lambda s: np.array(softmax_cross_entropy(s, labels)[0]), scores, 1.0,
                          d_L_d_scores) < TOLERANCE
    np.testing.assert_allclose(d_L_d_scores, (p - np.eye(10)[labels]) / 5, atol=1e-15)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(5), labels])))
    huge, _, p_huge = softmax_cross_entropy(np.array([[1000.0, -1000.0, 999.0]]), np.array([2]))
    assert huge == pytest.approx(np.log(1 + np.e), rel=1e-12)
    assert np.all(np.isfinite(p_huge))


def test_softmax_cross_entropy_is_a_function_without_state():
    """Issue 9: the old SoftmaxCrossEntropy layer kept the last batch's probabilities for its
    backward, so an evaluation in between overwrote them. The function returns all it computes."""
    scores, labels = rng(0).standard_normal((3, 10)), np.array([1, 2, 3])
    first = softmax_cross_entropy(scores, labels)
    softmax_cross_entropy(rng(1).standard_normal((7, 10)), rng(2).integers(0, 10, 7))
    again = softmax_cross_entropy(scores, labels)
    assert first[0] == again[0]
    for a, b in zip(first[1:], again[1:]):
        np.testing.assert_array_equal(a, b)


def test_softmax_cross_entropy_keeps_float32():
    scores = rng(0).standard_normal((2, 10)).astype(np.float32)
    loss, d_L_d_scores, p = softmax_cross_entropy(scores, np.array([0, 9]))
    assert d_L_d_scores.dtype == p.dtype == np.float32 and isinstance(loss, float)


# --- float32 -------------------------------------------------------------------------------

def test_float32_layers_match_float64():
    X = rng(12).standard_normal((4, 12, 12, 2))
    layers = {}
    for dtype in (np.float32, np.float64):
        r = rng(13)
        layers[dtype] = [Conv(2, 4, 3, r, dtype, init="he"), ReLU(dtype), MaxPool2x2(dtype=dtype),
                         Flatten(dtype), Dense(100, 10, r, dtype, init="he")]
    outs = {}
    for dtype, stack in layers.items():
        out = X.astype(dtype)
        for layer in stack:
            out = layer.forward(out)
        assert out.dtype == dtype
        gradient = np.ones_like(out)
        for layer in reversed(stack):
            gradient = layer.backward(gradient)
        assert gradient.dtype == dtype
        assert all(g.dtype == dtype for layer in stack for g in layer.grads().values())
        outs[dtype] = (out, gradient, stack[0].d_L_d_filters)
    for a, b in zip(outs[np.float32], outs[np.float64]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


# --- shapes, initialisation and bad input ---------------------------------------------------

def test_shapes_and_he_initialisation():
    conv = Conv(16, 32, 5, rng(0), np.float32, init="he")
    assert conv.filters.shape == (32, 5, 5, 16) and conv.filters.dtype == np.float32
    assert conv.forward(np.zeros((2, 12, 12, 16))).shape == (2, 8, 8, 32)
    assert np.std(conv.filters) == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    dense = Dense(1352, 10, rng(0))
    np.testing.assert_array_equal(dense.weights, rng(0).standard_normal((1352, 10)) / 1352)
    first = Conv(1, 8, 3, rng(0), bias=False, compute_input_grad=False)
    first.forward(np.zeros((1, 5, 5, 1)))
    assert first.backward(np.ones((1, 3, 3, 8))) is None
    assert set(first.params()) == {"filters"}


@pytest.mark.parametrize("ties", ["first", "all"])
def test_routes_to_maxima_on_every_pattern_of_tied_maxima(ties):
    """All 15 ways a window's maximum can sit at one or more of its four positions: with "first"
    exactly the position np.argmax picks, with "all" every position holding the maximum."""
    patterns = np.array([[(code >> s) & 1 for s in range(4)] for code in range(1, 16)], dtype=float)
    positions = list((patterns * 2.0 - 1.0).T)               # 1 where the maximum is, -1 elsewhere
    routes = routes_to_maxima(positions, np.ones(15), ties)
    expected = patterns.T.astype(bool) if ties == "all" else np.eye(4, dtype=bool)[np.argmax(patterns, axis=1)].T
    np.testing.assert_array_equal(routes, expected)


def test_flatten_and_dense_pass_an_image_index_last_layout_through_without_copying():
    """ConvPool's output (n, ph, pw, F) lies (ph, pw, F, n) in memory: Flatten gives a view, Dense reads
    it as it is and returns its input gradient in the same layout, with the numbers of a C-ordered input."""
    X = rng(60).standard_normal((5, 3, 3, 4))
    last = batch_last(X)                                        # same values, image index last in memory
    flat, dense = Flatten(), Dense(36, 7, rng(61))
    flat_last = flat.forward(last)
    assert np.shares_memory(flat_last, last) and flat_last.T.flags.c_contiguous
    G = rng(62).standard_normal((5, 7))
    out_last = dense.forward(flat_last)
    d_last = flat.backward(dense.backward(G))
    d_weights_last = dense.d_L_d_weights
    assert d_last.transpose(1, 2, 3, 0).flags.c_contiguous       # (h, w, c, n) in memory, like the input
    out = dense.forward(Flatten().forward(X))
    d = dense.backward(G).reshape(X.shape)
    assert d.flags.c_contiguous
    for a, b in [(out_last, out), (d_last, d), (d_weights_last, dense.d_L_d_weights)]:
        np.testing.assert_allclose(a, b, rtol=0, atol=EXACT)


# --- ConvPool: Conv -> (ReLU) -> MaxPool2x2 in one layer -------------------------------------

def test_pool_window_columns_are_im2col_rows_grouped_by_window_position():
    X = rng(40).standard_normal((2, 8, 10, 3))
    k = 3
    cols = pool_window_columns(X, k).reshape(2, 2, 2, 3, 4, k * k * 3)   # (p, q, m, i, j, window)
    for p, q, m, i, j in [(0, 0, 0, 0, 0), (1, 0, 1, 2, 3), (0, 1, 0, 1, 2), (1, 1, 1, 2, 0)]:
        y, x = 2 * i + p, 2 * j + q
        np.testing.assert_array_equal(cols[p, q, m, i, j], X[m, y:y + k, x:x + k, :].ravel())


@pytest.mark.parametrize("k", [3, 4, 5])
def test_pool_window_patches_hold_each_pool_windows_patch_and_match_the_columns(k):
    """One (k+1) x (k+1) patch per pool window; patch_filters @ patches is the conv output of
    pool_window_columns' rows (four blocks, one per window position), and the two gradient
    helpers are the transposes of the two maps (<W @ P, G> = <W, G @ P.T> = <P, W.T @ G>)."""
    X = rng(47).standard_normal((2, 8 + k - 1, 10 + k - 1, 1))
    patches = pool_window_patches(X, k)
    assert patches.shape == ((k + 1) ** 2, 2 * 4 * 5)
    by_window = patches.reshape(k + 1, k + 1, 4, 5, 2)                    # (a, b, i, j, m): image index last
    for m, i, j in [(0, 0, 0), (1, 2, 3), (0, 3, 4)]:
        np.testing.assert_array_equal(by_window[:, :, i, j, m], X[m, 2 * i:2 * i + k + 1, 2 * j:2 * j + k + 1, 0])
    np.testing.assert_array_equal(pool_window_patches(batch_last(X), k), patches)   # any memory layout
    filters = rng(48).standard_normal((3, k, k, 1))
    conv = (patch_filters(filters) @ patches).reshape(4, 3, 4, 5, 2)      # (p, q, f), window (i, j, m)
    cols = pool_window_columns(X, k) @ filters.reshape(3, -1).T            # (p, q, window (m, i, j)), f
    np.testing.assert_allclose(conv.transpose(0, 4, 2, 3, 1).reshape(4, -1, 3), cols.reshape(4, -1, 3),
                               rtol=0, atol=EXACT)
    conv = conv.reshape(4, 3, -1)
    G = rng(49).standard_normal(conv.shape).reshape(4 * 3, -1)
    d_filters = patch_filters_gradient(G @ patches.T, k)
    assert np.sum(d_filters * filters) == pytest.approx(np.sum(G * conv.reshape(G.shape)), rel=1e-12)
    d_X = pool_window_patches_col2im(patch_filters(filters).T @ G, X.shape)
    assert np.sum(d_X * X) == pytest.approx(np.sum(G * conv.reshape(G.shape)), rel=1e-12)


@pytest.mark.parametrize("ties", ["first", "all"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_convpool_one_channel_equals_the_general_path(ties, dtype):
    """ConvPool computes one input channel from patches (pool_window_patches), more channels from
    pool_window_columns: on a one-channel input padded with a second channel of zeros (and zero
    filter weights there) the general path gives the same numbers, ties included (a blank image)."""
    X = rng(50).standard_normal((3, 12, 10, 1)).astype(dtype)
    X[1] = 0.25                                               # a blank image: four-way ties everywhere
    X[2, :4] = X[2, 4:8]                                      # some ties between rows
    one = ConvPool(1, 4, 3, rng(51), dtype, bias=True, relu=True, ties=ties)
    two = ConvPool(2, 4, 3, rng(51), dtype, bias=True, relu=True, ties=ties)
    one.biases[...] = two.biases[...] = rng(52).standard_normal(4)
    two.filters[...] = 0
    two.filters[..., :1] = one.filters
    X2 = np.concatenate([X, np.zeros_like(X)], axis=3)
    tolerance = 1e-5 if dtype == np.float32 else EXACT
    out = one.forward(X)
    assert out.dtype == dtype and out.transpose(1, 2, 3, 0).flags.c_contiguous     # (ph, pw, F, n) in memory
    np.testing.assert_allclose(out, two.forward(X2), rtol=0, atol=tolerance)
    G = rng(53).standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(one.backward(G), two.backward(G)[..., :1], rtol=0, atol=tolerance)
    np.testing.assert_allclose(one.d_L_d_filters, two.d_L_d_filters[..., :1], rtol=0, atol=tolerance)
    np.testing.assert_allclose(one.d_L_d_biases, two.d_L_d_biases, rtol=0, atol=tolerance)
    assert one.d_L_d_filters.dtype == one.d_L_d_biases.dtype == dtype


def test_convpool_reuses_its_scratch_arrays_but_never_its_output():
    """The big intermediate arrays are kept from call to call (fresh memory is slow to touch);
    what forward and backward return is new each time, so a kept result never changes."""
    layer = ConvPool(1, 2, 3, rng(54), ties="first")
    X = rng(55).standard_normal((2, 6, 6, 1))
    first = layer.forward(X)
    kept = first.copy()
    arrays = dict(layer.scratch_arrays)
    second = layer.forward(-X)
    assert all(layer.scratch_arrays[name] is array for name, array in arrays.items())
    np.testing.assert_array_equal(first, kept)
    assert not np.shares_memory(first, second)


@pytest.mark.parametrize("ties", ["first", "all"])
@pytest.mark.parametrize("channels, filters, k, size, relu, bias", [
    (1, 8, 3, (28, 28), False, False),    # the tutorial's
    (1, 4, 5, (28, 28), True, True),      # the deep network's first block
    (3, 5, 5, (12, 10), True, True),      # its second block, smaller
    (2, 3, 4, (9, 7), False, True),       # an even kernel on an odd input
])
def test_convpool_equals_conv_relu_maxpool(ties, channels, filters, k, size, relu, bias):
    """Forward, input gradient, filter and bias gradients, within 1e-10 in float64, with ties:
    the first image is flat (every window of its conv output is a four-way tie)."""
    X = rng(41).standard_normal((3, *size, channels))
    X[0] = 0.5
    fused = ConvPool(channels, filters, k, rng(42), bias=bias, relu=relu, ties=ties)
    conv = Conv(channels, filters, k, rng(42), bias=bias)
    if bias:
        fused.biases[...] = conv.biases[...] = rng(43).standard_normal(filters)
    layers = [conv] + [ReLU()] * relu + [MaxPool2x2(ties=ties)]
    out = X
    for layer in layers:
        out = layer.forward(out)
    np.testing.assert_allclose(fused.forward(X), out, rtol=0, atol=EXACT)
    G = rng(44).standard_normal(out.shape)
    d_input = G
    for layer in reversed(layers):
        d_input = layer.backward(d_input)
    np.testing.assert_allclose(fused.backward(G), d_input, rtol=0, atol=EXACT)
    for name, gradient in conv.grads().items():
        np.testing.assert_allclose(fused.grads()[name], gradient, rtol=0, atol=EXACT)


@pytest.mark.parametrize("ties", ["first", "all"])
def test_convpool_equals_the_loop_layers_on_real_digits(ties):
    """The tutorial's Conv3x3 -> MaxPool2, image by image, against one ConvPool call."""
    X = load_subset()[0][:4] / 255 - 0.5
    loop_conv, loop_pool = Conv3x3(8, rng(45)), MaxPool2(ties=ties)
    fused = ConvPool(1, 8, 3, rng(45), bias=False, ties=ties)
    out = fused.forward(X[..., None])
    G = rng(46).standard_normal(out.shape)
    d_input = fused.backward(G)
    d_filters = np.zeros_like(loop_conv.filters)
    for m in range(4):
        np.testing.assert_allclose(out[m], loop_pool.forward(loop_conv.forward(X[m])), rtol=0, atol=EXACT)
        np.testing.assert_allclose(d_input[m, ..., 0], loop_conv.backward(loop_pool.backward(G[m])),
                                   rtol=0, atol=EXACT)
        d_filters += loop_conv.d_L_d_filters
    np.testing.assert_allclose(fused.d_L_d_filters[..., 0], d_filters, rtol=0, atol=EXACT)


@pytest.mark.parametrize("channels", [1, 2])
def test_convpool_backward_may_run_again_on_the_same_forward(channels):
    """backward writes the conv output's gradient over the conv output (one big array fewer in the
    cache) once it knows the routes to the maxima, and keeps the routes: a second backward with another
    gradient gives that gradient's numbers, a third with the first the first's."""
    layer = ConvPool(channels, 3, 3, rng(56), ties="first")
    X = rng(57).standard_normal((2, 6, 6, channels))
    X[0, :4] = 0.5                                                          # tied windows
    G = rng(58).standard_normal(layer.forward(X).shape)
    d_X, d_filters = layer.backward(G), layer.d_L_d_filters.copy()
    fresh = ConvPool(channels, 3, 3, rng(56), ties="first")
    fresh.forward(X)
    np.testing.assert_array_equal(layer.backward(2 * G), fresh.backward(2 * G))
    np.testing.assert_array_equal(layer.d_L_d_filters, fresh.d_L_d_filters)
    np.testing.assert_array_equal(layer.backward(G), d_X)
    np.testing.assert_array_equal(layer.d_L_d_filters, d_filters)


def test_convpool_refuses_an_odd_conv_output():
    with pytest.raises(ValueError, match=r"gives an output of 25x26, but 2x2 pooling needs an even"):
        ConvPool(1, 2, 3).forward(np.zeros((1, 27, 28, 1)))


@pytest.mark.parametrize(
    "layer, value, message",
    [
        (Conv(1, 2), np.zeros((28, 28, 1)), r"4 dimensions .*add the batch axis with X\[np.newaxis\]"),
        (Conv(1, 2), np.zeros((28, 28)), r"4 dimensions .*got shape \(28, 28\)"),
        (Conv(1, 2), np.full((1, 3, 3, 1), np.nan), r"NaN or infinite"),
        (Conv(3, 2), np.zeros((1, 5, 5, 1)), r"3 input channel"),
        (Conv(1, 2, 5), np.zeros((1, 4, 9, 1)), r"at least 5x5"),
        (MaxPool2x2(), np.zeros((1, 5, 4, 2)), r"even height and width"),
        (Dense(10, 3), np.zeros((2, 9)), r"input_len = 10"),
        (Conv(1, 2), np.array([[[["a"]]]]), r"numeric array"),
    ],
)
def test_bad_input_gets_a_clear_error(layer, value, message):
    with pytest.raises(ValueError, match=message):
        layer.forward(value)


def test_backward_before_forward_and_wrong_shapes():
    with pytest.raises(RuntimeError, match="before forward"):
        Conv(1, 2).backward(np.zeros((1, 3, 3, 2)))
    pool = MaxPool2x2()
    pool.forward(np.zeros((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"\(1, 2, 2, 1\), but got \(1, 2, 2, 2\)"):
        pool.backward(np.zeros((1, 2, 2, 2)))
    with pytest.raises(ValueError, match="labels must be"):
        softmax_cross_entropy(np.zeros((2, 10)), np.array([1, 10]))
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            Conv(1, bad)
    with pytest.raises(ValueError, match="dtype"):
        Dense(2, 2, dtype=np.int32)
