"""The fast family: batched layers, models, optimisers and mini-batch training.

The same maths as the tutorial's loop layers, for ``(n, h, w, c)`` batches in
a handful of NumPy calls (notebooks 07 and 08). Everything here obeys the
protocols of ``cnn_lib.layer`` and ``cnn_lib.model``.

- ``layers``: ``Conv``, ``MaxPool2x2``, ``ConvPool`` (both in one, faster), ``ReLU``, ``Flatten``, ``Dense``
- ``loss``: ``softmax_cross_entropy``
- ``models``: ``Sequential``, ``tutorial_model``, ``deep_model``
- ``optim``: ``SGD``, ``Momentum``, ``Adam``, ``ExponentialDecay`` (they serve ``TutorialCNN`` too)
- ``training``: ``fit``, ``train_on_batch``
- ``recipe``: ``Recipe``, ``run_recipe``
- ``threads``: ``use_blas_threads`` (BLAS threads per worker; default 1), ``use_workers`` (two halves of a batch at once; default 2)
"""

from .layers import Conv, ConvPool, Dense, Flatten, MaxPool2x2, ReLU
from .loss import softmax_cross_entropy
from .models import Sequential, deep_model, tutorial_model
from .optim import SGD, Adam, ExponentialDecay, Momentum, make_optimizer
from .recipe import Recipe, run_recipe
from .threads import blas_threads, use_blas_threads, use_workers, workers
from .training import FitHistory, fit, train_on_batch

__all__ = [
    "Adam", "Conv", "ConvPool", "Dense", "ExponentialDecay", "FitHistory", "Flatten", "MaxPool2x2", "Momentum", "ReLU",
    "Recipe", "SGD", "Sequential", "deep_model", "fit", "make_optimizer", "run_recipe",
    "blas_threads", "softmax_cross_entropy", "train_on_batch", "tutorial_model", "use_blas_threads", "use_workers", "workers",
]
