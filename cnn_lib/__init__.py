"""cnn_lib: the layers of a small convolutional network, written in NumPy to be read.

The readable layers follow Victor Zhou's "CNNs, Part 2: Training a CNN":

- ``Conv3x3(num_filters)``: 3x3 convolution, ``(h, w) -> (h-2, w-2, num_filters)``
- ``MaxPool2()``: 2x2 max-pooling, ``(h, w, c) -> (h/2, w/2, c)``
- ``Softmax(input_len, nodes)``: dense layer + softmax, ``input_len -> nodes``

Each has ``forward(input)``, ``backward(d_L_d_out)`` (gradients only) and
``backprop(d_L_d_out, learn_rate)`` (gradients plus one SGD step).

Beside them, fast batched layers for ``(n, h, w, c)`` batches (``cnn_lib.fast_layers``:
``Conv``, ``MaxPool2x2``, ``ReLU``, ``Flatten``, ``Dense``, ``SoftmaxCrossEntropy``),
optimisers (``cnn_lib.optim``: ``SGD``, ``Momentum``, ``Adam``) and models with a
mini-batch training loop (``cnn_lib.models``: ``Sequential``, ``tutorial_model``,
``deep_model``, ``fit``, ``evaluate``).
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .conv import Conv3x3
from .data import MNISTDataError, load_full, load_mnist, load_subset
from .fast_layers import Conv, Dense, Flatten, MaxPool2x2, ReLU, SoftmaxCrossEntropy
from .maxpool import MaxPool2
from .models import Sequential, deep_model, fit, preprocess_batch, tutorial_model
from .models import evaluate as evaluate_batch  # batched; `evaluate` is the one-image loop version
from .network import TutorialCNN, cross_entropy, preprocess
from .optim import SGD, Adam, Momentum
from .softmax import Softmax
from .training import Evaluation, History, evaluate, train_tutorial

__all__ = [
    "Adam",
    "CheckpointError",
    "Conv",
    "Conv3x3",
    "Dense",
    "Flatten",
    "MaxPool2x2",
    "Momentum",
    "ReLU",
    "SGD",
    "Sequential",
    "SoftmaxCrossEntropy",
    "deep_model",
    "fit",
    "preprocess_batch",
    "tutorial_model",
    "Evaluation",
    "MNISTDataError",
    "History",
    "MaxPool2",
    "Softmax",
    "TutorialCNN",
    "cross_entropy",
    "evaluate",
    "evaluate_batch",
    "load_full",
    "load_mnist",
    "load_subset",
    "load_checkpoint",
    "preprocess",
    "save_checkpoint",
    "train_tutorial",
]
