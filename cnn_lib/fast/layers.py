"""Fast, batched layers: the same maths as the loop layers, for a whole batch at once.

The readable layers (``Conv3x3``, ``MaxPool2``, ``Softmax``) take one image and
loop over its pixels, so the code reads like the formulas. The layers here do
the same arithmetic for ``n`` images in a handful of NumPy calls, which is
hundreds of times faster. Tests check that both give the same numbers.

They obey the same protocol (``cnn_lib.layer``): ``forward(X)`` remembers what
``backward`` needs in ``last_*`` attributes; ``backward(d_L_d_out)`` returns
``d_L_d_input`` and stores ``d_L_d_<parameter>``; ``params()``/``grads()``.

- Images are stored **NHWC**: shape ``(n, h, w, c)`` = (images, rows, columns,
  channels). One image of the tutorial, ``(h, w, c)``, is ``X[k]``.
- Every layer computes in its ``dtype`` (``np.float32`` or ``np.float64``);
  inputs are converted to it.

Initialisation. ``init="tutorial"`` follows Victor Zhou's tutorial (conv
filters ``randn / 9`` for 3x3 filters, i.e. ``randn / (k * k)``; dense weights
``randn / input_len``). ``init="he"`` draws ``randn * sqrt(2 / fan_in)``
(He et al., 2015), which keeps the signal's size steady through ReLU layers,
for deeper networks. Biases start at zero.
"""

from __future__ import annotations

import math

import numpy as np

from ..layer import Layer
from ..maxpool import TIE_RULES
from ..require import (require_batch, require_choice, require_dtype, require_forward, require_gradient,
                       require_positive_int)

INITS = ("tutorial", "he")


def initial_weights(rng: np.random.Generator, shape: tuple, fan_in: int, tutorial_scale: int,
                    init: str, dtype: np.dtype) -> np.ndarray:
    """Standard normal weights of ``shape``, divided by ``tutorial_scale`` (``init="tutorial"``)
    or times ``sqrt(2 / fan_in)`` (``init="he"``)."""
    weights = rng.standard_normal(shape)
    weights = weights / tutorial_scale if init == "tutorial" else weights * np.sqrt(2.0 / fan_in)
    return weights.astype(dtype)


