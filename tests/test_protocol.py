"""The one protocol of issue 9, checked the same way for every layer and every model of both families.

- Every layer class (the loop layers and every class in ``cnn_lib.fast.layers.LAYER_TYPES``)
  passes the same ``gradcheck.check_layer`` on a sample input, obeys ``params()``/``grads()``,
  ``backward`` changes no weight, ``backprop`` is ``backward`` plus one SGD step, and
  ``config()`` rebuilds it.
- Every kind of model (``model_zoo.MODEL_KINDS``) passes ``gradcheck.check_model`` and obeys
  the model protocol.
- ``gradcheck`` itself: it computes known gradients and it does catch wrong ones.
"""

from __future__ import annotations

import importlib
import json
import pkgutil

import numpy as np
import pytest

import cnn_lib
from cnn_lib.gradcheck import check_function, check_layer, check_model, numerical_gradient, rel_error
from cnn_lib.layer import Layer

try:
    from model_zoo import (ALL_LAYERS, LAYER_SAMPLES, MODEL_KINDS, float64_twin, has_ties_all, make_model, rng,
                           tie_free_pixels)
except ImportError:  # tests/ imported as a package
    from .model_zoo import (ALL_LAYERS, LAYER_SAMPLES, MODEL_KINDS, float64_twin, has_ties_all, make_model, rng,
                            tie_free_pixels)

# A layer's gradients against central differences (h = 1e-4) in float64, with upstream seed 1:
# right ones measure at most 4e-9 on these samples (worst: Conv's input gradient). Over upstream
# seeds 0-9 the worst is 5.5e-8: a right gradient element that happens to be tiny (1e-4, against
# 1e-2 for the others) has a large *relative* round-off error. A wrong gradient measures 1e-3 or more.
LAYER_TOLERANCE = 1e-7
LAYER_SEED = 1

# A whole model's parameter gradients against central differences with h = 1e-5 on two real
# digits (max-pooling's kinks are near, notebook 05), NUM_CHECKS random elements per array.
# Measured worst: 1.9e-8 (the float64 twin of tutorial_model-float32, its filters), 9.5e-9
# (TutorialCNN), 2.2e-9 (deep_model): the bound has a margin of 50x or more. A wrong gradient
# measures 1e-4 or more (test_check_model_catches_a_wrong_gradient), the tutorial's tie rule on
# real digits 0.9.
MODEL_TOLERANCE = 1e-6
MODEL_H = 1e-5
NUM_CHECKS = 8  # random elements checked per array (every element of smaller arrays)


# --- every layer class ----------------------------------------------------------------------------

