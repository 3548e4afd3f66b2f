"""Optimisers: how a gradient becomes a change of the weights.

The layers only *compute* gradients (``backward``); an optimiser *uses*
them. Each optimiser here has ``step(params, grads)``: two dicts with the
same names (``model.params()`` and ``model.grads()``), mapping each name to
an array. Every parameter array is changed **in place**, so the layers see
the new values. Optimisers with memory (momentum, Adam) keep one array of
state per name. Notation: ``w`` a parameter, ``g`` its gradient ``dL/dw``,
``lr`` the learning rate.
"""

from __future__ import annotations

import numpy as np


def _check_rate(name: str, value: float, low: float = 0.0, high: float = np.inf, high_open: bool = False) -> float:
    value = float(value)
    if not np.isfinite(value) or value < low or value > high or (high_open and value == high) or (name == "lr" and value <= 0):
        raise ValueError(f"{name} must be a number in the allowed range, but got {value!r}.")
    return value


class Optimizer:
    """Base class: checks that ``params`` and ``grads`` match, then updates each pair."""

    def __init__(self, lr: float):
        self.lr = _check_rate("lr", lr)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place with the gradient of the same name."""
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same names, but got {sorted(params)} and {sorted(grads)}.")
        for name, w in params.items():
            g = grads[name]
            if g.shape != w.shape:
                raise ValueError(f"gradient {name!r} has shape {g.shape}, but the parameter has shape {w.shape}.")
            self.update(name, w, g)

    def update(self, name: str, w: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain stochastic gradient descent, the tutorial's rule::

        w  <-  w - lr * g
    """

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def update(self, name: str, w: np.ndarray, g: np.ndarray) -> None:
        w -= self.lr * g

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr})"


class Momentum(Optimizer):
    """SGD with momentum (CS231n's ``sgd_momentum``): a velocity ``v`` (zero at first)
    remembers past steps, so steady directions speed up and zig-zags cancel::

        v  <-  momentum * v - lr * g
        w  <-  w + v
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = _check_rate("momentum", momentum, 0.0, 1.0, high_open=True)
        self.velocity: dict[str, np.ndarray] = {}

    def update(self, name: str, w: np.ndarray, g: np.ndarray) -> None:
        v = self.velocity.setdefault(name, np.zeros_like(w))
        v *= self.momentum
        v -= self.lr * g
        w += v

    def __repr__(self) -> str:
        return f"Momentum(lr={self.lr}, momentum={self.momentum})"


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): momentum on the gradient *and* a per-weight step size.

    With step count ``t`` (1 for the first step) and ``m``, ``v`` starting at zero::

        m  <-  beta1 * m + (1 - beta1) * g          running mean of g
        v  <-  beta2 * v + (1 - beta2) * g**2       running mean of g squared
        m_hat = m / (1 - beta1**t)                  undo the pull towards the zero start
        v_hat = v / (1 - beta2**t)
        w  <-  w - lr * m_hat / (sqrt(v_hat) + eps)

    ``t`` counts calls of ``step`` (one per batch), shared by all parameters.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1 = _check_rate("beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = _check_rate("beta2", beta2, 0.0, 1.0, high_open=True)
        self.eps = _check_rate("eps", eps)
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        super().step(params, grads)

    def update(self, name: str, w: np.ndarray, g: np.ndarray) -> None:
        m = self.m.setdefault(name, np.zeros_like(w))
        v = self.v.setdefault(name, np.zeros_like(w))
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        m_hat = m / (1 - self.beta1 ** self.t)
        v_hat = v / (1 - self.beta2 ** self.t)
        w -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(w.dtype, copy=False)

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.02, "adam": 0.001}


def make_optimizer(name: str, lr: float | None = None) -> Optimizer:
    """``"sgd"``, ``"momentum"`` or ``"adam"`` with ``lr`` (a sensible default for batches when ``None``)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, but got {name!r}.")
    return OPTIMIZERS[name](DEFAULT_LR[name] if lr is None else lr)
