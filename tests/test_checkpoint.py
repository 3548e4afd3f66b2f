"""One checkpoint format for every model: exact round trips, clear errors, atomic writes."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from cnn_lib import CheckpointError, TutorialCNN, load_checkpoint, load_subset, save_checkpoint
from cnn_lib.checkpoint import FORMAT, require_checkpoint_path
from cnn_lib.fast import deep_model, tutorial_model

try:
    from model_zoo import MODEL_KINDS, make_model, perturb
except ImportError:  # tests/ imported as a package
    from .model_zoo import MODEL_KINDS, make_model, perturb

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def digits():
    return load_subset()[2][:3]


def no_temporary_files(folder: Path) -> bool:
    return not list(folder.glob("*.part"))


# --- every model round-trips exactly -----------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_every_model_round_trips_exactly(kind, tmp_path, digits):
    """Arrays bit-identical (dtype and shape included), the same config and the same predictions,
    whether the file builds the model (model=None) or fills a matching model given."""
    model = perturb(make_model(kind, seed=0))          # biases non-zero, no array at its initial value
    path = save_checkpoint(model, tmp_path / "model.npz")
    assert path == tmp_path / "model.npz" and no_temporary_files(tmp_path)
    expected = model.predict_proba(digits)

    given = make_model(kind, seed=1)
    assert not np.array_equal(next(iter(given.params().values())), next(iter(model.params().values())))
    built, filled = load_checkpoint(path), load_checkpoint(path, given)
    assert filled is given
    for loaded in (built, filled):
        assert type(loaded) is type(model)
        assert loaded.config() == model.config()
        assert list(loaded.params()) == list(model.params())
        for name, value in model.params().items():
            copy = loaded.params()[name]
            assert copy.dtype == value.dtype and copy.shape == value.shape, name
            assert copy.tobytes() == value.tobytes(), name
        np.testing.assert_array_equal(loaded.predict_proba(digits), expected)


def test_the_file_holds_the_kind_and_the_config_as_json(tmp_path):
    model = TutorialCNN(np.random.default_rng(0), num_filters=4, ties="all")
    path = save_checkpoint(model, tmp_path / "net.npz")
    with np.load(path) as data:
        assert str(data["__format__"]) == FORMAT
        assert str(data["__model__"]) == "TutorialCNN"
        assert json.loads(str(data["__config__"])) == {"num_filters": 4, "ties": "all"}
        assert sorted(data.files) == sorted(["__format__", "__model__", "__config__", *model.params()])


@pytest.mark.parametrize("saved, given, message", [
    ("TutorialCNN", "TutorialCNN-ties-all", r"holds a TutorialCNN configured as .*'ties': 'first'.* does not fit"),
    ("TutorialCNN", "tutorial_model-float64", r"holds a TutorialCNN .* \(a Sequential configured as"),
    ("tutorial_model-float32", "tutorial_model-float64", r"does not fit the model given"),
    ("tutorial_model-float64", "deep_model-float64", r"Pass model=None to build the saved one"),
])
def test_a_model_that_does_not_fit_is_refused(saved, given, message, tmp_path):
    path = save_checkpoint(make_model(saved), tmp_path / "model.npz")
    target = make_model(given)
    before = {name: value.copy() for name, value in target.params().items()}
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path, target)
    for name, value in target.params().items():
        np.testing.assert_array_equal(value, before[name])


# --- every way a file can be wrong ---------------------------------------------------------------

def write_checkpoint(path: Path, arrays: dict, kind="TutorialCNN", config=None, format=FORMAT, compressed=False):
    """A checkpoint written by hand, so each field can be wrong on purpose."""
    meta = {"__format__": np.array(format), "__model__": np.array(kind),
            "__config__": np.array(json.dumps({"num_filters": 8, "ties": "first"} if config is None else config))}
    (np.savez_compressed if compressed else np.savez)(path, **meta, **arrays)
    return path


def tutorial_arrays(**changes) -> dict:
    arrays = {name: value.copy() for name, value in TutorialCNN(np.random.default_rng(0)).params().items()}
    arrays.update(changes)
    return arrays


@pytest.mark.parametrize("make, message", [
    (lambda p: p, r"no checkpoint at .*missing.npz"),
    (lambda p: (p.mkdir(), p)[1], r"is a folder, not a checkpoint file"),
    (lambda p: (np.savez(p, something=np.zeros(3)), p)[1],
     r"is not a cnn-from-scratch/checkpoint/v2 checkpoint \(its format field is 'missing'\)"),
    (lambda p: write_checkpoint(p, tutorial_arrays(), format="cnn-from-scratch/TutorialCNN/v1"),
     r"its format field is 'cnn-from-scratch/TutorialCNN/v1'\)\. Save it again"),
    (lambda p: write_checkpoint(p, tutorial_arrays(), kind="ResNet"),
     r"holds a model of kind 'ResNet'; this version knows \['Sequential', 'TutorialCNN'\]"),
    (lambda p: write_checkpoint(p, tutorial_arrays(), config=[8]), r"configuration should be a JSON object"),
    (lambda p: write_checkpoint(p, tutorial_arrays(), config={"num_filters": 0, "ties": "first"}),
     r"does not describe a TutorialCNN \(num_filters must be a positive integer"),
    (lambda p: write_checkpoint(p, tutorial_arrays(**{"softmax.weights": np.zeros((100, 10))})),
     r"'softmax.weights' should be a float64 array of shape \(1352, 10\), but it has shape \(100, 10\)"),
    (lambda p: write_checkpoint(p, tutorial_arrays(**{"softmax.biases": np.zeros(10, np.float32)})),
     r"'softmax.biases' should be a float64 array .* dtype float32"),
    (lambda p: write_checkpoint(p, {"weights": np.zeros((1352, 10))}), r"holds the arrays \['weights'\], but the model has"),
    (lambda p: write_checkpoint(p, tutorial_arrays(**{"conv.filters": np.full((8, 3, 3), np.nan)})),
     r"'conv.filters' holds NaN or infinite values .* retrain with a smaller learning rate"),
])
def test_a_wrong_file_gets_a_clear_error(make, message, tmp_path):
    path = make(tmp_path / "missing.npz")
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_text_file_is_not_a_checkpoint_and_the_error_does_not_mention_pickle(tmp_path):
    """Issue 9: NumPy reads a file that is not a zip archive as a pickle, so the error told the
    learner about allow_pickle, an option that should never be used on an unknown file."""
    path = tmp_path / "notes.npz"
    path.write_text("epochs 3, lr 0.005: accuracy 0.78\n")
    with pytest.raises(CheckpointError, match=r"not a checkpoint: a \.npz file is a zip archive") as caught:
        load_checkpoint(path)
    assert "pickle" not in str(caught.value)


def test_a_truncated_file_is_not_a_checkpoint(tmp_path):
    good = save_checkpoint(tutorial_model(np.random.default_rng(0)), tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"is not a checkpoint.*cut short"):
        load_checkpoint(truncated)


def corrupt_a_deflate_stream(path: Path) -> str:
    """Flip 8 bytes in the middle of the deflate stream of one member of a compressed .npz, so
    that zlib refuses it (checked here); returns the member's name."""
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    for info in members:
        assert info.compress_type == zipfile.ZIP_DEFLATED
        name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
        start = info.header_offset + 30 + name_length + extra_length
        middle = start + info.compress_size // 2
        damaged = raw[:middle] + bytes(b ^ 0xFF for b in raw[middle:middle + 8]) + raw[middle + 8:]
        try:
            zlib.decompressobj(-15).decompress(damaged[start:start + info.compress_size])
        except zlib.error:
            path.write_bytes(damaged)
            return info.filename
    raise AssertionError("no member's deflate stream could be damaged so that zlib notices")


