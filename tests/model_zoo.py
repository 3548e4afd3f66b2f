"""Every kind of model the library can build, and every layer class with a sample input.

The protocol tests (test_protocol.py) and the checkpoint tests (test_checkpoint.py)
walk these lists, so a property checked "for every model" or "for every layer"
really covers both families. Not a test module itself.
"""

from __future__ import annotations

import numpy as np

from cnn_lib import Conv3x3, MaxPool2, Softmax, TutorialCNN
from cnn_lib.fast import Conv, ConvPool, Dense, Flatten, MaxPool2x2, ReLU, Sequential, deep_model, tutorial_model
from cnn_lib.fast.layers import LAYER_TYPES


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- models ------------------------------------------------------------------------------------

def custom_sequential(generator: np.random.Generator, dtype=np.float64) -> Sequential:
    """A Sequential that is neither tutorial_model nor deep_model: Conv, ReLU and MaxPool2x2 as
    separate layers, then a ConvPool with an even (4x4) kernel on an odd (13x13) input, biases
    and an input gradient, ReLU between the dense layers."""
    return Sequential([
        Conv(1, 4, 3, generator, dtype, init="he", compute_input_grad=False),  # -> (n, 26, 26, 4)
        ReLU(dtype),
        MaxPool2x2(dtype=dtype),                                                # -> (n, 13, 13, 4)
        ConvPool(4, 6, 4, generator, dtype, init="he"),                         # -> (n, 10, 10, 6) -> (n, 5, 5, 6)
        Flatten(dtype),
        Dense(150, 16, generator, dtype, init="he"),
        ReLU(dtype),
        Dense(16, 10, generator, dtype, init="he"),
    ], name="custom", dtype=dtype)


#: Every kind of model: both families, both tie rules, another size, both dtypes.
MODEL_KINDS = {
    "TutorialCNN": lambda generator: TutorialCNN(generator),
    "TutorialCNN-ties-all": lambda generator: TutorialCNN(generator, ties="all"),
    "TutorialCNN-4-filters": lambda generator: TutorialCNN(generator, num_filters=4),
    "tutorial_model-float32": lambda generator: tutorial_model(generator, np.float32),
    "tutorial_model-float64": lambda generator: tutorial_model(generator, np.float64),
    "tutorial_model-ties-all": lambda generator: tutorial_model(generator, np.float64, ties="all"),
    "deep_model-float32": lambda generator: deep_model(generator, np.float32),
    "deep_model-float64": lambda generator: deep_model(generator, np.float64),
    "custom-Sequential": lambda generator: custom_sequential(generator),
}


def make_model(kind: str, seed: int = 0):
    return MODEL_KINDS[kind](rng(seed))


def perturb(model, seed: int = 1, scale: float = 0.01):
    """Nudge every weight (biases included) by random amounts, so no array is its initial value."""
    generator = rng(seed)
    for value in model.params().values():
        value += (scale * generator.standard_normal(value.shape)).astype(value.dtype)
    return model


def float64_twin(model):
    """The same network and weights computing in float64 (the model itself if it already does)."""
    if isinstance(model, TutorialCNN) or model.dtype == np.float64:
        return model
    config = model.config()
    config = {**config, "dtype": "float64",
              "layers": [{**layer, **({"dtype": "float64"} if "dtype" in layer else {})} for layer in config["layers"]]}
    twin = Sequential.from_config(config)
    for name, value in twin.params().items():
        value[...] = model.params()[name]
    return twin


def has_ties_all(model) -> bool:
    """Does the model route max-pool gradients by the tutorial's rule (every tied maximum)?"""
    return any(getattr(layer, "ties", None) == "all" for layer in model.named_layers().values())


def tie_free_pixels(n: int, seed: int = 0) -> np.ndarray:
    """``n`` images of continuous random pixel values in [0, 255]: no two pixels equal, so no
    max-pool window holds tied values (real digits do: their flat background)."""
    return rng(seed).uniform(0, 255, (n, 28, 28))


# --- layers ------------------------------------------------------------------------------------

