"""The answers the checks compare with, computed by the library's own layers.

Each ``reference_<exercise>`` wraps ``Conv3x3``, ``MaxPool2`` or ``Softmax`` in the signature of its
exercise; notebook 07's ``im2col`` and ``col2im`` come from the fast ``Conv`` layer, notebook 08's from the fast
``ReLU``, ``Flatten`` + ``Dense`` and ``Conv``. The ``*_numeric`` functions give central differences
(``cnn_lib.gradcheck``), which the feedback quotes next to a wrong gradient. ``tests/test_checks.py`` (notebook
07's: ``tests/test_checks_fast.py``, 08's: ``tests/test_checks_deep.py``) checks the references against hand
computations, central differences and the loop layer ``Conv3x3``.
"""

from __future__ import annotations

import numpy as np

from ..conv import Conv3x3
from ..fast.layers import Conv, Dense, Flatten, ReLU
from ..gradcheck import numerical_gradient
from ..maxpool import MaxPool2
from ..softmax import Softmax
from ._feedback import case_rng


def with_params(layer, **values):
    """``layer`` with its learned arrays (``params()``) overwritten in place by ``values``."""
    params = layer.params()
    for name, value in values.items():
        params[name][...] = value
    return layer


def reference_softmax_forward(totals: np.ndarray) -> np.ndarray:
    """``Softmax.forward`` of a layer with identity weights and zero biases, so its totals are ``totals``."""
    totals = np.asarray(totals, dtype=np.float64)
    layer = with_params(Softmax(totals.size, totals.size, case_rng(0)), weights=np.eye(totals.size), biases=0.0)
    return layer.forward(totals)


def reference_softmax_backward(d_L_d_out, input, weights, totals):
    """``Softmax.backward`` on a layer whose weights are ``weights`` and whose totals are ``totals``."""
    layer = softmax_layer(input, weights, totals)
    d_L_d_input = layer.backward(np.asarray(d_L_d_out, dtype=np.float64))
    grads = layer.grads()
    return grads["weights"], grads["biases"], d_L_d_input


def softmax_layer(input, weights, totals) -> Softmax:
    input, weights = np.asarray(input, dtype=np.float64), np.array(weights, dtype=np.float64)
    layer = with_params(Softmax(*weights.shape, case_rng(0)), weights=weights,
                        biases=np.asarray(totals, dtype=np.float64) - input @ weights)
    layer.forward(input)
    return layer


def softmax_numeric(d_L_d_out, input, weights, totals):
    layer = softmax_layer(input, weights, totals)
    x = layer.last_input.copy()

    def loss(_):
        return float(np.sum(layer.forward(x) * d_L_d_out))
    params = layer.params()
    return numerical_gradient(loss, params["weights"]), numerical_gradient(loss, params["biases"]), \
        numerical_gradient(loss, x)


def reference_maxpool_forward(x):
    return MaxPool2().forward(np.asarray(x, dtype=np.float64))


def reference_maxpool_backward(x, d_L_d_out, ties="first"):
    pool = MaxPool2(ties=ties)
    pool.forward(np.asarray(x, dtype=np.float64))
    return pool.backward(np.asarray(d_L_d_out, dtype=np.float64))


def maxpool_numeric(x, d_L_d_out):
    """Central-difference dL/dx for ``L = sum(MaxPool2().forward(x) * d_L_d_out)``."""
    pool = MaxPool2()
    x = np.array(x, dtype=np.float64)
    return numerical_gradient(lambda _: float(np.sum(pool.forward(x) * d_L_d_out)), x)