def library_layer_classes() -> set[type]:
    """Every subclass of cnn_lib.layer.Layer defined in the library (all its modules imported)."""
    for module in pkgutil.walk_packages(cnn_lib.__path__, "cnn_lib."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, todo = set(), [Layer]
    while todo:
        for subclass in todo.pop().__subclasses__():
            todo.append(subclass)
            if subclass.__module__.startswith("cnn_lib."):
                found.add(subclass)
    return found


def test_the_walk_covers_every_layer_class_of_the_library():
    """A new layer class is walked automatically if it is a fast layer in LAYER_TYPES; any other
    (a new loop layer, or a fast layer missing from LAYER_TYPES, which checkpoints then cannot
    rebuild) fails here until it is added."""
    missing = {cls.__name__ for cls in library_layer_classes()} - set(ALL_LAYERS)
    assert not missing, f"layer classes not walked by the protocol tests: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(ALL_LAYERS))
def test_every_layer_passes_the_same_gradient_check(name):
    """check_layer on every sample: the input gradient and every parameter gradient, float64,
    tie-free input, relative error < 1e-7."""
    assert name in LAYER_SAMPLES, f"{name} has no sample input: add one to model_zoo.LAYER_SAMPLES"
    for description, make in LAYER_SAMPLES[name]:
        layer, x = make()
        assert type(layer) is ALL_LAYERS[name]
        errors = check_layer(layer, x, seed=LAYER_SEED)
        assert set(errors) == {"input", *layer.params()}, description
        assert max(errors.values()) < LAYER_TOLERANCE, (description, errors)


@pytest.mark.parametrize("name", sorted(ALL_LAYERS))
def test_every_layer_obeys_the_layer_protocol(name):
    for description, make in LAYER_SAMPLES[name]:
        layer, x = make()
        params, grads = layer.params(), layer.grads()
        assert params.keys() == grads.keys() == set(layer.param_names), description
        for key, value in params.items():
            assert value is getattr(layer, key)                 # the arrays themselves
            assert grads[key].shape == value.shape and grads[key].dtype == value.dtype

        before = {key: value.copy() for key, value in params.items()}
        out = layer.forward(x)
        upstream = rng(1).standard_normal(out.shape)
        d_input = layer.backward(upstream)
        assert d_input.shape == np.shape(x), description
        for key, value in layer.params().items():                # backward changes no weight
            np.testing.assert_array_equal(value, before[key])
        grads = {key: value.copy() for key, value in layer.grads().items()}

        # backprop = backward + one SGD step, returning the same input gradient
        layer.forward(x)
        np.testing.assert_array_equal(layer.backprop(upstream, 0.1), d_input)
        for key, value in layer.params().items():
            np.testing.assert_allclose(value, before[key] - 0.1 * grads[key], rtol=1e-14, atol=1e-15)

        # config() is JSON and rebuilds an equal layer
        config = layer.config()
        assert json.loads(json.dumps(config)) == config
        assert type(layer)(**config).config() == config
        assert repr(layer).startswith(f"{name}(")


def test_backprop_needs_a_learning_rate_only_where_there_are_weights():
    (conv, x), (pool, y) = LAYER_SAMPLES["Conv"][1][1](), LAYER_SAMPLES["MaxPool2x2"][0][1]()
    conv.forward(x)
    with pytest.raises(ValueError, match="learn_rate"):
        conv.backprop(np.ones(conv.forward(x).shape))
    out = pool.forward(y)
    pool.backprop(np.ones(out.shape))  # no weights: no learning rate needed


# --- every kind of model --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    """Two real digits and their labels (real digits have tied max-pool windows: the hard case)."""
    train_images, train_labels, _, _ = cnn_lib.load_subset()
    return train_images[:2], train_labels[:2].astype(np.int64)


def check_images(model, digits):
    """Real digits, except for the tutorial's tie rule: its gradient is wrong wherever a window
    holds tied maxima (see test_ties_all_fails_check_model_on_real_digits), so it is checked on
    tie-free pixels, where it is right."""
    if has_ties_all(model):
        return tie_free_pixels(2), digits[1]
    return digits


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_every_model_passes_check_model(kind, digits):
    """check_model (h = 1e-5, NUM_CHECKS elements per array) for every model kind.

    A float32 model cannot be checked by central differences (float32 rounding, ~1e-7 of a
    weight, is 1% of h = 1e-5), so its float64 twin (same layers and weights) is checked here,
    and test_float32_gradients_agree_with_the_float64_twin compares the two."""
    model = float64_twin(make_model(kind))
    images, labels = check_images(model, digits)
    errors = check_model(model, images, labels, h=MODEL_H, num_checks=NUM_CHECKS)
    assert set(errors) == set(model.params())
    assert max(errors.values()) < MODEL_TOLERANCE, errors


@pytest.mark.parametrize("kind", [kind for kind in sorted(MODEL_KINDS) if kind.endswith("float32")])
def test_float32_gradients_agree_with_the_float64_twin(kind, digits):
    model = make_model(kind)
    twin = float64_twin(model)
    loss32, probabilities32 = model.loss_and_grads(*digits)
    loss64, probabilities64 = twin.loss_and_grads(*digits)
    assert probabilities32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(probabilities32, probabilities64, rtol=1e-4, atol=1e-6)
    for name, gradient in model.grads().items():
        assert gradient.dtype == np.float32, name
        expected = twin.grads()[name]
        np.testing.assert_allclose(gradient, expected, rtol=1e-3, atol=1e-5 * np.max(np.abs(expected)))


def test_ties_all_fails_check_model_on_real_digits(digits):
    """Why the tutorial's rule is checked on tie-free pixels: on real digits, whose background fills
    whole windows with one value, copying a window's gradient to all four tied pixels overcounts
    the filters' gradient, and check_model sees it."""
    errors = check_model(make_model("tutorial_model-ties-all"), *digits, h=MODEL_H, num_checks=NUM_CHECKS)
    assert errors["0.filters"] > 0.1                   # measured 0.9
    assert max(errors["2.weights"], errors["2.biases"]) < MODEL_TOLERANCE  # the dense layer is not affected


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_every_model_obeys_the_model_protocol(kind, digits):
    model = make_model(kind)
    images, labels = digits
    params = model.params()
    assert list(params) == [f"{layer_name}.{name}" for layer_name, layer in model.named_layers().items()
                            for name in layer.param_names]
    assert model.num_params() == sum(value.size for value in params.values())
    before = {name: value.copy() for name, value in params.items()}

    loss, probabilities = model.loss_and_grads(images, labels)
    grads = model.grads()
    assert grads.keys() == params.keys()
    for name, value in params.items():
        np.testing.assert_array_equal(value, before[name])       # loss_and_grads changes no weight
        assert grads[name].shape == value.shape and grads[name].dtype == value.dtype
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    picked = probabilities[np.arange(2), labels].astype(np.float64)
    assert loss == pytest.approx(-np.mean(np.log(picked)), rel=1e-5)
    np.testing.assert_allclose(model.predict_proba(images), probabilities, rtol=1e-5, atol=1e-7)

    config = model.config()
    assert json.loads(json.dumps(config)) == config


# --- the gradient checker itself ------------------------------------------------------------------

def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])  # restored after nudging
    assert rel_error(np.array([1.0]), np.array([1.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_check_function_and_sparse_checks():
    x = rng(0).standard_normal((4, 5))
    upstream = rng(1).standard_normal((4, 5))
    assert check_function(np.tanh, x, upstream, upstream * (1 - np.tanh(x) ** 2)) < LAYER_TOLERANCE
    wrong = upstream * (1 - np.tanh(x) ** 2)
    wrong[2, 3] *= 1.1
    assert check_function(np.tanh, x, upstream, wrong) > 1e-2
    # a sparse check looks only at num_checks random elements
    sparse = [check_function(np.tanh, x, upstream, wrong, num_checks=3, seed=seed) for seed in range(20)]
    assert min(sparse) < LAYER_TOLERANCE < max(sparse)


@pytest.mark.parametrize("family", ["loop", "fast"])
def test_check_layer_catches_wrong_gradients(family):
    """The check can fail: a sign error in the input gradient, and a 1% error in the filters' gradient."""
    base = ALL_LAYERS["Conv3x3" if family == "loop" else "Conv"]

    class WrongConv(base):
        def backward(self, d_L_d_out):
            d_L_d_input = super().backward(d_L_d_out)
            self.d_L_d_filters = self.d_L_d_filters * 1.01
            return -d_L_d_input

    if family == "loop":
        layer, x = WrongConv(2, rng(0)), rng(1).standard_normal((5, 5))
    else:
        layer, x = WrongConv(1, 2, 3, rng(0), bias=False), rng(1).standard_normal((1, 5, 5, 1))
    errors = check_layer(layer, x)
    assert errors["input"] == pytest.approx(1.0)       # -a against a: |2a| / |2a|
    assert 1e-3 < errors["filters"] < 1e-2             # 0.01 a against a: 0.01 / 2.01


def test_check_model_catches_a_wrong_gradient(digits):
    model = make_model("tutorial_model-float64")
    original = model.loss_and_grads

    def off_by_a_bit(images, labels):
        result = original(images, labels)
        model.layers[2].d_L_d_biases = model.layers[2].d_L_d_biases * 1.001
        return result

    model.loss_and_grads = off_by_a_bit
    errors = check_model(model, *digits, h=MODEL_H, num_checks=NUM_CHECKS)
    assert errors["2.biases"] > 1e-4 > max(errors["0.filters"], errors["2.weights"])
