"""The networks trained on full MNIST that ship with the package, and their recipes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnn_lib import pretrained
from cnn_lib.data import load_full
from cnn_lib.models import evaluate

# The bars: the tutorial's network >= 97.5%, the deeper one >= 99.0% on the 10,000 test images.
REQUIRED_ACCURACY = {"tutorial": 0.975, "deep": 0.990}


@pytest.fixture(scope="module")
def full_mnist(shared_mnist_dir):
    return load_full(mnist_dir=shared_mnist_dir)


@pytest.mark.parametrize("name", sorted(pretrained.RECIPES))
def test_shipped_networks_load_with_their_records(name):
    model, record = pretrained.load_pretrained(name)
    assert model.name == pretrained.RECIPES[name].model
    assert record["recipe"]["model"] == name
    assert record["command"] == pretrained.RECIPES[name].command()
    assert len(record["epoch_loss"]) == pretrained.RECIPES[name].num_epochs
    assert record["test_accuracy"] >= REQUIRED_ACCURACY[name]


@pytest.mark.parametrize("name", sorted(pretrained.RECIPES))
def test_shipped_networks_reach_the_required_test_accuracy(name, full_mnist):
    _, _, test_images, test_labels = full_mnist
    model, record = pretrained.load_pretrained(name)
    accuracy = evaluate(model, test_images, test_labels).accuracy
    assert accuracy == record["test_accuracy"]
    assert accuracy >= REQUIRED_ACCURACY[name]


@pytest.mark.parametrize("name", sorted(pretrained.RECIPES))
def test_retraining_the_recipe_reproduces_the_shipped_network(name, full_mnist, tmp_path):
    """About 30 s (tutorial) and 90 s (deep) on two cores: the recipe really made the shipped weights."""
    train_images, train_labels, test_images, test_labels = full_mnist
    model, history = pretrained.train_recipe(name, train_images, train_labels)
    shipped, record = pretrained.load_pretrained(name)
    np.testing.assert_allclose(history.epoch_loss, record["epoch_loss"], rtol=1e-4)
    accuracy = evaluate(model, test_images, test_labels).accuracy
    assert accuracy == pytest.approx(record["test_accuracy"], abs=0.002)
    difference = max(float(np.max(np.abs(model.params()[key] - value))) for key, value in shipped.params().items())
    # Bit-identical on the machine that trained it; another CPU's BLAS may round differently.
    assert difference < 1e-3, f"retrained weights differ from the shipped ones by up to {difference}"


def test_unknown_recipe_gets_a_clear_error():
    with pytest.raises(ValueError, match="no pretrained network called 'lenet'"):
        pretrained.checkpoint_path("lenet")
