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

To check a layer, we turn its vector output into a scalar with a fixed random
"upstream gradient" G: ``L = sum(forward(x) * G)``. Then ``dL/d(out) = G``,
so ``backward(G)`` must return ``dL/dx``, and the parameter gradients the
layer stores must equal ``dL/d(parameter)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    ``x`` is nudged in place, one element at a time, and restored, so ``f``
    may read ``x`` through a layer's attribute (e.g. ``layer.filters``).
    Returns an array of the shape of ``x``.
    """
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
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


def check_input_gradient(layer, x: np.ndarray, upstream: np.ndarray | None = None,
                         h: float = 1e-4, seed: int = 0) -> float:
    """Relative error between ``layer.backward`` and a numerical ``dL/dx``.

    - ``layer``: any object with ``forward(input)`` and ``backward(d_L_d_out)``.
    - ``x``: the input (float64); it is not changed.
    - ``upstream``: the fixed ``G`` in ``L = sum(forward(x) * G)``; random
      standard normal of the output's shape when ``None``.
    """
    x = np.array(x, dtype=np.float64)
    upstream = _upstream(layer, x, upstream, seed)
    numeric = numerical_gradient(lambda x_: float(np.sum(layer.forward(x_) * upstream)), x, h)
    layer.forward(x)
    analytic = layer.backward(upstream)
    return rel_error(analytic, numeric)


def check_param_gradients(layer, x: np.ndarray, upstream: np.ndarray | None = None,
                          h: float = 1e-4, seed: int = 0) -> dict[str, float]:
    """Relative error of every parameter gradient of ``layer``, by name.

    Uses ``layer.params_and_grads()`` to find the parameters; each is nudged
    in place (and restored) while ``L = sum(forward(x) * G)`` is evaluated.
    """
    x = np.array(x, dtype=np.float64)
    upstream = _upstream(layer, x, upstream, seed)
    errors = {}
    for name, (param, _) in layer.params_and_grads().items():
        numeric = numerical_gradient(lambda _p: float(np.sum(layer.forward(x) * upstream)), param, h)
        layer.forward(x)
        layer.backward(upstream)
        analytic = layer.params_and_grads()[name][1]
        errors[name] = rel_error(analytic, numeric)
    return errors


def _upstream(layer, x: np.ndarray, upstream: np.ndarray | None, seed: int) -> np.ndarray:
    if upstream is not None:
        return np.asarray(upstream, dtype=np.float64)
    out = layer.forward(x)
    return np.random.default_rng(seed).standard_normal(out.shape)
