"""Networks built from the fast layers.

- ``Sequential(layers)``: runs layers one after the other (``forward``),
  backwards through them (``backward``), with softmax cross-entropy at the
  end; it obeys the model protocol (``cnn_lib.model``) that ``TutorialCNN``
  shares, so ``evaluate``, the optimisers, gradient checks and checkpoints
  serve both. Parameter names are ``"<layer index>.<name>"``, e.g. ``"0.filters"``.
- ``tutorial_model(rng, dtype)``: the tutorial's network from fast layers.
  With the same ``rng`` it starts with exactly the weights of ``TutorialCNN``.
- ``deep_model(rng, dtype)``: a LeNet-like network for ~99% test accuracy.
"""

from __future__ import annotations

import copy

import numpy as np

from ..digits import NUM_CLASSES, preprocess_batch, require_dataset, require_images
from ..model import Model
from ..require import require_dtype, require_positive_int, values_already_checked
from .layers import LAYER_TYPES, Conv, ConvPool, Dense, Flatten, MaxPool2x2, ReLU
from .loss import softmax_cross_entropy
from .optim import SGD
from .threads import batch_parts, limited_blas_threads, run_parts, workers


class Sequential(Model):
    """Layers applied in order, with a softmax cross-entropy loss at the end.

    - ``layers``: list of fast layers (``forward``, ``backward``, ``params``, ``grads``).
    - ``name``: what the network is called (saved in checkpoints).
    - ``dtype``: what images are converted to before the first layer.
    """

    def __init__(self, layers: list, name: str = "sequential", dtype=np.float64):
        self.layers = list(layers)
        self.name = str(name)
        self.dtype = require_dtype(dtype)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Scores (before softmax) of shape ``(n, 10)`` for a preprocessed batch ``X`` ``(n, 28, 28, 1)``."""
        out = X
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def backward(self, d_L_d_scores: np.ndarray) -> np.ndarray | None:
        """Backpropagate ``dL/dscores`` ``(n, 10)`` through every layer; returns ``dL/dX``
        (``None`` when the first layer skips its input gradient). Changes no weight."""
        gradient = d_L_d_scores
        for layer in reversed(self.layers):
            gradient = layer.backward(gradient)
        return gradient

    def loss_and_grads(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """For images ``(n, 28, 28)`` (pixels 0..255) and labels ``(n,)``: the mean loss and the
        probabilities ``(n, 10)``; every layer's gradients are left ready in ``grads()``.

        A batch big enough to be worth two threads is computed in two halves (``.threads``): each
        half's mean loss and gradients, weighted by the half's share of the batch and added up,
        which gives the mean over the whole batch."""
        images, labels = require_dataset(images, labels, "batch")

        def work(network: "Sequential", rows: slice):
            scores = network.forward(preprocess_batch(images[rows], self.dtype))
            loss, d_L_d_scores, probabilities = softmax_cross_entropy(scores, labels[rows])
            network.backward(d_L_d_scores)
            if rows.stop - rows.start == len(images):
                return loss, probabilities, None            # the whole batch: the gradients stay where they are
            share = (rows.stop - rows.start) / len(images)
            # New arrays, so the network may go on to the next part (and overwrite its gradients).
            return share * loss, probabilities, {name: share * g for name, g in network.grads().items()}

        results = self.in_halves(len(images), work, "train")
        if len(results) == 1:
            return results[0][0], results[0][1]
        layers = self.named_layers()
        for name in results[0][2]:
            layer_name, param = name.split(".")
            setattr(layers[layer_name], "d_L_d_" + param, sum(part_grads[name] for _, _, part_grads in results))
        loss = float(sum(part_loss for part_loss, _, _ in results))
        return loss, np.concatenate([probabilities for _, probabilities, _ in results])

    def train(self, image: np.ndarray, label: int, lr: float = 0.005) -> tuple[float, int]:
        """One SGD step on one image ``(28, 28)``, as ``TutorialCNN.train``: returns ``(loss, correct)``."""
        loss, probabilities = self.loss_and_grads(image[np.newaxis], np.array([label]))
        SGD(lr).step(self.params(), self.grads())
        return loss, int(np.argmax(probabilities[0]) == label)

    def in_halves(self, n: int, work, what: str) -> list:
        """``[work(network, rows) for each part of a batch of n images]`` (``batch_parts``: two halves
        when they are big enough to pay for running at once, ``halves_at_once``, else the whole
        batch). With two workers (``.threads``) the halves run at once, part 0 on this network and
        part 1 on a replica; with one worker, one after the other on this network (measured ~15%
        faster than on two networks: one set of arrays stays in the cache). The split depends on the
        network and ``n`` only, so one worker or two give the same numbers.

        The layers run with one BLAS thread per worker, and inside ``values_already_checked``: the
        caller has checked the images; the layers check shapes only, and only the first time
        these layers do ``what`` (``"train"``, ``"predict"``) on a batch of ``n`` images; the split is
        worked out then too, and kept for the runs that repeat it."""
        checked = self.__dict__.setdefault("checked_runs", {})           # run -> its parts; shared with the replicas
        run_key = (what, n, tuple(id(layer) for layer in self.layers))
        trusted = run_key in checked
        parts = checked[run_key] if trusted else batch_parts(n, self.multiply_adds_per_image())
        together = workers() > 1 and len(parts) > 1 and trusted
        networks = [self] + [self.replica(part) if together else self for part in range(1, len(parts))]

        def run(part: int):
            with values_already_checked(shapes=trusted):
                return work(networks[part], parts[part])

        with limited_blas_threads():
            results = run_parts(run, len(parts), at_once=together)
        checked[run_key] = parts
        return results

    def multiply_adds_per_image(self, image_shape: tuple = (28, 28, 1)) -> int:
        """The multiply-adds of one image's forward pass through the convolutions and dense layers,
        for an image of ``image_shape`` ``(h, w, c)``: each layer's output shape follows from its
        input's (a layer of another kind is taken to keep the shape)."""
        total, shape = 0, tuple(image_shape)
        for layer in self.layers:
            if isinstance(layer, Conv):                                  # ConvPool included
                (h, w, C), k, F = shape, layer.kernel_size, layer.num_filters
                total += (h - k + 1) * (w - k + 1) * F * k * k * C
                shape = (h - k + 1, w - k + 1, F)
                if isinstance(layer, ConvPool):
                    shape = (shape[0] // 2, shape[1] // 2, F)
            elif isinstance(layer, MaxPool2x2):
                shape = (shape[0] // 2, shape[1] // 2, shape[2])
            elif isinstance(layer, Flatten):
                shape = (int(np.prod(shape)),)
            elif isinstance(layer, Dense):
                total += layer.input_len * layer.nodes
                shape = (layer.nodes,)
        return total

    def replica(self, part: int = 1) -> "Sequential":
        """A copy that shares this network's weight arrays but remembers its own inputs and gradients.

        Its layers compute into their own ``scratch`` arrays (``.layers.scratch``), kept here from
        one batch to the next for each ``part`` of a batch, so that two threads never write into
        the same array and neither needs new memory for every batch."""
        twin = copy.copy(self)
        twin.layers = [copy.copy(layer) for layer in self.layers]
        kept = self.__dict__.setdefault("replica_scratch", {}).get(part)
        if kept is None or len(kept) != len(self.layers):
            kept = self.replica_scratch[part] = [{} for _ in self.layers]
        for layer, arrays in zip(twin.layers, kept):
            layer.scratch_arrays = arrays
        return twin

    def predict_proba(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The probabilities ``(n, 10)`` of ``images`` ``(n, 28, 28)``, ``batch_size`` images at a time
        (each batch in two halves at once, as in ``loss_and_grads``)."""
        images = require_images(images)
        batch_size = require_positive_int("batch_size", batch_size)
        probabilities = np.zeros((len(images), NUM_CLASSES), dtype=self.dtype)
        for begin in range(0, len(images), batch_size):
            batch = images[begin:begin + batch_size]
            results = self.in_halves(len(batch), lambda network, rows: network.forward(
                preprocess_batch(batch[rows], self.dtype)), "predict")
            scores = np.concatenate(results)
            exp = np.exp(scores - scores.max(axis=1, keepdims=True))
            probabilities[begin:begin + batch_size] = exp / exp.sum(axis=1, keepdims=True)
        return probabilities

    def named_layers(self) -> dict:
        return {str(index): layer for index, layer in enumerate(self.layers)}

    def config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype.name,
                "layers": [{"type": type(layer).__name__, **layer.config()} for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict, rng: np.random.Generator | None = None) -> "Sequential":
        """A new model (fresh weights) with the layers that ``config()`` describes."""
        layers = []
        for layer_config in config["layers"]:
            arguments = dict(layer_config)
            layers.append(LAYER_TYPES[arguments.pop("type")].from_config(arguments, rng))
        return cls(layers, name=config["name"], dtype=config["dtype"])

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(name={self.name!r}, [\n  {inner}\n])"


def tutorial_model(rng: np.random.Generator | None = None, dtype=np.float64, ties: str = "first") -> Sequential:
    """The tutorial's network: Conv(1, 8, 3, no bias) -> MaxPool2x2 -> Flatten -> Dense(1352, 10).

    ``(n, 28, 28, 1) -> (n, 26, 26, 8) -> (n, 13, 13, 8) -> (n, 1352) -> (n, 10)``.
    The convolution and the pooling are one ``ConvPool`` layer (the same
    numbers as ``Conv`` then ``MaxPool2x2``, in a faster layout: notebook 07).
    Weights are drawn in the same order and way as ``TutorialCNN(rng)``, so a
    generator seeded the same gives the same starting network.
    """
    rng = np.random.default_rng() if rng is None else rng
    return Sequential([
        ConvPool(1, 8, 3, rng, dtype, bias=False, init="tutorial", compute_input_grad=False, ties=ties),
        Flatten(dtype=dtype),
        Dense(13 * 13 * 8, NUM_CLASSES, rng, dtype, init="tutorial"),
    ], name="tutorial", dtype=dtype)


def deep_model(rng: np.random.Generator | None = None, dtype=np.float32) -> Sequential:
    """A LeNet-like network with He initialisation, for about 99% test accuracy on MNIST::

        Conv(1, 16, 5)  -> ReLU -> MaxPool2x2    (n, 28, 28, 1) -> (n, 24, 24, 16) -> (n, 12, 12, 16)
        Conv(16, 32, 5) -> ReLU -> MaxPool2x2    -> (n, 8, 8, 32) -> (n, 4, 4, 32)
        Flatten -> Dense(512, 128) -> ReLU -> Dense(128, 10)

    About 80,000 weights. Each Conv -> ReLU -> MaxPool2x2 is one ``ConvPool`` layer.
    """
    rng = np.random.default_rng() if rng is None else rng
    return Sequential([
        ConvPool(1, 16, 5, rng, dtype, init="he", compute_input_grad=False, relu=True),
        ConvPool(16, 32, 5, rng, dtype, init="he", relu=True),
        Flatten(dtype),
        Dense(4 * 4 * 32, 128, rng, dtype, init="he"),
        ReLU(dtype),
        Dense(128, NUM_CLASSES, rng, dtype, init="he"),
    ], name="deep", dtype=dtype)


MODELS = {"tutorial": tutorial_model, "deep": deep_model}
