"""cnn_lib: a small convolutional network, written in NumPy to be read.

The top level is the tutorial, Victor Zhou's "CNNs, Part 2: Training a CNN":

- the readable loop layers ``Conv3x3(num_filters)`` (``(h, w) -> (h-2, w-2,
  num_filters)``), ``MaxPool2()`` (``(h, w, c) -> (h/2, w/2, c)``) and
  ``Softmax(input_len, nodes)`` (dense layer + softmax), each with
  ``forward(input)``, ``backward(d_L_d_out)`` (gradients only),
  ``params()``/``grads()`` and the tutorial's ``backprop(d_L_d_out, learn_rate)``;
- ``TutorialCNN``, its ``train_tutorial`` run, and ``evaluate`` for any model;
- gradient checking (``cnn_lib.gradcheck``), the data (``load_subset``,
  ``load_full``, ``load_mnist``; ``cnn_lib.digits`` defines what a digit is),
  and checkpoints for any model (``save_checkpoint``, ``load_checkpoint``).

Elsewhere: the fast batched family, its models, optimisers and mini-batch
training in ``cnn_lib.fast`` (notebooks 07-08); the exercise checks in
``cnn_lib.checks``; the plots in ``cnn_lib.plotting`` and the network diagram of
notebook 00 in ``cnn_lib.diagram``; the command line in
``cnn_lib.cli``; the shipped full-MNIST networks in ``cnn_lib.pretrained``.
The protocols every layer and model obey are in ``cnn_lib.layer`` and ``cnn_lib.model``.
"""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .conv import Conv3x3
from .data import MNISTDataError, load_full, load_mnist, load_subset
from .digits import IMAGE_SHAPE, NUM_CLASSES, preprocess, preprocess_batch
from .evaluation import Evaluation, evaluate
from .maxpool import MaxPool2
from .model import TrainingDiverged
from .network import TutorialCNN, cross_entropy
from .softmax import Softmax
from .training import History, train_tutorial

__all__ = [
    "CheckpointError",
    "Conv3x3",
    "Evaluation",
    "History",
    "IMAGE_SHAPE",
    "MNISTDataError",
    "MaxPool2",
    "NUM_CLASSES",
    "Softmax",
    "TrainingDiverged",
    "TutorialCNN",
    "cross_entropy",
    "evaluate",
    "load_checkpoint",
    "load_full",
    "load_mnist",
    "load_subset",
    "preprocess",
    "preprocess_batch",
    "save_checkpoint",
    "train_tutorial",
]