def test_a_damaged_compressed_file_is_a_checkpoint_error_not_a_zlib_error(tmp_path):
    """Issue 9: a damaged deflate stream raised zlib.error, which the loader did not expect."""
    model = tutorial_model(np.random.default_rng(0))
    path = tmp_path / "compressed.npz"
    with np.load(save_checkpoint(model, tmp_path / "plain.npz")) as data:
        np.savez_compressed(path, **{key: data[key] for key in data.files})
    load_checkpoint(path)                                     # a valid compressed checkpoint
    member = corrupt_a_deflate_stream(path)
    with pytest.raises(CheckpointError, match=r"is damaged and cannot be read .*Save it again") as caught:
        load_checkpoint(path)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__, member


def test_save_refuses_nan_weights_and_foreign_objects(tmp_path):
    model = tutorial_model(np.random.default_rng(0))
    model.layers[2].biases[2] = np.inf
    with pytest.raises(CheckpointError, match=r"refusing to save weights holding NaN or infinity \(2.biases\)"):
        save_checkpoint(model, tmp_path / "bad.npz")
    with pytest.raises(CheckpointError, match=r"cannot save a dict"):
        save_checkpoint({"weights": np.zeros(3)}, tmp_path / "dict.npz")
    assert list(tmp_path.iterdir()) == []


