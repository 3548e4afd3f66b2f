"""Saving and loading a network's weights as a ``.npz`` file.

Two kinds of network: the readable ``TutorialCNN`` (format
``cnn-from-scratch/TutorialCNN/v1``) and any fast ``models.Sequential``
(format ``cnn-from-scratch/Sequential/v1``, arrays named as in
``model.params()``, plus the model's name, e.g. ``"deep"``).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .network import TutorialCNN

FORMAT = "cnn-from-scratch/TutorialCNN/v1"
SEQUENTIAL_FORMAT = "cnn-from-scratch/Sequential/v1"


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or does not fit the network."""


def save_checkpoint(net, path: str | os.PathLike) -> Path:
    """Write all of ``net``'s weights (a ``TutorialCNN`` or a ``Sequential``) to ``path`` (``.npz``); return the path written.

    The file is written under a temporary name and renamed, so an interrupted
    save never leaves a half-written checkpoint behind.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise CheckpointError(f"checkpoint path must end in .npz, but got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    from .models import Sequential

    if isinstance(net, Sequential):
        arrays = {"format": np.array(SEQUENTIAL_FORMAT), "model": np.array(net.name), **net.params()}
    else:
        arrays = {"format": np.array(FORMAT), **net.parameters()}
    with open(temporary, "wb") as file:
        np.savez(file, **arrays)
    os.replace(temporary, path)
    return path


def load_checkpoint(path: str | os.PathLike, net=None):
    """Load weights saved by ``save_checkpoint`` into ``net`` and return it.

    ``net``: a ``TutorialCNN`` or a ``Sequential`` of the same layers; when
    ``None``, a new ``TutorialCNN``, or for a ``Sequential`` checkpoint a new
    ``tutorial``/``deep`` model as its saved name says, in the saved dtype.

    Raises ``CheckpointError`` naming the file, what was expected and what
    came, for a missing or damaged file or arrays of the wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {str(path)!r}: check the path, or train and --save one first.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise CheckpointError(
            f"{str(path)!r} is not a readable checkpoint ({type(error).__name__}: {error}). "
            "It may be damaged or truncated: save it again."
        ) from None
    from .models import MODELS, Sequential

    saved_format = str(arrays.get("format", ""))
    if saved_format == SEQUENTIAL_FORMAT or isinstance(net, Sequential):
        if saved_format != SEQUENTIAL_FORMAT:
            raise CheckpointError(
                f"{str(path)!r} is not a {SEQUENTIAL_FORMAT} checkpoint (its format field is "
                f"{str(arrays.get('format', 'missing'))!r}); a fast model needs one saved from a fast model."
            )
        if net is not None and not isinstance(net, Sequential):
            raise CheckpointError(
                f"{str(path)!r} holds a fast Sequential model ({str(arrays.get('model', ''))!r}), "
                f"not a {type(net).__name__}: load it into a model from cnn_lib.models."
            )
        if net is None:
            name = str(arrays.get("model", ""))
            if name not in MODELS:
                raise CheckpointError(f"{str(path)!r} holds a model called {name!r}; pass a model of that shape to load it into.")
            dtype = next((value.dtype for key, value in arrays.items() if key not in ("format", "model")), np.float64)
            net = MODELS[name](np.random.default_rng(0), dtype=dtype if dtype.kind == "f" else np.float64)
        stored = sorted(key for key in arrays if key not in ("format", "model"))
        if stored != sorted(net.params()):
            raise CheckpointError(
                f"{str(path)!r} does not fit this model ({net.name!r}): it holds arrays {stored}, "
                f"the model has {sorted(net.params())}."
            )
        _copy_into(path, arrays, net.params())
        return net
    if saved_format != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not a {FORMAT} checkpoint (its format field is "
            f"{str(arrays.get('format', 'missing'))!r})."
        )
    num_filters = arrays["filters"].shape[0] if "filters" in arrays and arrays["filters"].ndim == 3 else 8
    net = TutorialCNN(num_filters=num_filters) if net is None else net
    _copy_into(path, arrays, net.parameters())
    return net


def _copy_into(path: Path, arrays: dict[str, np.ndarray], parameters: dict[str, np.ndarray]) -> None:
    """Check every saved array against the network's, then copy them all in."""
    for name, target in parameters.items():
        if name not in arrays:
            raise CheckpointError(f"{str(path)!r} has no array {name!r}; it holds {sorted(arrays)}.")
        value = arrays[name]
        if value.shape != target.shape or value.dtype.kind != "f" or not np.all(np.isfinite(value)):
            raise CheckpointError(
                f"{str(path)!r}: {name!r} should be a finite float array of shape {target.shape}, "
                f"but it has shape {value.shape} and dtype {value.dtype}."
            )
    for name, target in parameters.items():
        target[...] = arrays[name]
