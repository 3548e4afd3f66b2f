"""Issue 10: the fast path is as strict and as clear as the loop layers about bad input.

One matrix: every kind of bad array into every fast layer, bad images into fit/evaluate/
predict_proba, bad batch sizes, and bad learning rates into the loop network's train and backprop.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnn_lib import Conv3x3, MaxPool2, Softmax, TutorialCNN, evaluate
from cnn_lib.fast import Conv, ConvPool, Dense, Flatten, MaxPool2x2, ReLU, fit, softmax_cross_entropy, tutorial_model

FAST_LAYERS = {
    "Conv": (lambda: Conv(1, 2), (2, 4, 4, 1)),
    "MaxPool2x2": (lambda: MaxPool2x2(), (2, 4, 4, 1)),
    "ConvPool": (lambda: ConvPool(1, 2), (2, 4, 4, 1)),
    "ReLU": (lambda: ReLU(), (2, 4, 4, 1)),
    "Flatten": (lambda: Flatten(), (2, 4, 4, 1)),
    "Dense": (lambda: Dense(16, 3), (2, 16)),
}

BAD_ARRAYS = {
    "NaN": (lambda shape: np.full(shape, np.nan), r"NaN or infinite"),
    "infinity": (lambda shape: np.full(shape, np.inf), r"NaN or infinite"),
    "complex": (lambda shape: np.zeros(shape, dtype=complex), r"real-valued numeric array .*complex"),
    "bool": (lambda shape: np.zeros(shape, dtype=bool), r"real-valued numeric array .*bool"),
    "object": (lambda shape: np.full(shape, None, dtype=object), r"real-valued numeric array .*object"),
    "empty batch": (lambda shape: np.zeros((0, *shape[1:])), r"must not be empty"),
}


@pytest.mark.parametrize("bad", sorted(BAD_ARRAYS))
@pytest.mark.parametrize("layer_name", sorted(FAST_LAYERS))
def test_every_fast_layer_refuses_every_kind_of_bad_array(layer_name, bad):
    make_layer, shape = FAST_LAYERS[layer_name]
    make_array, message = BAD_ARRAYS[bad]
    with pytest.raises(ValueError, match=message):
        make_layer().forward(make_array(shape))


@pytest.mark.parametrize("bad", sorted(set(BAD_ARRAYS) - {"empty batch"}))
def test_fast_backward_refuses_a_bad_gradient(bad):
    layer = Dense(16, 3)
    layer.forward(np.zeros((2, 16)))
    make_array, message = BAD_ARRAYS[bad]
    with pytest.raises(ValueError, match=message):
        layer.backward(make_array((2, 3)))


def test_softmax_cross_entropy_refuses_bad_scores_and_labels():
    with pytest.raises(ValueError, match="NaN or infinite"):
        softmax_cross_entropy(np.full((2, 10), np.nan), np.array([1, 2]))
    with pytest.raises(ValueError, match=r"labels must be 2 integer class indices 0-9"):
        softmax_cross_entropy(np.zeros((2, 10)), np.array([1, 10]))


BAD_IMAGES = [
    (np.full((4, 28, 28), 300.0), r"pixel values 0..255 .*from 300 to 300"),
    (np.full((4, 28, 28), -1.0), r"pixel values 0..255"),
    (np.full((4, 28, 28), np.nan), r"NaN or infinite"),
    (np.zeros((4, 28, 28), dtype=complex), r"numeric pixel values .*complex"),
    (np.zeros((4, 28, 28), dtype=bool), r"numeric pixel values .*bool"),
    (np.zeros((0, 28, 28)), r"at least one image"),
    (np.zeros((4, 28, 27)), r"shape \(n, 28, 28\)"),
]


@pytest.mark.parametrize("images, message", BAD_IMAGES)
@pytest.mark.parametrize("use", ["fit", "evaluate", "predict_proba", "loop evaluate"])
def test_bad_images_are_refused_by_training_and_evaluation(use, images, message):
    labels = np.zeros(len(images), dtype=int)
    model = tutorial_model(np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        if use == "fit":
            fit(model, images, labels, log=None)
        elif use == "evaluate":
            evaluate(model, images, labels)
        elif use == "predict_proba":
            model.predict_proba(images)
        else:
            evaluate(TutorialCNN(np.random.default_rng(0)), images, labels)


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, True])
def test_evaluation_batch_size_must_be_a_positive_integer(batch_size):
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, but got {batch_size!r}"):
        tutorial_model(np.random.default_rng(0)).predict_proba(np.zeros((3, 28, 28)), batch_size=batch_size)


@pytest.mark.parametrize("lr", [np.nan, np.inf, -0.1, 0.0, "0.1", None])
def test_the_loop_network_refuses_a_bad_learning_rate(lr):
    net, image = TutorialCNN(np.random.default_rng(0)), np.zeros((28, 28))
    with pytest.raises(ValueError, match="learn_rate must be a"):
        net.train(image, 3, lr)
    for layer, x in ((Conv3x3(2), np.zeros((4, 4))), (Softmax(4, 3), np.zeros(4))):
        out = layer.forward(x)
        with pytest.raises(ValueError, match="learn_rate must be a"):
            layer.backprop(np.ones_like(out), lr)
    pool = MaxPool2()
    pool.forward(np.zeros((2, 2, 1)))
    pool.backprop(np.ones((1, 1, 1)), lr)  # nothing to learn: the rate is not used
