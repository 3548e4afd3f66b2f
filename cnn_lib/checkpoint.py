"""Saving and loading any model of either family as one ``.npz`` file.

One format (``cnn-from-scratch/checkpoint/v2``) for every model: the arrays
of ``model.params()`` under their names, plus the model's kind and its
``config()`` (architecture and hyper-parameters) as JSON. Loading therefore
needs no look-up table and no guessing from array shapes: the file says what
to build. Every way a file can be wrong is a ``CheckpointError`` that names
the file, what was expected and what came.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .atomic_write import atomic_write

FORMAT = "cnn-from-scratch/checkpoint/v2"
_META = ("__format__", "__model__", "__config__")


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or does not fit the model."""


def model_types() -> dict:
    """Every kind of model a checkpoint can hold, by the name saved in the file."""
    from .fast.models import Sequential
    from .network import TutorialCNN

    return {"TutorialCNN": TutorialCNN, "Sequential": Sequential}


def require_checkpoint_path(path: str | os.PathLike) -> Path:
    """Check that a checkpoint can be written at ``path`` *before* any training is spent on it.

    It must end in ``.npz``, not be a folder, and its folder must exist (or be
    creatable) and be writable.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise CheckpointError(f"checkpoint path must end in .npz, but got {str(path)!r}.")
    if path.is_dir():
        raise CheckpointError(f"{str(path)!r} is a folder; give a file name ending in .npz.")
    folder = path.parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise CheckpointError(f"cannot save to {str(path)!r}: {str(existing)!r} is a file, not a folder.")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise CheckpointError(f"cannot save to {str(path)!r}: the folder {str(existing)!r} is not writable.")
    if path.exists() and not os.access(path, os.W_OK):
        raise CheckpointError(f"cannot save to {str(path)!r}: the file exists and is read-only.")
    return path


def save_checkpoint(model, path: str | os.PathLike) -> Path:
    """Write ``model``'s weights and configuration to ``path`` (``.npz``); return the path written.

    The file appears complete or not at all (``atomic_write``), even when the
    save is interrupted. Weights holding NaN or infinity are refused.
    """
    path = require_checkpoint_path(path)
    kind = type(model).__name__
    if kind not in model_types():
        raise CheckpointError(f"cannot save a {kind}: a checkpoint holds a {' or a '.join(model_types())}.")
    params = model.params()
    bad = [name for name, value in params.items() if not np.all(np.isfinite(value))]
    if bad:
        raise CheckpointError(f"refusing to save weights holding NaN or infinity ({', '.join(bad)}): "
                              "training diverged; retrain with a smaller learning rate.")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"__format__": np.array(FORMAT), "__model__": np.array(kind),
            "__config__": np.array(json.dumps(model.config(), sort_keys=True))}
    with atomic_write(path) as file:
        np.savez(file, **meta, **params)
    return path


def load_checkpoint(path: str | os.PathLike, model=None):
    """Load the model saved at ``path`` and return it.

    ``model``: load into this model instead of a new one; its kind and
    ``config()`` must match the file's. Raises ``CheckpointError`` for a
    missing, damaged or foreign file, arrays of the wrong names, shapes or
    dtypes, NaN or infinite weights, or a model that does not fit.
    """
    path = Path(path)
    arrays = _read_arrays(path)
    where = repr(str(path))
    if str(arrays.get("__format__", "")) != FORMAT:
        raise CheckpointError(
            f"{where} is not a {FORMAT} checkpoint (its format field is "
            f"{str(arrays.get('__format__', 'missing'))!r}). Save it again with this version's save_checkpoint."
        )
    kind, config = str(arrays.get("__model__", "")), _read_config(where, arrays)
    types = model_types()
    if kind not in types:
        raise CheckpointError(f"{where} holds a model of kind {kind!r}; this version knows {sorted(types)}.")
    if model is None:
        model = _build(where, types[kind], config)
    elif type(model).__name__ != kind or model.config() != config:
        raise CheckpointError(
            f"{where} holds a {kind} configured as {config}, which does not fit the model given "
            f"(a {type(model).__name__} configured as {model.config()}). Pass model=None to build the saved one."
        )
    _copy_into(where, {k: v for k, v in arrays.items() if k not in _META}, model.params())
    return model


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    where = repr(str(path))
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {where}: check the path, or train and --save one first.")
    if not path.is_file():
        raise CheckpointError(f"{where} is a folder, not a checkpoint file.")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{where} is not a checkpoint: a .npz file is a zip archive, and this file is not one "
                              "(is it a text file, or cut short?).")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except ValueError as error:
        if "pickle" not in str(error):
            raise CheckpointError(f"{where} is damaged and cannot be read ({str(error).split('. ')[0]}). "
                                  "Save it again.") from None
        raise CheckpointError(f"{where} holds Python objects, which no checkpoint does: it was not written by "
                              "save_checkpoint. Save the model again with save_checkpoint.") from None
    except Exception as error:  # zipfile, zlib and numpy's format errors all mean "damaged"
        raise CheckpointError(
            f"{where} is damaged and cannot be read ({type(error).__name__}: {str(error).split('. ')[0]}). "
            "Save it again."
        ) from None


def _read_config(where: str, arrays: dict) -> dict:
    try:
        config = json.loads(str(arrays["__config__"]))
    except (KeyError, ValueError):
        raise CheckpointError(f"{where} has no readable configuration (__config__); save it again.") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{where}: its configuration should be a JSON object, but it is {config!r}.")
    return config


def _build(where: str, model_type, config: dict):
    try:
        return model_type.from_config(config) if hasattr(model_type, "from_config") else model_type(**config)
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{where}: its configuration {config} does not describe a "
                              f"{model_type.__name__} ({error}).") from None


def _copy_into(where: str, arrays: dict[str, np.ndarray], parameters: dict[str, np.ndarray]) -> None:
    """Check every saved array against the model's, then copy them all in."""
    if sorted(arrays) != sorted(parameters):
        raise CheckpointError(f"{where} holds the arrays {sorted(arrays)}, but the model has {sorted(parameters)}.")
    for name, target in parameters.items():
        value = arrays[name]
        if value.shape != target.shape or value.dtype != target.dtype:
            raise CheckpointError(
                f"{where}: {name!r} should be a {target.dtype} array of shape {target.shape}, "
                f"but it has shape {value.shape} and dtype {value.dtype}."
            )
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"{where}: {name!r} holds NaN or infinite values (the run that saved it had "
                                  "diverged); retrain with a smaller learning rate.")
    for name, target in parameters.items():
        target[...] = arrays[name]
