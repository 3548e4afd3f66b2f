"""Optimisers: how a gradient becomes a change of the weights.

The layers and models only *compute* gradients (``backward``,
``loss_and_grads``); an optimiser *uses* them. Each optimiser here has
``step(params, grads, lr=None)``: two dicts with the same names (any model's
or layer's ``params()`` and ``grads()``, of either family), mapping each name
to an array. Every parameter array is changed **in place**, so the layers see
the new values. ``lr`` overrides the optimiser's own learning rate for this
step (a schedule's value); the optimiser itself is never changed by it.
Optimisers with memory (momentum, Adam) keep one array of state per name.
Notation: ``w`` a parameter, ``g`` its gradient ``dL/dw``, ``lr`` the learning rate.

Default learning rates are declared once, in ``DEFAULT_LR``: the tutorial's
0.005 for SGD and momentum, Kingma and Ba's 0.001 for Adam.
"""

from __future__ import annotations

import numpy as np

from ..require import require_choice, require_learning_rate, require_number

DEFAULT_LR = {"sgd": 0.005, "momentum": 0.005, "adam": 0.001}


class Optimizer:
    """Base class: checks that ``params`` and ``grads`` match, then updates each pair."""

    def __init__(self, lr: float):
        self.lr = require_learning_rate(lr, "lr")

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float | None = None) -> None:
        """Update every array of ``params`` in place with the gradient of the same name."""
        lr = self.lr if lr is None else require_learning_rate(lr, "lr")
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same names, but got {sorted(params)} and {sorted(grads)}.")
        for name, w in params.items():
            g = grads[name]
            if g.shape != w.shape:
                raise ValueError(f"gradient {name!r} has shape {g.shape}, but the parameter has shape {w.shape}.")
            self.update(name, w, g, lr)

    def update(self, name: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Plain stochastic gradient descent, the tutorial's rule::

        w  <-  w - lr * g
    """

    def __init__(self, lr: float = DEFAULT_LR["sgd"]):
        super().__init__(lr)

    def update(self, name: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        w -= lr * g

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr})"


class Momentum(Optimizer):
    """SGD with momentum (CS231n's ``sgd_momentum``): a velocity ``v`` (zero at first)
    remembers past steps, so steady directions speed up and zig-zags cancel::

        v  <-  momentum * v - lr * g
        w  <-  w + v
    """

    def __init__(self, lr: float = DEFAULT_LR["momentum"], momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = require_number("momentum", momentum, 0.0, 1.0, high_open=True)
        self.velocity: dict[str, np.ndarray] = {}

    def update(self, name: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        v = self.velocity.setdefault(name, np.zeros_like(w))
        v *= self.momentum
        v -= lr * g
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

    def __init__(self, lr: float = DEFAULT_LR["adam"], beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        super().__init__(lr)
        self.beta1 = require_number("beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = require_number("beta2", beta2, 0.0, 1.0, high_open=True)
        self.eps = require_number("eps", eps, 0.0, np.inf, low_open=True)  # 0 would divide 0 by 0
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float | None = None) -> None:
        self.t += 1
        super().step(params, grads, lr)

    def update(self, name: str, w: np.ndarray, g: np.ndarray, lr: float) -> None:
        m = self.m.setdefault(name, np.zeros_like(w))
        v = self.v.setdefault(name, np.zeros_like(w))
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        m_hat = m / (1 - self.beta1 ** self.t)
        v_hat = v / (1 - self.beta2 ** self.t)
        w -= (lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(w.dtype, copy=False)

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float | None = None) -> Optimizer:
    """``"sgd"``, ``"momentum"`` or ``"adam"`` with ``lr`` (``DEFAULT_LR[name]`` when ``None``)."""
    require_choice("optimizer", name, tuple(OPTIMIZERS))
    return OPTIMIZERS[name](DEFAULT_LR[name] if lr is None else lr)


class ExponentialDecay:
    """A learning-rate schedule: epoch ``e`` (from 0) trains with ``lr * decay**e``.

    ``decay=1`` keeps the rate constant. Big steps while far from a minimum,
    small ones to settle into it.
    """

    def __init__(self, decay: float = 1.0):
        self.decay = require_number("lr_decay", decay, 0.0, 1.0, low_open=True)

    def lr(self, base_lr: float, epoch: int) -> float:
        """The learning rate of epoch ``epoch`` (0 for the first)."""
        lr = base_lr
        for _ in range(epoch):  # repeated products, as a decay applied after every epoch gives
            lr *= self.decay
        return lr

    def __repr__(self) -> str:
        return f"ExponentialDecay({self.decay})"
