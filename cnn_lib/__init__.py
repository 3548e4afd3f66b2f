"""cnn_lib: the layers of a small convolutional network, written in NumPy to be read.

The readable layers follow Victor Zhou's "CNNs, Part 2: Training a CNN":

- ``Conv3x3(num_filters)``: 3x3 convolution, ``(h, w) -> (h-2, w-2, num_filters)``
- ``MaxPool2()``: 2x2 max-pooling, ``(h, w, c) -> (h/2, w/2, c)``
- ``Softmax(input_len, nodes)``: dense layer + softmax, ``input_len -> nodes``

Each has ``forward(input)``, ``backward(d_L_d_out)`` (gradients only) and
``backprop(d_L_d_out, learn_rate)`` (gradients plus one SGD step).
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .conv import Conv3x3
from .data import MNISTDataError, load_full, load_mnist, load_subset
from .maxpool import MaxPool2
from .network import TutorialCNN, cross_entropy, preprocess
from .softmax import Softmax
from .training import Evaluation, History, evaluate, train_tutorial

__all__ = [
    "CheckpointError",
    "Conv3x3",
    "Evaluation",
    "MNISTDataError",
    "History",
    "MaxPool2",
    "Softmax",
    "TutorialCNN",
    "cross_entropy",
    "evaluate",
    "load_full",
    "load_mnist",
    "load_subset",
    "load_checkpoint",
    "preprocess",
    "save_checkpoint",
    "train_tutorial",
]
