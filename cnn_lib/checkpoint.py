"""Saving and loading the tutorial network's weights as a ``.npz`` file."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .network import TutorialCNN

FORMAT = "cnn-from-scratch/TutorialCNN/v1"


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or does not fit the network."""


def save_checkpoint(net: TutorialCNN, path: str | os.PathLike) -> Path:
    """Write all of ``net``'s weights to ``path`` (``.npz``); return the path written.

    The file is written under a temporary name and renamed, so an interrupted
    save never leaves a half-written checkpoint behind.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise CheckpointError(f"checkpoint path must end in .npz, but got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    with open(temporary, "wb") as file:
        np.savez(file, format=np.array(FORMAT), **net.parameters())
    os.replace(temporary, path)
    return path


def load_checkpoint(path: str | os.PathLike, net: TutorialCNN | None = None) -> TutorialCNN:
    """Load weights saved by ``save_checkpoint`` into ``net`` (a new network if ``None``).

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
    if str(arrays.get("format", "")) != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not a {FORMAT} checkpoint (its format field is "
            f"{str(arrays.get('format', 'missing'))!r})."
        )
    num_filters = arrays["filters"].shape[0] if "filters" in arrays and arrays["filters"].ndim == 3 else 8
    net = TutorialCNN(num_filters=num_filters) if net is None else net
    for name, target in net.parameters().items():
        if name not in arrays:
            raise CheckpointError(f"{str(path)!r} has no array {name!r}; it holds {sorted(arrays)}.")
        value = arrays[name]
        if value.shape != target.shape or value.dtype.kind != "f" or not np.all(np.isfinite(value)):
            raise CheckpointError(
                f"{str(path)!r}: {name!r} should be a finite float array of shape {target.shape}, "
                f"but it has shape {value.shape} and dtype {value.dtype}."
            )
        target[...] = value
    return net