#: The readable loop layers; with the fast family's LAYER_TYPES, every layer class of the library.
LOOP_LAYERS = (Conv3x3, MaxPool2, Softmax)
ALL_LAYERS = {cls.__name__: cls for cls in (*LOOP_LAYERS, *LAYER_TYPES.values())}


def tie_free(shape: tuple, seed: int) -> np.ndarray:
    """Distinct values in (-1, 1), ``2 / size`` apart, none closer than ``1 / size`` to zero, in
    random order.

    For the sizes used here (at most a few hundred values) no 2x2 window holds two values
    closer than about 0.01 and no value is within 0.005 of ReLU's kink, so a central difference
    with ``h = 1e-4`` never crosses a kink of max or ReLU.
    """
    size = int(np.prod(shape))
    values = (np.arange(size) - size // 2 + 0.5) * (2 / (size + 1))
    return rng(seed).permutation(values).reshape(shape)


def with_random_biases(layer, seed: int):
    """Non-zero biases (they start at zero), so the gradient check exercises them."""
    if "biases" in layer.params():
        layer.biases[...] = rng(seed).standard_normal(layer.biases.shape)
    return layer


#: For every layer class: (description, factory returning (layer, input)) samples, float64,
#: with tie-free inputs. A layer class missing here fails test_protocol's walk.
LAYER_SAMPLES = {
    "Conv3x3": [
        ("4 filters", lambda: (Conv3x3(4, rng(1)), tie_free((9, 8), 2))),
        ("1 filter, 3x3 input", lambda: (Conv3x3(1, rng(3)), tie_free((3, 3), 4))),
    ],
    "MaxPool2": [
        ("ties=first", lambda: (MaxPool2(), tie_free((6, 8, 3), 5))),
        ("ties=all", lambda: (MaxPool2(ties="all"), tie_free((6, 8, 3), 6))),
    ],
    "Softmax": [
        ("(3, 3, 2) input, biases", lambda: (with_random_biases(Softmax(18, 10, rng(7)), 8), tie_free((3, 3, 2), 9))),
    ],
    "Conv": [
        ("1 channel, no bias (the tutorial's)",
         lambda: (Conv(1, 3, 3, rng(10), bias=False), tie_free((2, 6, 5, 1), 11))),
        ("3 channels, bias", lambda: (with_random_biases(Conv(3, 2, 3, rng(12), init="he"), 13),
                                      tie_free((2, 6, 5, 3), 14))),
        ("2 channels, 5x5, bias", lambda: (with_random_biases(Conv(2, 4, 5, rng(15), init="he"), 16),
                                           tie_free((2, 8, 7, 2), 17))),
        ("1x1 kernel", lambda: (with_random_biases(Conv(2, 2, 1, rng(18)), 19), tie_free((2, 3, 4, 2), 20))),
    ],
    "MaxPool2x2": [
        ("ties=first", lambda: (MaxPool2x2(), tie_free((2, 4, 6, 3), 21))),
        ("ties=all", lambda: (MaxPool2x2(ties="all"), tie_free((2, 4, 6, 3), 22))),
    ],
    "ConvPool": [
        ("1 channel, no bias (the tutorial's)",
         lambda: (ConvPool(1, 3, 3, rng(30), bias=False), tie_free((2, 8, 6, 1), 31))),
        ("3 channels, 5x5, bias, ReLU", lambda: (with_random_biases(ConvPool(3, 2, 5, rng(32), init="he", relu=True), 47),
                                                 tie_free((2, 10, 8, 3), 48))),
        ("2 channels, 4x4 kernel on an odd input, ties=all",
         lambda: (with_random_biases(ConvPool(2, 2, 4, rng(35), ties="all"), 36), tie_free((2, 7, 9, 2), 37))),
    ],
    "ReLU": [
        ("4-d batch", lambda: (ReLU(), tie_free((2, 4, 6, 3), 23))),
        ("2-d batch", lambda: (ReLU(), tie_free((3, 7), 24))),
    ],
    "Flatten": [
        ("4-d batch", lambda: (Flatten(), tie_free((2, 3, 4, 2), 25))),
    ],
    "Dense": [
        ("biases", lambda: (with_random_biases(Dense(7, 5, rng(26), init="he"), 27), tie_free((3, 7), 28))),
    ],
}
