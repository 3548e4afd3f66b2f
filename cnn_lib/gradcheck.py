"""Numerical gradient checking, as CS231n teaches it.

A derived gradient is only trusted once it agrees with *central finite
differences*::

    df/dx[k]  ~  (f(x + h e_k) - f(x - h e_k)) / (2 h)

whose truncation error shrinks like h^2 while its round-off error grows
like (machine epsilon) / h. The default h = 1e-4 balances the two for the
functions of this network in float64 (notebook 02 plots the trade-off).
Agreement is measured by the relative error
``|a - n| / max(|a| + |n|, 1e-8)``, taking the worst element. In float64,
values below about 1e-7 mean the gradient is right.

To check a layer, we turn its array output into a scalar with a fixed random
"upstream gradient" G: ``L = sum(forward(x) * G)``. Then ``dL/d(out) = G``,
so ``backward(G)`` must return ``dL/dx``, and the parameter gradients the
layer stores (``grads()``) must equal ``dL/d(parameter)``. This works for
every layer of both families (``cnn_lib.layer``), and ``check_model`` does
the same for every model (``cnn_lib.model``) through its loss.

Checking every element costs two forward passes per element; for large
arrays ``num_checks=k`` checks ``k`` elements drawn at random ("sparse"
checking, CS231n's ``grad_check_sparse``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4,
                       indices: list[tuple] | None = None) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    ``x`` is nudged in place, one element at a time, and restored, so ``f``
    may read ``x`` through a layer's attribute (e.g. ``layer.filters``).
    Returns an array of the shape of ``x``; with ``indices``, only those
    elements are computed (the others stay 0).
    """
    grad = np.zeros(x.shape)
    for index in (np.ndindex(x.shape) if indices is None else indices):
        original = x[index]
        x[index] = original + h
        f_plus = f(x)
        x[index] = original - h
        f_minus = f(x)
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Worst element-wise relative error ``|a - n| / max(|a| + |n|, 1e-8)`` (CS231n)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"shapes differ: analytic {analytic.shape}, numeric {numeric.shape}")
    return float(np.max(np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))))


def report_below(what: str, value: float, bound: float) -> None:
    """Print ``<what> < <bound> ✓`` if ``value < bound``, else raise ``AssertionError``.

    For the notebooks. A round-off-sized number, such as the relative error of
    a gradient check or the difference between two ways of computing the same
    array, changes from one CPU or BLAS library to another: printed, it would
    make every machine's output differ. The bound it meets is the same
    everywhere, and it is what the check is about. The error message gives the
    value. ``what`` names the number, e.g. ``"relative error, d_L_d_w"``.
    """
    value = float(value)
    if not value < bound:  # NaN fails too
        raise AssertionError(f"{what} = {value:.2e}, not below {bound:g}")
    print(f"{what} < {bound:g} ✓")


def check_function(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray,
                   dx: np.ndarray, h: float = 1e-4, num_checks: int | None = None, seed: int = 0) -> float:
    """Relative error of a gradient ``dx`` derived for ``f`` at ``x``, in CS231n's style.

    - ``f(x)`` returns an array; ``df`` is the upstream gradient dL/d(f(x)) of
      its shape, so the scalar checked is ``L = sum(f(x) * df)``.
    - ``dx``: the derived dL/dx, shape of ``x``.
    - ``num_checks``: check that many random elements instead of all.
    """
    x = np.asarray(x, dtype=np.float64)
    df = np.asarray(df, dtype=np.float64)
    indices = _sample(x.shape, num_checks, seed)
    numeric = numerical_gradient(lambda x_: float(np.sum(f(x_) * df)), x, h, indices)
    return _compare(dx, numeric, indices)