# --- where a checkpoint may be written -------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "weights.pt", r"must end in \.npz, but got '.*weights\.pt'"),
    (lambda tmp: tmp / "weights", r"must end in \.npz"),
    (lambda tmp: (tmp / "folder.npz").mkdir() or tmp / "folder.npz", r"is a folder; give a file name ending in \.npz"),
    (lambda tmp: (tmp / "file").write_text("x") and tmp / "file" / "sub" / "w.npz",
     r"'.*file' is a file, not a folder"),
])
def test_unusable_save_paths_are_refused(make, message, tmp_path):
    with pytest.raises(CheckpointError, match=message):
        require_checkpoint_path(make(tmp_path))


def test_a_folder_that_cannot_be_created_yet_is_fine(tmp_path):
    path = tmp_path / "runs" / "today" / "w.npz"
    assert require_checkpoint_path(path) == path
    save_checkpoint(tutorial_model(np.random.default_rng(0)), path)
    assert path.is_file()


def test_a_read_only_folder_or_file_is_refused(tmp_path, monkeypatch):
    """os.access is patched: the tests may run as root, for whom chmod does not stop writing."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    existing = tmp_path / "existing.npz"
    existing.write_bytes(b"")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) not in (folder, existing) and real_access(p, mode))
    with pytest.raises(CheckpointError, match=r"the folder '.*read-only' is not writable"):
        require_checkpoint_path(folder / "w.npz")
    with pytest.raises(CheckpointError, match=r"the folder '.*read-only' is not writable"):
        require_checkpoint_path(folder / "new" / "w.npz")     # the nearest existing folder counts
    with pytest.raises(CheckpointError, match=r"the file exists and is read-only"):
        require_checkpoint_path(existing)


# --- atomic writes ---------------------------------------------------------------------------------

def test_an_exception_inside_savez_leaves_no_part_file_and_the_old_checkpoint(tmp_path, monkeypatch):
    target = tmp_path / "model.npz"
    old = save_checkpoint(tutorial_model(np.random.default_rng(0)), target).read_bytes()

    def failing_savez(file, **arrays):
        file.write(b"half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tutorial_model(np.random.default_rng(1)), target)
    assert no_temporary_files(tmp_path)
    assert target.read_bytes() == old


# A child process that writes every byte of a big model's checkpoint, then waits inside np.savez
# (the save is not finished: the file must not appear) until the test signals it.
SLOW_SAVE = """
import signal, sys, time
import numpy as np

signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's background job starts with SIGINT ignored
from cnn_lib import save_checkpoint
from cnn_lib.fast import deep_model

real_savez = np.savez

def slow_savez(file, **arrays):
    real_savez(file, **arrays)
    file.flush()
    print("written", flush=True)
    time.sleep(60)

np.savez = slow_savez
save_checkpoint(deep_model(np.random.default_rng(0)), sys.argv[1])
print("saved", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_the_write_leaves_no_part_file_and_no_checkpoint(signum, tmp_path):
    target = tmp_path / "deep.npz"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(target)], cwd=REPO_ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "written\n", child.stderr.read()
        part_files = list(tmp_path.glob("*.part"))
        assert len(part_files) == 1 and part_files[0].stat().st_size > 300_000   # ~80,000 float32 weights
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode != 0
    assert "saved" not in out
    assert ("KeyboardInterrupt" if signum == signal.SIGINT else "Terminated") in err
    assert list(tmp_path.iterdir()) == []


def test_an_object_array_is_refused_without_numpys_pickle_advice(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, weights=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="holds Python objects") as error:
        load_checkpoint(path)
    assert "allow_pickle" not in str(error.value)