def scratch(layer, name: str, shape: tuple, dtype) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` that ``layer`` keeps from one call to the next, to compute into.

    Its old values are garbage: overwrite it all. ``ConvPool``'s big intermediate arrays (the
    im2col matrix, the conv output and its gradient: ~0.7 MB each for 32 images) are needed anew
    for every batch. Fresh memory that size comes from the operating system one 4 kB page at a time,
    and touching each new page cost more than the arithmetic we do on it (measured: a training
    step of the tutorial's network took up to 1.5x as long). So the layer computes into arrays it
    keeps in ``layer.scratch_arrays`` (made again only when the batch size changes). Only for arrays
    that never leave the layer, since the next call overwrites them; ``Sequential.replica`` gives
    each copy of a layer its own.
    """
    arrays = layer.__dict__.setdefault("scratch_arrays", {})
    array = arrays.get(name)
    if array is None or array.shape != tuple(shape) or array.dtype != dtype:
        array = arrays[name] = np.empty(shape, dtype=dtype)
    return array


class Conv(Layer):
    """Convolution with square ``k x k`` filters, valid padding, stride 1, any channels.

    - ``in_channels`` (C), ``num_filters`` (F), ``kernel_size`` (k).
    - ``filters``: shape ``(F, k, k, C)``; ``biases``: shape ``(F,)``.
    - ``bias=False`` leaves the biases out (the tutorial's ``Conv3x3`` has none).
    - ``compute_input_grad=False`` makes ``backward`` skip ``d_L_d_input`` and
      return ``None``: nothing needs it for a network's first layer, and it is
      the most expensive part of the backward pass.

    For every image ``n``, output pixel ``(i, j)`` and filter ``f``::

        out[n, i, j, f] = sum over a, b < k and c < C of X[n, i + a, j + b, c] * filters[f, a, b, c]
                          + biases[f]

    "im2col": we copy every ``k x k x C`` window of the batch into one row of a
    matrix ``cols`` of shape ``(n * oh * ow, k * k * C)``; then the sum above is
    one matrix product ``cols @ W.T``, with each filter flattened into a row of
    ``W`` ``(F, k * k * C)``. One big matrix product runs at the speed of the
    BLAS library, far faster than ``n * oh * ow`` small ones.
    """

    def __init__(self, in_channels: int, num_filters: int, kernel_size: int = 3,
                 rng: np.random.Generator | None = None, dtype=np.float64, bias: bool = True,
                 init: str = "tutorial", compute_input_grad: bool = True):
        self.in_channels = require_positive_int("in_channels", in_channels)
        self.num_filters = require_positive_int("num_filters", num_filters)
        self.kernel_size = k = require_positive_int("kernel_size", kernel_size)
        self.dtype = require_dtype(dtype)
        self.init = require_choice("init", init, INITS)
        self.bias = bool(bias)
        self.compute_input_grad = bool(compute_input_grad)
        self.param_names = ("filters", "biases") if self.bias else ("filters",)
        rng = np.random.default_rng() if rng is None else rng
        # Divide by k * k (9 for 3x3 filters) to reduce the variance of the initial values.
        self.filters = initial_weights(rng, (self.num_filters, k, k, self.in_channels),
                                       k * k * self.in_channels, k * k, init, self.dtype)
        self.d_L_d_filters = np.zeros_like(self.filters)
        if self.bias:
            self.biases = np.zeros(self.num_filters, dtype=self.dtype)
            self.d_L_d_biases = np.zeros_like(self.biases)
        self.last_input: np.ndarray | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Convolve a batch with every filter.

        - ``X``: shape ``(n, h, w, C)`` with ``h, w >= k``.
        - Returns ``out`` of shape ``(n, h - k + 1, w - k + 1, F)``.
        """
        X = self.require_input(X)
        n, h, w, c = X.shape
        k = self.kernel_size
        oh, ow = h - k + 1, w - k + 1
        # im2col: windows[n, i, j, a, b, c] = X[n, i + a, j + b, c], the k x k x C window
        # of output pixel (i, j). We fill it with k * k shifted copies of the image (one per
        # filter offset (a, b)): contiguous copies, measured ~3x faster than copying a
        # transposed sliding_window_view. Then one row per output pixel, in (a, b, c) order.
        windows = np.empty((n, oh, ow, k, k, c), dtype=self.dtype)
        for a in range(k):
            for b in range(k):
                windows[:, :, :, a, b, :] = X[:, a:a + oh, b:b + ow, :]
        cols = windows.reshape(n * oh * ow, k * k * c)
        # Each filter flattened the same way is one row of W, shape (F, k * k * C).
        out = cols @ self.filters.reshape(self.num_filters, -1).T   # (n * oh * ow, F)
        if self.bias:
            out += self.biases
        self.last_input, self.last_cols = X, cols
        return out.reshape(n, oh, ow, self.num_filters)

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray | None:
        """Gradients of the loss, given ``d_L_d_out`` of shape ``(n, oh, ow, F)``.

        - Stores ``d_L_d_filters`` ``(F, k, k, C)``: each output pixel adds
          ``d_L_d_out[n, i, j, f] * window(n, i, j)`` to filter ``f``'s
          gradient, summed over the batch: one matrix product ``d_out.T @ cols``.
        - Stores ``d_L_d_biases`` ``(F,)``: the sum of ``d_L_d_out`` over n, i, j.
        - Returns ``d_L_d_input`` ``(n, h, w, C)`` (or ``None`` when
          ``compute_input_grad`` is off): each output pixel sends
          ``d_L_d_out[n, i, j, f] * filters[f]`` back to the window it was
          computed from ("col2im"). As one formula, this is a *full*
          convolution with the filters rotated by 180 degrees (notebook 05).
        """
        d_L_d_out = self.require_backward(d_L_d_out)
        n, oh, ow, F = d_L_d_out.shape
        k, c = self.kernel_size, self.in_channels
        d_out = d_L_d_out.reshape(-1, F)                    # (n * oh * ow, F)

        d_filters = d_out.T @ self.last_cols                # (F, k * k * C)
        self.d_L_d_filters = d_filters.reshape(self.filters.shape)
        if self.bias:
            self.d_L_d_biases = d_out.sum(axis=0)
        if not self.compute_input_grad:
            return None

        # Gradient for every window's copy of the input: d_cols = d_out @ W.
        d_cols = (d_out @ self.filters.reshape(F, -1)).reshape(n, oh, ow, k, k, c)
        # col2im: window (i, j) read X[:, i + a, j + b, :]; add its gradient back there.
        d_L_d_input = np.zeros_like(self.last_input)
        for a in range(k):
            for b in range(k):
                d_L_d_input[:, a:a + oh, b:b + ow, :] += d_cols[:, :, :, a, b, :]
        return d_L_d_input

    def require_input(self, X: np.ndarray) -> np.ndarray:
        """``forward``'s checks: a finite batch ``(n, h, w, C)`` with ``h, w >= k``, in ``dtype``."""
        X = require_batch(X, self.dtype, 4, "Conv", "(n, h, w, channels)")
        k = self.kernel_size
        if X.shape[3] != self.in_channels:
            raise ValueError(f"Conv expects {self.in_channels} input channel(s) (the last axis), "
                             f"but got shape {X.shape}.")
        if X.shape[1] < k or X.shape[2] < k:
            raise ValueError(f"Conv input must be at least {k}x{k}, but got shape {X.shape}.")
        return X

    def require_backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """``backward``'s checks: a forward came first and ``d_L_d_out`` fits its output."""
        require_forward(self)
        n, h, w, _ = self.last_input.shape
        k = self.kernel_size
        return require_gradient(d_L_d_out, (n, h - k + 1, w - k + 1, self.num_filters), self)

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "num_filters": self.num_filters,
                "kernel_size": self.kernel_size, "dtype": self.dtype.name, "bias": self.bias,
                "init": self.init, "compute_input_grad": self.compute_input_grad}


def routes_to_maxima(positions, maximum: np.ndarray, ties: str, out: np.ndarray | None = None) -> np.ndarray:
    """Where a 2x2 max-pool sends each window's gradient: for every position, a mask of its maxima.

    - ``positions``: the four pixels of every window, in reading order ``(0, 0)``, ``(0, 1)``,
      ``(1, 0)``, ``(1, 1)``: four arrays of the shape of ``maximum`` (views of the pool's input).
    - ``maximum``: the pooled values.
    - Returns ``routes``, booleans of shape ``(4, *maximum.shape)`` (written into ``out`` if given):
      ``routes[s]`` is True where position ``s`` is its window's maximum.

    With ``ties="first"`` a window's gradient goes only to its first maximum in reading order
    (``np.argmax``'s choice): position 1 routes where it is a maximum and position 0 is not,
    position 2 where it is one and neither 0 nor 1 is, and position 3 takes the windows that
    none of the first three took (when the pooled values are finite, the maximum is then at 3).
    For booleans ``a > b`` is "a and not b". ``ties="all"`` marks every tied maximum (the tutorial's
    rule). (Three comparisons of numbers and five of booleans: measured ~1.5x faster than
    comparing all four positions and updating a mask of the windows taken after each.)
    """
    routes = np.empty((4, *maximum.shape), dtype=bool) if out is None else out
    first, second, third, fourth = routes
    for position, is_max in zip(positions[:3], (first, second, third)):
        np.equal(position, maximum, out=is_max)
    if ties == "all":
        np.equal(positions[3], maximum, out=fourth)
        return routes
    taken = np.logical_or(first, second, out=fourth)     # the windows routed so far, kept in `fourth` for now
    np.greater(second, first, out=second)                # a maximum, and the first position is not
    np.greater(third, taken, out=third)                  # a maximum, and neither earlier position is
    np.logical_or(taken, third, out=taken)
    np.logical_not(taken, out=fourth)                    # the windows none of the first three took
    return routes


def route_to_maxima(positions, maximum: np.ndarray, d_L_d_max: np.ndarray, ties: str, d_positions) -> None:
    """The backward pass of a 2x2 max-pool, for every window at once: write each position's gradient.

    - ``positions``, ``maximum``, ``ties``: as for ``routes_to_maxima``; ``d_L_d_max``: the gradient
      of the pooled values, of the same shape.
    - ``d_positions``: four arrays (views) of the same shape, filled with each position's gradient:
      ``d_L_d_max`` where that pixel is its window's maximum (``routes_to_maxima``), else 0.
    Used by ``MaxPool2x2``; ``ConvPool`` keeps the routes from one backward to the next.
    """
    for is_max, d_position in zip(routes_to_maxima(positions, maximum, ties), d_positions):
        np.multiply(is_max, d_L_d_max, out=d_position)


class MaxPool2x2(Layer):
    """2x2 max-pooling with stride 2, for a batch: ``(n, h, w, c) -> (n, h/2, w/2, c)``.

    The trick: reshaping ``X`` to ``(n * h/2, 2, w/2, 2, c)`` (no copy) gives
    each 2x2 window's pixel ``(a, b)`` as ``X5[:, a, :, b, :]``, for all
    windows at once. The pooled image is the element-wise maximum of those
    four arrays.

    Ties (see ``MaxPool2``): with ``ties="first"`` (default) a window's
    gradient goes only to its first maximum in reading order, ``(0, 0)``,
    ``(0, 1)``, ``(1, 0)``, ``(1, 1)``, the position ``np.argmax`` would pick;
    ``ties="all"`` copies it to every tied maximum (the tutorial's rule).
    """

    POSITIONS = ((0, 0), (0, 1), (1, 0), (1, 1))  # a window's pixels in reading order

    def __init__(self, ties: str = "first", dtype=np.float64):
        self.ties = require_choice("ties", ties, TIE_RULES)
        self.dtype = require_dtype(dtype)
        self.last_input: np.ndarray | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        """- ``X``: shape ``(n, h, w, c)``, h and w even. Returns shape ``(n, h/2, w/2, c)``."""
        X = self.require_input(X)
        n, h, w, c = X.shape
        X5 = X.reshape(n * h // 2, 2, w // 2, 2, c)
        # Max of the window's two rows, then of the two columns that are left.
        # (Same result as X.reshape(n, h//2, 2, w//2, 2, c).max(axis=(2, 4)), measured ~10x faster.)
        rows = np.maximum(X5[:, 0], X5[:, 1])                  # (n * h/2, w/2, 2, c)
        out = np.maximum(rows[:, :, 0], rows[:, :, 1])         # (n * h/2, w/2, c)
        self.last_input, self.last_output = X, out
        return out.reshape(n, h // 2, w // 2, c)

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """Route each window's gradient to its maximum.

        - ``d_L_d_out``: shape ``(n, h/2, w/2, c)``.
        - Returns ``d_L_d_input`` ``(n, h, w, c)``: zero except at the maxima.

        ``route_to_maxima`` does it for the four positions ``X5[:, a, :, b]`` of
        every window at once, with the tie rule (for ``ties="first"``, the
        first maximum in reading order, as ``argmax`` picks). (Stacking the windows and calling ``argmax`` gives the same mask but was
        measured about 5x slower: it needs a transposed copy and ``argmax`` over
        an axis of length 4.)
        """
        d_L_d_out = self.require_backward(d_L_d_out)
        n, h, w, c = self.last_input.shape
        X5 = self.last_input.reshape(n * h // 2, 2, w // 2, 2, c)
        out = self.last_output                                  # (n * h/2, w/2, c)
        d_X5 = np.empty_like(X5)
        route_to_maxima([X5[:, a, :, b] for a, b in self.POSITIONS], out, d_L_d_out.reshape(out.shape),
                        self.ties, [d_X5[:, a, :, b] for a, b in self.POSITIONS])
        return d_X5.reshape(n, h, w, c)

    def require_input(self, X: np.ndarray) -> np.ndarray:
        """``forward``'s checks: a finite batch ``(n, h, w, c)`` with an even ``h`` and ``w``."""
        X = require_batch(X, self.dtype, 4, "MaxPool2x2", "(n, h, w, channels)")
        if X.shape[1] % 2 or X.shape[2] % 2:
            raise ValueError(
                f"MaxPool2x2 needs an even height and width to cut the input into 2x2 "
                f"regions, but got shape {X.shape}. Crop or pad the input first."
            )
        return X

    def require_backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        require_forward(self)
        n, h, w, c = self.last_input.shape
        return require_gradient(d_L_d_out, (n, h // 2, w // 2, c), self)

    def config(self) -> dict:
        return {"ties": self.ties, "dtype": self.dtype.name}


def pool_window_columns(X: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """im2col for a convolution followed by 2x2 max-pooling, rows grouped by pool-window position.

    - ``X``: shape ``(n, h, w, C)``, with ``h - k + 1`` and ``w - k + 1`` even.
    - Returns ``cols`` of shape ``(4 * n * ph * pw, k * k * C)`` with
      ``ph, pw = (h - k + 1) / 2, (w - k + 1) / 2``. Row ``(p, q, m, i, j)``
      (in C order) holds, in ``(a, b, c)`` order, the ``k x k x C`` window of
      the conv output pixel ``(2i + p, 2j + q)`` of image ``m``: the pixel at
      position ``(p, q)`` of pool window ``(i, j)``.

    So ``cols @ W.T`` lists the conv output as four blocks, one per window
    position, each of shape ``(n * ph * pw, F)``, and the max-pool is the
    element-wise maximum of four contiguous blocks (notebook 07).

    The rows are one strided view of ``X`` (no arithmetic, no Python loop),
    copied once. With one channel each window row has only ``k * k`` numbers,
    and copying it row by row is slow; we copy the transposed matrix instead
    (its rows are long) and return a transposed view: the same matrix.
    With several channels, ``out`` (an array of the result's shape) may be given to copy into.
    """
    n, h, w, c = X.shape
    ph, pw = (h - k + 1) // 2, (w - k + 1) // 2
    s_n, s_h, s_w, s_c = X.strides
    # windows[p, q, m, i, j, a, b, c] = X[m, 2i + p + a, 2j + q + b, c]
    windows = np.lib.stride_tricks.as_strided(
        X, shape=(2, 2, n, ph, pw, k, k, c),
        strides=(s_h, s_w, s_n, 2 * s_h, 2 * s_w, s_h, s_w, s_c), writeable=False)
    if c == 1:
        return np.ascontiguousarray(windows.transpose(5, 6, 7, 0, 1, 2, 3, 4)).reshape(k * k * c, -1).T
    out = np.empty(windows.shape, dtype=X.dtype) if out is None else out.reshape(windows.shape)
    np.copyto(out, windows)
    return out.reshape(-1, k * k * c)


def pool_window_col2im(d_conv: np.ndarray, filters: np.ndarray, input_shape: tuple) -> np.ndarray:
    """The input gradient of a convolution whose im2col rows are in ``pool_window_columns``' order.

    - ``d_conv``: shape ``(4 * n * ph * pw, F)``, the gradient of the conv output, one row per row
      ``(p, q, m, i, j)`` of ``cols``.
    - ``filters``: shape ``(F, k, k, C)``; ``input_shape``: ``(n, h, w, C)``, the shape of ``X``.
    - Returns ``d_L_d_input`` of shape ``input_shape``.

    At filter offset ``(a, b)``, row ``(p, q, m, i, j)`` read ``X[m, 2i + u, 2j + v, :]`` with
    ``u = p + a``, ``v = q + b``, and sends back ``d_conv[row] @ filters[:, a, b, :]``. Grouped by
    where they land, ``(u, v)`` in ``0..k``, the four window positions of pool window ``(m, i, j)``
    send to the ``(k + 1) x (k + 1)`` patch at ``(2i, 2j)``: one product of the four blocks side by
    side, ``(M, 4F)``, with the filters placed at the four offsets ``(p, q)`` of that patch
    (``patch_filters``), ``(4F, (k + 1)^2 C)``, gives what every pool window sends to each
    place of its patch. Then ``(k + 1)^2`` additions, each onto every second row and column of the
    input, starting at ``(u, v)`` ("col2im"): measured ~20% faster than one product per offset
    ``(a, b)`` with four additions each.
    """
    n, h, w, c = input_shape
    F, k = filters.shape[:2]
    ph, pw = (h - k + 1) // 2, (w - k + 1) // 2
    M = n * ph * pw
    blocks_side_by_side = np.ascontiguousarray(d_conv.reshape(4, M, F).transpose(1, 0, 2)).reshape(M, 4 * F)
    # patch_filters: row (p, q, f), column (u, v, c)
    sent = (blocks_side_by_side @ patch_filters(filters)).reshape(n, ph, pw, k + 1, k + 1, c)
    d_L_d_input = np.zeros(input_shape, dtype=d_conv.dtype)
    for u in range(k + 1):
        for v in range(k + 1):
            d_L_d_input[:, u:u + 2 * ph:2, v:v + 2 * pw:2, :] += sent[:, :, :, u, v, :]
    return d_L_d_input


def pool_window_patches(X: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """For one input channel: the ``(k + 1) x (k + 1)`` patch of every 2x2 pool window, one per column.

    - ``X``: shape ``(n, h, w, 1)``, with ``h - k + 1`` and ``w - k + 1`` even.
    - Returns ``patches`` of shape ``((k + 1) ** 2, ph * pw * n)`` (written into ``out`` if given),
      ``ph, pw = (h - k + 1) / 2, (w - k + 1) / 2``: column ``(i, j, m)`` (in C order: the image
      index ``m`` last) holds, in ``(a, b)`` order, ``X[m, 2i + a, 2j + b, 0]`` for ``a, b <= k``.

    The pool window ``(i, j)`` covers the conv output pixels ``(2i + p, 2j + q)``, ``p, q`` in
    ``{0, 1}``, and their four ``k x k`` windows all lie in this patch, at offset ``(p, q)``. So
    one patch of ``(k + 1) ** 2`` numbers (16 for ``k = 3``) replaces the four im2col rows
    of ``pool_window_columns`` (``4 * k * k`` = 36 numbers): less to copy. ``patch_filters``
    places the filters at the four offsets. Each row of ``patches`` (one ``(a, b)``) is one
    strided slice of the images; we copy them all at once from one strided view of the images
    laid out ``(h, w, n)``, the image index last (``batch_last``; ``X`` from ``ConvPool`` already is,
    any other is copied so first): the view then reads runs of ``n`` neighbouring numbers
    (measured ~1.4x faster than reading single numbers from ``(n, h, w)``).
    """
    n, h, w, _ = X.shape
    ph, pw = (h - k + 1) // 2, (w - k + 1) // 2
    images = np.ascontiguousarray(X[..., 0].transpose(1, 2, 0))        # (h, w, n): no copy if batch-last
    s_h, s_w, s_n = images.strides
    # view[a, b, i, j, m] = images[2i + a, 2j + b, m] = X[m, 2i + a, 2j + b, 0]
    view = np.ndarray((k + 1, k + 1, ph, pw, n), images.dtype, buffer=images,
                      strides=(s_h, s_w, 2 * s_h, 2 * s_w, s_n))
    out = np.empty(((k + 1) ** 2, ph * pw * n), dtype=X.dtype) if out is None else out
    np.copyto(out.reshape(view.shape), view)
    return out


def patch_filters(filters: np.ndarray) -> np.ndarray:
    """The filters ``(F, k, k, C)`` placed at the four offsets of a ``(k + 1) x (k + 1)`` patch.

    Returns ``W`` of shape ``(4 * F, (k + 1) ** 2 * C)``: row ``(p, q, f)`` (in C order) is a patch of
    zeros with ``filters[f]`` at rows ``p..p + k - 1`` and columns ``q..q + k - 1`` (columns in
    ``(row, column, channel)`` order). With one channel, ``W @ patches`` (``pool_window_patches``)
    is the conv output at window position ``(p, q)`` of every pool window, for every filter: shape
    ``(4 * F, n * ph * pw)``; ``pool_window_col2im`` uses it to send gradients back for any ``C``.
    """
    F, k, _, C = filters.shape
    W = np.zeros((2, 2, F, k + 1, k + 1, C), dtype=filters.dtype)
    for p in range(2):
        for q in range(2):
            W[p, q, :, p:p + k, q:q + k, :] = filters
    return W.reshape(4 * F, (k + 1) ** 2 * C)


def patch_filters_gradient(d_W: np.ndarray, k: int) -> np.ndarray:
    """The gradient of the filters ``(F, k, k, 1)`` from the gradient ``d_W`` ``(4 * F, (k + 1) ** 2)``
    of ``patch_filters``' matrix: each filter appears there four times, so it gets the sum of
    the four places' gradients."""
    d_W = d_W.reshape(2, 2, -1, k + 1, k + 1)
    d_filters = d_W[0, 0, :, :k, :k].copy()
    for p, q in ((0, 1), (1, 0), (1, 1)):
        d_filters += d_W[p, q, :, p:p + k, q:q + k]
    return d_filters[..., np.newaxis]


def pool_window_patches_col2im(d_patches: np.ndarray, input_shape: tuple) -> np.ndarray:
    """The input gradient from the gradient of ``pool_window_patches``' matrix.

    - ``d_patches``: shape ``((k + 1) ** 2, ph * pw * n)``; ``input_shape``: ``(n, h, w, 1)``.
    - Row ``(a, b)`` of ``patches`` was ``X[:, a::2, b::2, 0]`` (``ph x pw`` of it, image index
      last): add its gradient back there. Patches overlap, so a pixel collects from up to four of them.
    """
    n, h, w, _ = input_shape
    size = int(round(np.sqrt(d_patches.shape[0])))        # k + 1
    ph, pw = (h - size + 2) // 2, (w - size + 2) // 2
    d_L_d_input = np.zeros(input_shape, dtype=d_patches.dtype)
    rows = d_patches.reshape(size, size, ph, pw, n)
    for a in range(size):
        for b in range(size):
            d_L_d_input[:, a:a + 2 * ph:2, b:b + 2 * pw:2, 0] += rows[a, b].transpose(2, 0, 1)
    return d_L_d_input


def batch_last(X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A copy of the batch ``X`` ``(n, h, w, C)`` with the image index last in memory.

    Returns a view of shape ``(n, h, w, C)`` (the same values, ``X[m]`` is still image ``m``) of an
    array laid out ``(h, w, C, n)``: ``out`` if given, of that shape. Neighbouring numbers in memory are
    then the same pixel of neighbouring images, so a strided view that walks the pixels of all
    images (``pool_window_patches``) reads runs of ``n`` numbers instead of single ones.
    """
    n, h, w, c = X.shape
    out = np.empty((h, w, c, n), dtype=X.dtype) if out is None else out
    np.copyto(out, X.transpose(1, 2, 3, 0))
    return out.transpose(3, 0, 1, 2)


class ConvPool(Conv):
    """``Conv`` -> (``ReLU``) -> ``MaxPool2x2`` as one layer: the same numbers, computed in a faster layout.

    - ``in_channels`` (C), ``num_filters`` (F), ``kernel_size`` (k), ``bias``,
      ``init``, ``compute_input_grad``: as for ``Conv`` (its subclass; the same
      ``filters`` ``(F, k, k, C)`` and ``biases`` ``(F,)``, drawn the same way).
    - ``relu``: apply ReLU between the convolution and the pooling.
    - ``ties``: the pooling's tie rule, as for ``MaxPool2x2``.
    - ``forward``: ``(n, h, w, C) -> (n, (h - k + 1) / 2, (w - k + 1) / 2, F)``.

    ``pool_window_columns`` orders the im2col rows so that the conv output
    comes out as four contiguous blocks ``conv[p]``, one per 2x2 window
    position; pooling is then three ``np.maximum`` calls, and its backward a
    masked copy of the gradient into each block. With one input channel the
    blocks come from one ``(k + 1) x (k + 1)`` patch per pool window instead
    (``pool_window_patches``, ``patch_filters``): less to copy; and everything is
    computed with the image index last (``batch_last``), the output included (see
    ``forward``). The big intermediate arrays are kept from call to call (``scratch``).
    Two more savings, both exact:

    - the bias is added after pooling: ``max(x + b) = max(x) + b``;
    - ReLU is applied after pooling: ``max(relu(x)) = relu(max(x))`` (ReLU
      never changes the order of two numbers), on a quarter of the values.
    """

    def __init__(self, in_channels: int, num_filters: int, kernel_size: int = 3,
                 rng: np.random.Generator | None = None, dtype=np.float64, bias: bool = True,
                 init: str = "tutorial", compute_input_grad: bool = True, relu: bool = False,
                 ties: str = "first"):
        super().__init__(in_channels, num_filters, kernel_size, rng, dtype, bias, init, compute_input_grad)
        self.relu = bool(relu)
        self.ties = require_choice("ties", ties, TIE_RULES)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """- ``X``: shape ``(n, h, w, C)``. Returns ``(n, ph, pw, F)``, ``ph, pw = (h - k + 1) / 2, (w - k + 1) / 2``.

        With one input channel everything is computed with the image index last (``batch_last``):
        the images are copied so, then one patch per pool window (``pool_window_patches``), the conv
        output in blocks ``(F, ph * pw * n)``, pooled; the result is a view of shape ``(n, ph, pw, F)``
        of an array laid out ``(ph, pw, F, n)`` in memory, which ``Flatten`` and ``Dense`` read without
        copying. Copying the blocks' order into that layout (and the gradient back) moves runs of
        ``n`` numbers: measured ~2.5x faster than the element-by-element transposes to and from
        ``(n, ph, pw, F)``. Otherwise from ``pool_window_columns``: blocks ``(n * ph * pw, F)``, the
        output laid out ``(n, ph, pw, F)`` as ``Conv``'s.
        """
        X = self.require_input(X)
        n, h, w, C = X.shape
        k, F = self.kernel_size, self.num_filters
        ph, pw = (h - k + 1) // 2, (w - k + 1) // 2
        M = n * ph * pw                                                   # pool windows
        if C == 1:
            images = batch_last(X, out=scratch(self, "images", (h, w, 1, n), X.dtype))
            cols = pool_window_patches(images, k, out=scratch(self, "cols", ((k + 1) ** 2, M), X.dtype))
            conv = np.matmul(patch_filters(self.filters), cols,
                             out=scratch(self, "conv", (4 * F, M), X.dtype)).reshape(4, F, M)
        else:   # (an input with the image index last is first copied back: measured faster)
            cols = pool_window_columns(np.ascontiguousarray(X), k,
                                       out=scratch(self, "cols", (4 * M, k * k * C), X.dtype))
            conv = np.matmul(cols, self.filters.reshape(F, -1).T,
                             out=scratch(self, "conv", (4 * M, F), X.dtype)).reshape(4, M, F)
        # conv[p]: the conv output at window position p, (F, M) or (M, F)
        pooled = np.maximum(conv[0], conv[1], out=scratch(self, "pooled", conv.shape[1:], X.dtype))
        np.maximum(pooled, conv[2], out=pooled)
        np.maximum(pooled, conv[3], out=pooled)
        if C == 1:   # a new array (it leaves the layer), (ph, pw, F, n) in memory, seen as (n, ph, pw, F)
            out = np.empty((ph, pw, F, n), dtype=X.dtype).transpose(3, 0, 1, 2)
            pixels = pooled.reshape(F, ph, pw, n).transpose(3, 1, 2, 0)   # the same order, a view
        else:
            out, pixels = np.empty((n, ph, pw, F), dtype=X.dtype), pooled.reshape(n, ph, pw, F)
        if self.bias:
            np.add(pixels, self.biases, out=out)
        else:
            np.copyto(out, pixels)
        if self.relu:
            np.maximum(out, 0, out=out)
        self.last_input, self.last_cols, self.last_conv, self.last_routes = X, cols, conv, None
        self.last_pooled, self.last_output = pooled, out
        return out

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray | None:
        """Given ``d_L_d_out`` ``(n, ph, pw, F)`` (any memory layout): stores ``d_L_d_filters``
        ``(F, k, k, C)`` (and ``d_L_d_biases`` ``(F,)``); returns ``d_L_d_input`` ``(n, h, w, C)``
        (``None`` when ``compute_input_grad`` is off)."""
        d_L_d_out = self.require_backward(d_L_d_out)
        k, F, C = self.kernel_size, self.num_filters, self.in_channels
        if self.relu:
            d_L_d_out = d_L_d_out * (self.last_output > 0)
        if C == 1:                                                       # blocks (F, M), M = (i, j, m)
            d_pooled = scratch(self, "d_pooled", self.last_pooled.shape, d_L_d_out.dtype)
            np.copyto(d_pooled.reshape(F, *d_L_d_out.shape[1:3], -1), d_L_d_out.transpose(3, 1, 2, 0))
        else:                                                            # blocks (M, F): a view, as a rule
            d_pooled = d_L_d_out.reshape(self.last_pooled.shape)
        # Max-pool backward: each window's gradient goes to the block holding its maximum. Once the
        # routes (four masks of booleans) are known, the conv output is needed no more, and its gradient
        # is written over it: one big array fewer passing through the cache (measured ~7% faster
        # training steps). The routes are kept, so backward may run again on the same forward.
        if self.last_routes is None:
            self.last_routes = routes_to_maxima(self.last_conv, self.last_pooled, self.ties,
                                                out=scratch(self, "routes", self.last_conv.shape, bool))
        d_conv = np.multiply(self.last_routes, d_pooled, out=self.last_conv)   # (4, F, M) or (4, M, F)
        if C == 1:
            d_conv = d_conv.reshape(4 * F, -1)                           # row (p, q, f)
            if self.bias:   # (summed after routing, so ties="all" counts a tied window as Conv + MaxPool2x2 do)
                self.d_L_d_biases = d_conv.sum(axis=1).reshape(4, F).sum(axis=0)
            self.d_L_d_filters = patch_filters_gradient(d_conv @ self.last_cols.T, k)
            if not self.compute_input_grad:
                return None
            d_cols = patch_filters(self.filters).T @ d_conv              # ((k + 1) ** 2, M)
            return pool_window_patches_col2im(d_cols, self.last_input.shape)
        d_conv = d_conv.reshape(-1, F)                                   # one row per conv output pixel
        if self.bias:
            self.d_L_d_biases = d_conv.sum(axis=0)
        self.d_L_d_filters = (d_conv.T @ self.last_cols).reshape(self.filters.shape)
        if not self.compute_input_grad:
            return None
        return pool_window_col2im(d_conv, self.filters, self.last_input.shape)

    def require_input(self, X: np.ndarray) -> np.ndarray:
        """``forward``'s checks: ``Conv``'s, and a conv output with an even height and width."""
        X = super().require_input(X)
        k = self.kernel_size
        if (X.shape[1] - k + 1) % 2 or (X.shape[2] - k + 1) % 2:
            raise ValueError(
                f"ConvPool's {k}x{k} convolution of an input of shape {X.shape} gives an output of "
                f"{X.shape[1] - k + 1}x{X.shape[2] - k + 1}, but 2x2 pooling needs an even height and "
                "width. Crop or pad the input first."
            )
        return X

    def require_backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        require_forward(self)
        n, h, w, _ = self.last_input.shape
        k = self.kernel_size
        return require_gradient(d_L_d_out, (n, (h - k + 1) // 2, (w - k + 1) // 2, self.num_filters), self)

    def config(self) -> dict:
        return {**super().config(), "relu": self.relu, "ties": self.ties}


class ReLU(Layer):
    """``out = max(X, 0)`` element-wise, any shape with a batch axis; its gradient passes where ``X > 0``."""

    def __init__(self, dtype=np.float64):
        self.dtype = require_dtype(dtype)
        self.last_input: np.ndarray | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        """- ``X``: any shape ``(n, ...)``. Returns the same shape."""
        X = require_batch(X, self.dtype, np.ndim(X), "ReLU", "(n, ...)")
        self.last_input = X
        return np.maximum(X, 0)

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """``d_L_d_input = d_L_d_out`` where the input was positive, else 0 (shape of the input)."""
        require_forward(self)
        d_L_d_out = require_gradient(d_L_d_out, self.last_input.shape, self)
        return d_L_d_out * (self.last_input > 0)

    def config(self) -> dict:
        return {"dtype": self.dtype.name}


class Flatten(Layer):
    """``(n, d1, d2, ...) -> (n, d1 * d2 * ...)``, in C order.

    For one NHWC image this is the order the readable ``Softmax`` flattens in,
    so the tutorial's dense weights fit unchanged.
    """

    def __init__(self, dtype=np.float64):
        self.dtype = require_dtype(dtype)
        self.last_input_shape: tuple | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        X = require_batch(X, self.dtype, max(np.ndim(X), 2), "Flatten", "(n, d1, d2, ...)")
        self.last_input_shape = X.shape
        return X.reshape(X.shape[0], -1)

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """Reshape the gradient back to the input's shape."""
        require_forward(self, "last_input_shape")
        n, *rest = self.last_input_shape
        d_L_d_out = require_gradient(d_L_d_out, (n, math.prod(rest)), self)
        return d_L_d_out.reshape(self.last_input_shape)

    def config(self) -> dict:
        return {"dtype": self.dtype.name}


class Dense(Layer):
    """Fully connected layer: ``out = X @ weights + biases``.

    - ``weights``: shape ``(input_len, nodes)``; ``biases``: shape ``(nodes,)``.
    - ``init="tutorial"``: ``randn / input_len``; ``init="he"``: ``randn * sqrt(2 / input_len)``.
    """

    param_names = ("weights", "biases")

    def __init__(self, input_len: int, nodes: int, rng: np.random.Generator | None = None,
                 dtype=np.float64, init: str = "tutorial"):
        self.input_len = require_positive_int("input_len", input_len)
        self.nodes = require_positive_int("nodes", nodes)
        self.dtype = require_dtype(dtype)
        self.init = require_choice("init", init, INITS)
        rng = np.random.default_rng() if rng is None else rng
        self.weights = initial_weights(rng, (self.input_len, self.nodes), self.input_len, self.input_len,
                                       init, self.dtype)
        self.biases = np.zeros(self.nodes, dtype=self.dtype)
        self.d_L_d_weights = np.zeros_like(self.weights)
        self.d_L_d_biases = np.zeros_like(self.biases)
        self.last_input: np.ndarray | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        """- ``X``: shape ``(n, input_len)``, in any memory layout (NumPy hands a transposed one
          to BLAS as it is). Returns ``(n, nodes)``."""
        X = self.require_input(X)
        self.last_input = X
        return X @ self.weights + self.biases

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        """Given ``d_L_d_out`` ``(n, nodes)``:

        - ``d_L_d_weights = X.T @ d_L_d_out`` ``(input_len, nodes)`` (summed over the batch),
        - ``d_L_d_biases = sum of d_L_d_out over the batch`` ``(nodes,)``,
        - returns ``d_L_d_input = d_L_d_out @ weights.T`` ``(n, input_len)``, laid out in memory as
          the input was: when the input came with the image index last (``ConvPool``'s output,
          flattened), as the transpose of ``weights @ d_L_d_out.T``, so that the layer before
          reads it without copying.
        """
        require_forward(self)
        d_L_d_out = require_gradient(d_L_d_out, (len(self.last_input), self.nodes), self)
        self.d_L_d_weights = self.last_input.T @ d_L_d_out
        self.d_L_d_biases = d_L_d_out.sum(axis=0)
        if self.last_input.T.flags.c_contiguous and not self.last_input.flags.c_contiguous:
            return (self.weights @ d_L_d_out.T).T
        return d_L_d_out @ self.weights.T

    def require_input(self, X: np.ndarray) -> np.ndarray:
        """``forward``'s checks: a finite batch ``(n, input_len)`` in ``dtype``."""
        X = require_batch(X, self.dtype, 2, "Dense", f"(n, {self.input_len})")
        if X.shape[1] != self.input_len:
            raise ValueError(
                f"Dense expects input_len = {self.input_len} values per image, but got shape {X.shape}. "
                "Check the layer sizes (Flatten first for images)."
            )
        return X

    def config(self) -> dict:
        return {"input_len": self.input_len, "nodes": self.nodes, "dtype": self.dtype.name, "init": self.init}


#: Every fast layer by name, for rebuilding a model from its saved configuration.
LAYER_TYPES = {cls.__name__: cls for cls in (Conv, MaxPool2x2, ConvPool, ReLU, Flatten, Dense)}