def check_layer(layer, x: np.ndarray, upstream: np.ndarray | None = None, h: float = 1e-4,
                seed: int = 0, num_checks: int | None = None) -> dict[str, float]:
    """Relative error of every gradient of ``layer`` at input ``x``, by name.

    - ``layer``: any layer of either family (``forward``, ``backward``, ``params``, ``grads``).
    - ``x``: its input (made float64; not changed).
    - ``upstream``: the fixed ``G`` in ``L = sum(forward(x) * G)``; random
      standard normal of the output's shape when ``None``.
    - Returns ``{"input": error, "<parameter>": error, ...}``; ``"input"`` is
      left out when ``backward`` returns ``None`` (a first layer may skip it).
    """
    x = np.array(x, dtype=np.float64)
    upstream = _upstream(layer, x, upstream, seed)

    def loss(_=None) -> float:
        return float(np.sum(layer.forward(x) * upstream))

    layer.forward(x)
    d_L_d_input = layer.backward(upstream)
    analytic = {name: np.array(value) for name, value in layer.grads().items()}
    errors = {}
    if d_L_d_input is not None:
        indices = _sample(x.shape, num_checks, seed)
        numeric = numerical_gradient(lambda x_: float(np.sum(layer.forward(x_) * upstream)), x, h, indices)
        errors["input"] = _compare(d_L_d_input, numeric, indices)
    for name, param in layer.params().items():
        indices = _sample(param.shape, num_checks, seed)
        errors[name] = _compare(analytic[name], numerical_gradient(loss, param, h, indices), indices)
    return errors


def check_input_gradient(layer, x: np.ndarray, upstream: np.ndarray | None = None,
                         h: float = 1e-4, seed: int = 0) -> float:
    """Relative error between ``layer.backward`` and a numerical ``dL/dx`` (``check_layer``'s ``"input"``)."""
    return check_layer(layer, x, upstream, h, seed)["input"]


def check_param_gradients(layer, x: np.ndarray, upstream: np.ndarray | None = None,
                          h: float = 1e-4, seed: int = 0) -> dict[str, float]:
    """Relative error of every parameter gradient of ``layer``, by name (``check_layer`` without ``"input"``)."""
    errors = check_layer(layer, x, upstream, h, seed)
    errors.pop("input", None)
    return errors


def check_model(model, images: np.ndarray, labels: np.ndarray, h: float = 1e-5,
                num_checks: int | None = None, seed: int = 0) -> dict[str, float]:
    """Relative error of every parameter gradient of ``model`` (either family), by name.

    The function checked is the model's mean cross-entropy on ``images``
    ``(n, 28, 28)`` with ``labels`` ``(n,)``, computed from ``predict_proba``;
    ``loss_and_grads`` must give its gradient. The default ``h = 1e-5`` is
    smaller than a layer check's because max-pooling's kinks are near (notebook 05).
    """
    labels = np.asarray(labels)

    def loss(_=None) -> float:
        probabilities = model.predict_proba(images)
        return float(-np.mean(np.log(probabilities[np.arange(len(labels)), labels])))

    model.loss_and_grads(images, labels)
    analytic = {name: np.array(value) for name, value in model.grads().items()}
    errors = {}
    for name, param in model.params().items():
        indices = _sample(param.shape, num_checks, seed)
        errors[name] = _compare(analytic[name], numerical_gradient(loss, param, h, indices), indices)
    return errors


def _sample(shape: tuple, num_checks: int | None, seed: int) -> list[tuple] | None:
    """``num_checks`` random element indices of an array of ``shape`` (``None``: every element)."""
    size = int(np.prod(shape))
    if num_checks is None or num_checks >= size:
        return None
    flat = np.random.default_rng(seed).choice(size, size=num_checks, replace=False)
    return [np.unravel_index(k, shape) for k in flat]


def _compare(analytic: np.ndarray, numeric: np.ndarray, indices: list[tuple] | None) -> float:
    if indices is None:
        return rel_error(analytic, numeric)
    analytic = np.asarray(analytic)
    return rel_error(np.array([analytic[k] for k in indices]), np.array([numeric[k] for k in indices]))


def _upstream(layer, x: np.ndarray, upstream: np.ndarray | None, seed: int) -> np.ndarray:
    if upstream is not None:
        return np.asarray(upstream, dtype=np.float64)
    out = layer.forward(x)
    return np.random.default_rng(seed).standard_normal(np.shape(out))
