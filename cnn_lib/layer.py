"""The one protocol that every layer of both families obeys.

A layer (the readable loop layers ``Conv3x3``, ``MaxPool2``, ``Softmax``, and
the fast batched layers in ``cnn_lib.fast``) has:

- ``forward(input)``: the output; it remembers in ``last_*`` attributes what
  ``backward`` will need (the tutorial's ``last_input``).
- ``backward(d_L_d_out)``: given dL/d(output), returns dL/d(input) and stores
  the gradient of each parameter ``p`` as ``self.d_L_d_<p>``. It changes no
  weight, so every gradient can be checked on its own.
- ``params()`` and ``grads()``: two dicts with the same names, the learned
  arrays themselves and their gradients. Optimisers, gradient checks and
  checkpoints need nothing else.
- ``backprop(d_L_d_out, learn_rate)``: the tutorial's shortcut, ``backward``
  followed by one step of stochastic gradient descent.
- ``config()``: the arguments that rebuild the layer (saved in checkpoints).
"""

from __future__ import annotations

import inspect

import numpy as np

from .require import require_learning_rate


class Layer:
    """Base class: ``params``, ``grads`` and ``backprop`` from the names in ``param_names``."""

    #: Names of the learned arrays, e.g. ``("weights", "biases")``: attribute ``p`` holds
    #: the array and attribute ``d_L_d_<p>`` its gradient.
    param_names: tuple[str, ...] = ()

    def forward(self, input: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, d_L_d_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict[str, np.ndarray]:
        """The learned arrays by name (the arrays themselves, so an update changes the layer)."""
        return {name: getattr(self, name) for name in self.param_names}

    def grads(self) -> dict[str, np.ndarray]:
        """The gradients of the last ``backward``, with the names of ``params()``."""
        return {name: getattr(self, "d_L_d_" + name) for name in self.param_names}

    def backprop(self, d_L_d_out: np.ndarray, learn_rate: float | None = None) -> np.ndarray:
        """``backward``, then one SGD step on every parameter; returns ``d_L_d_input``.

        A layer without parameters (max-pooling) ignores ``learn_rate``.
        """
        if self.param_names:
            learn_rate = require_learning_rate(learn_rate, "learn_rate")
        d_L_d_input = self.backward(d_L_d_out)
        grads = self.grads()
        for name, param in self.params().items():
            param -= learn_rate * grads[name]    # w <- w - learning rate * dL/dw
        return d_L_d_input

    def config(self) -> dict:
        """The constructor arguments that rebuild this layer (its weights aside)."""
        return {}

    @classmethod
    def from_config(cls, config: dict, rng: np.random.Generator | None = None) -> "Layer":
        """A new layer with the settings of ``config()`` (weights freshly drawn from ``rng``)."""
        takes_rng = "rng" in inspect.signature(cls).parameters
        return cls(**config, **({"rng": rng} if takes_rng else {}))

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"