def windows(x):
    """``(h/2, w/2, 4, c)``: the four pixels of every 2x2 window in reading order."""
    h, w, c = x.shape
    return x.reshape(h // 2, 2, w // 2, 2, c).transpose(0, 2, 1, 3, 4).reshape(h // 2, w // 2, 4, c)


def from_windows(v, shape):
    h, w, c = shape
    return v.reshape(h // 2, w // 2, 2, 2, c).transpose(0, 2, 1, 3, 4).reshape(h, w, c)


def conv_layer(filters) -> Conv3x3:
    filters = np.asarray(filters, dtype=np.float64)
    return with_params(Conv3x3(filters.shape[0], case_rng(0)), filters=filters)


def reference_conv_forward(image, filters):
    return conv_layer(filters).forward(np.asarray(image, dtype=np.float64))


def conv_backward(image, filters, d_L_d_out):
    """``(d_L_d_filters, d_L_d_input)`` from ``Conv3x3.backward``."""
    layer = conv_layer(filters)
    layer.forward(np.asarray(image, dtype=np.float64))
    d_L_d_input = layer.backward(np.asarray(d_L_d_out, dtype=np.float64))
    return layer.grads()["filters"], d_L_d_input


def reference_conv_d_L_d_filters(image, d_L_d_out):
    """``Conv3x3.backward``'s filter gradient (it does not depend on the filters' values)."""
    return conv_backward(image, np.zeros((np.shape(d_L_d_out)[2], 3, 3)), d_L_d_out)[0]


def reference_conv_d_L_d_input(filters, d_L_d_out):
    """``Conv3x3.backward``'s input gradient (it does not depend on the input's values)."""
    h, w, _ = np.shape(d_L_d_out)
    return conv_backward(np.zeros((h + 2, w + 2)), filters, d_L_d_out)[1]


def conv_numeric(image, filters, d_L_d_out):
    layer = conv_layer(filters)
    x = np.array(image, dtype=np.float64)

    def loss(_):
        return float(np.sum(layer.forward(x) * d_L_d_out))
    return numerical_gradient(loss, layer.params()["filters"]), numerical_gradient(loss, x)


# ----------------------------------------------------------------------------- notebook 08: ReLU, dense, conv
# The deep network's layers, ``cnn_lib.fast``'s ``ReLU``, ``Flatten`` + ``Dense`` and ``Conv`` (with biases, any
# channels and filter size), for a batch. Each ``reference_*`` runs the layer's forward pass on the case, then its
# backward pass on ``d_L_d_out``; the ``*_numeric`` functions are central differences of ``L = sum(out * d_L_d_out)``.


def fast_layer(layer, **values):
    """``layer`` (a fast layer, float64) with its learned arrays set to ``values``."""
    return with_params(layer, **{name: np.asarray(value, dtype=np.float64) for name, value in values.items()})


def reference_relu_backward(x, d_L_d_out):
    """``ReLU.backward``: ``d_L_d_out`` where ``x > 0``, else 0 (0 at the kink ``x == 0`` too)."""
    layer = ReLU()
    layer.forward(np.asarray(x, dtype=np.float64))
    return layer.backward(np.asarray(d_L_d_out, dtype=np.float64))


def relu_numeric(x, d_L_d_out):
    """Central-difference ``dL/dx`` of ``L = sum(relu(x) * d_L_d_out)`` (meaningful where no ``x`` is within h of 0)."""
    layer, x = ReLU(), np.array(x, dtype=np.float64)
    return numerical_gradient(lambda _: float(np.sum(layer.forward(x) * d_L_d_out)), x)


def dense_layers(x, weights):
    """``Flatten`` and ``Dense`` with ``weights`` ``(input_len, nodes)`` and random biases, as in the deep network."""
    weights = np.asarray(weights, dtype=np.float64)
    dense = fast_layer(Dense(*weights.shape, case_rng(0)), weights=weights,
                       biases=case_rng(1).standard_normal(weights.shape[1]))
    return Flatten(), dense


def reference_dense_backward(x, weights, d_L_d_out):
    """``(d_L_d_weights, d_L_d_biases, d_L_d_x)`` from ``Flatten`` + ``Dense``: ``x`` ``(n, ...)`` is read as
    ``(n, input_len)``."""
    flatten, dense = dense_layers(x, weights)
    dense.forward(flatten.forward(np.asarray(x, dtype=np.float64)))
    d_L_d_x = flatten.backward(dense.backward(np.asarray(d_L_d_out, dtype=np.float64)))
    return dense.grads()["weights"], dense.grads()["biases"], d_L_d_x


def dense_numeric(x, weights, d_L_d_out):
    """Central differences of ``L = sum(dense(flatten(x)) * d_L_d_out)``: for the weights, the biases and ``x``."""
    flatten, dense = dense_layers(x, weights)
    x = np.array(x, dtype=np.float64)

    def loss(_):
        return float(np.sum(dense.forward(flatten.forward(x)) * d_L_d_out))
    params = dense.params()
    return (numerical_gradient(loss, params["weights"]), numerical_gradient(loss, params["biases"]),
            numerical_gradient(loss, x))


def multichannel_conv_layer(filters, biases) -> Conv:
    """The fast ``Conv`` with ``filters`` ``(F, k, k, C)`` and ``biases`` ``(F,)``."""
    filters = np.asarray(filters, dtype=np.float64)
    F, k, _, C = filters.shape
    return fast_layer(Conv(C, F, k, case_rng(0)), filters=filters, biases=biases)


def reference_conv_backward(x, filters, biases, d_L_d_out):
    """``(d_L_d_filters, d_L_d_biases, d_L_d_x)`` from ``Conv.backward`` for the batch ``x`` ``(n, h, w, C)``."""
    layer = multichannel_conv_layer(filters, biases)
    layer.forward(np.asarray(x, dtype=np.float64))
    d_L_d_x = layer.backward(np.asarray(d_L_d_out, dtype=np.float64))
    return layer.grads()["filters"], layer.grads()["biases"], d_L_d_x


def conv_backward_numeric(x, filters, biases, d_L_d_out):
    """Central differences of ``L = sum(conv(x) * d_L_d_out)``: for the filters, the biases and ``x``."""
    layer = multichannel_conv_layer(filters, biases)
    x = np.array(x, dtype=np.float64)

    def loss(_):
        return float(np.sum(layer.forward(x) * d_L_d_out))
    params = layer.params()
    return (numerical_gradient(loss, params["filters"]), numerical_gradient(loss, params["biases"]),
            numerical_gradient(loss, x))


# ----------------------------------------------------------------------------- notebook 07: im2col and col2im
# The fast ``Conv`` layer builds the im2col matrix of a batch ``(n, h, w, C)`` in its forward pass (and keeps it
# as ``last_cols``) and adds the windows' gradients back in its backward pass (col2im). For one image with one
# channel (n = C = 1) both are exactly notebook 07's: ``cols[i * ow + j, a * k + b] = x[i + a, j + b]``.


def reference_im2col(x, k: int = 3) -> np.ndarray:
    """``(oh * ow, k * k)``: every ``k x k`` window of the image ``x`` ``(h, w)`` as one row, from ``Conv.forward``."""
    x = np.asarray(x, dtype=np.float64)
    layer = Conv(1, 1, k, case_rng(0), bias=False)
    layer.forward(x[np.newaxis, :, :, np.newaxis])
    return layer.last_cols


def reference_col2im(d_cols, input_shape: tuple, k: int = 3) -> np.ndarray:
    """``input_shape`` ``(h, w)``: each entry of ``d_cols`` ``(oh * ow, k * k)`` added onto the pixel it came from.

    ``Conv.backward`` computes ``d_cols = d_out @ W`` and adds it back with col2im. With ``k * k`` filters that
    make ``W`` the identity, ``d_cols`` is ``d_out`` itself, so the layer's ``d_L_d_input`` is col2im of ``d_cols``.
    """
    h, w = input_shape
    oh, ow = h - k + 1, w - k + 1
    layer = Conv(1, k * k, k, case_rng(0), bias=False)
    layer.filters[...] = np.eye(k * k).reshape(k * k, k, k, 1)
    layer.forward(np.zeros((1, h, w, 1)))
    d_out = np.asarray(d_cols, dtype=np.float64).reshape(1, oh, ow, k * k)
    return layer.backward(d_out)[0, :, :, 0]


def copies_per_pixel(input_shape: tuple, k: int = 3) -> np.ndarray:
    """``(h, w)``: how many windows (rows of the im2col matrix) hold a copy of each pixel."""
    h, w = input_shape
    return reference_col2im(np.ones(((h - k + 1) * (w - k + 1), k * k)), input_shape, k)


def col2im_numeric(x, d_cols, k: int = 3) -> np.ndarray:
    """Central-difference gradient of ``L(x) = sum(im2col(x) * d_cols)``, which col2im computes exactly."""
    x = np.array(x, dtype=np.float64)
    return numerical_gradient(lambda _: float(np.sum(reference_im2col(x, k) * d_cols)), x)
