"""The command line: python -m cnn_lib train (loop and fast runs) and bench.

Every user error ends as one ``error: ...`` line on standard error with exit status 2 and no
traceback, and nothing is trained or saved for it. Most error cases call ``cnn_lib.cli.main``
in this process (an exception escaping it fails the test just as a traceback would); a few run
the real ``python -m cnn_lib`` to check the whole path, warnings included.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnn_lib.cli.train
from cnn_lib import TutorialCNN, load_checkpoint, load_subset, save_checkpoint, train_tutorial
from cnn_lib.cli import EXIT_INTERRUPTED, EXIT_USER_ERROR, main
from cnn_lib.fast import Recipe, run_recipe, tutorial_model

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINING_OUTPUT = ("MNIST CNN initialized!", "Fast ", "Epoch", "Test Accuracy")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m cnn_lib ARGS`` with this checkout's cnn_lib."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "cnn_lib", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=env, timeout=300)


def assert_same_weights(model, expected) -> None:
    assert model.config() == expected.config()
    for name, value in expected.params().items():
        assert np.array_equal(model.params()[name], value), name


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """``cnn_lib.cli.main(args)`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_user_error(status: int, out: str, err: str, *fragments: str, trained: bool = False) -> None:
    assert status == EXIT_USER_ERROR, (status, out, err)
    assert re.search(r"(^|: )error: ", err, flags=re.M), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    if not trained:
        assert not any(marker in out for marker in TRAINING_OUTPUT), out


# --- training runs -----------------------------------------------------------------------------------

def test_loop_run_trains_saves_and_loads(tmp_path):
    checkpoint = tmp_path / "loop.npz"
    first = run_cli("train", "--epochs", "1", "--train-size", "100", "--test-size", "50", "--seed", "1",
                    "--save", str(checkpoint))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:2] == ["MNIST CNN initialized!", "--- Epoch 1 ---"]
    assert re.fullmatch(r"\[Step 100\] Past 100 steps: Average Loss \d\.\d{3} \| Accuracy: \d+%", lines[2])
    assert re.search(r"^Test Accuracy: \d\.\d{3}$", first.stdout, flags=re.M)
    assert "Summary: 1 epoch(s) on 100 subset training images, lr 0.005, seed 1" in first.stdout
    assert f"Saved the weights to {checkpoint}" in first.stdout
    assert checkpoint.is_file() and not list(tmp_path.glob("*.part"))
    train_images, train_labels, _, _ = load_subset()   # the command ran train_tutorial with its seed
    assert_same_weights(load_checkpoint(checkpoint),
                        train_tutorial(train_images[:100], train_labels[:100], num_epochs=1, seed=1, log=None)[0])

    evaluated = run_cli("train", "--epochs", "0", "--test-size", "50", "--load", str(checkpoint))
    assert evaluated.returncode == 0, evaluated.stderr
    test_lines = [line for line in lines if line.startswith("Test ")]
    assert test_lines == [line for line in evaluated.stdout.splitlines() if line.startswith("Test ")]


@pytest.mark.parametrize("model", ["tutorial", "deep"])
def test_fast_run_of_each_model_trains_saves_and_loads(tmp_path, model):
    checkpoint = tmp_path / f"{model}.npz"
    result = run_cli("train", "--batch-size", "32", "--model", model, "--optimizer", "adam", "--epochs", "1",
                     "--train-size", "200", "--test-size", "100", "--seed", "3", "--save", str(checkpoint), "--progress")
    assert result.returncode == 0, result.stderr
    assert f"Fast {model} model" in result.stdout and "adam lr 0.001" in result.stdout
    assert "Epoch 1/1: training loss" in result.stdout
    assert "Summary: 1 epoch(s) on 200 subset training images" in result.stdout
    assert "img/s" in result.stderr  # the progress bar
    accuracy = [line for line in result.stdout.splitlines() if line.startswith("Test Accuracy")]
    assert len(accuracy) == 1 and checkpoint.is_file()
    # the command line runs the recipe its options describe: the same weights as run_recipe
    recipe = Recipe(model=model, optimizer="adam", num_epochs=1, batch_size=32, seed=3)
    assert recipe.command("subset") in result.stdout
    train_images, train_labels, _, _ = load_subset()
    assert_same_weights(load_checkpoint(checkpoint), run_recipe(recipe, train_images[:200], train_labels[:200])[0])
    again = run_cli("train", "--model", model, "--epochs", "0", "--test-size", "100", "--load", str(checkpoint))
    assert again.returncode == 0, again.stderr
    assert accuracy == [line for line in again.stdout.splitlines() if line.startswith("Test Accuracy")]


def test_fast_run_with_zero_epochs_reports_no_speed(capsys):
    """Issue 9: --epochs 0 on the fast path printed a training speed for no training
    ("training 0 images/s", and "nan images/s" when no time had passed)."""
    status, out, err = run_main(capsys, "train", "--batch-size", "8", "--epochs", "0", "--test-size", "20")
    assert status == 0, err
    assert "nan" not in out and "training 0 images/s" not in out
    summary = [line for line in out.splitlines() if line.startswith("Summary:")]
    assert len(summary) == 1 and summary[0].endswith("no training.")


def test_fast_run_can_hold_out_validation_images(capsys):
    """--validation N: the last N training images are scored after every epoch, not trained on."""
    status, out, err = run_main(capsys, "train", "--train-size", "300", "--test-size", "50", "--epochs", "2",
                                "--batch-size", "32", "--validation", "100")
    assert status == 0, err
    epochs = [line for line in out.splitlines() if line.startswith("Epoch ")]
    assert len(epochs) == 2 and all("; validation loss " in line and ", accuracy " in line for line in epochs)
    assert "Summary: 2 epoch(s) on 200 subset training images (100 more held out for validation);" in out
    assert "--validation 100" in out
    status, out, err = run_main(capsys, "train", "--train-size", "100", "--batch-size", "8", "--validation", "100")
    assert_user_error(status, out, err, "holds out 100 images for validation, but there are only 100")


def test_bench_quick_prints_a_table_per_thread_setting():
    """One thread, all cores, and (on a machine with several cores) one core kept busy."""
    result = run_cli("bench", "--quick")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cores" in out and "numpy" in out and "BLAS: " in out and "threads by default" in out
    header = [line for line in out.splitlines() if line.startswith("| what")]
    assert len(header) == (3 if (os.cpu_count() or 1) > 1 else 2)
    assert "One thread for every contender" in out and "All cores for every contender" in out
    for column in ("images/s", "vs loop", "vs PyTorch"):
        assert column in header[0]
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    names = " ".join(rows)
    for row in ("loop layers", "fast tutorial float32 batch 1", "fast tutorial float64 batch 64",
                "fast tutorial float32 batch 64", "fast deep float32 batch 64"):
        assert row in names, row
    try:
        import torch  # noqa: F401
        assert "PyTorch" in names
    except ImportError:
        assert "PyTorch is not installed" in out


# --- user errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["--seed", "-1"], "argument --seed: must be a whole number >= 0, got -1"),
    (["--lr-decay", "0"], "argument --lr-decay: must be a number in (0, 1], got 0"),
    (["--lr-decay", "1.5"], "argument --lr-decay: must be a number in (0, 1], got 1.5"),
    (["--epochs", "-1"], "argument --epochs: must be a whole number >= 0, got -1"),
    (["--epochs", "two"], "argument --epochs: must be a whole number, got 'two'"),
    (["--lr", "-1"], "argument --lr: must be a number in (0, inf), got -1"),
    (["--lr", "inf"], "argument --lr: must be a number in (0, inf), got inf"),
    (["--batch-size", "0"], "argument --batch-size: must be a whole number >= 1, got 0"),
    (["--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
    (["--train-size", "5000"], "train_size must be between 1 and 1000 (the images available), got 5000"),
    (["--test-size", "1001", "--batch-size", "8"], "test_size must be between 1 and 1000"),
])
def test_bad_arguments_are_user_errors(capsys, args, fragment):
    assert_user_error(*run_main(capsys, "train", *args), fragment)


def test_bad_arguments_are_user_errors_on_the_real_command_line():
    for args in (["--seed", "-1"], ["--train-size", "5000"]):
        result = run_cli("train", *args)
        assert_user_error(result.returncode, result.stdout, result.stderr)


@pytest.mark.parametrize("make, fragment", [
    (lambda tmp: tmp / "weights.pt", "checkpoint path must end in .npz"),
    (lambda tmp: (tmp / "file").write_text("x") and tmp / "file" / "w.npz", "is a file, not a folder"),
    (lambda tmp: (tmp / "folder.npz").mkdir() or tmp / "folder.npz", "is a folder; give a file name ending in .npz"),
])
def test_an_unusable_save_path_is_refused_before_training(capsys, tmp_path, make, fragment):
    status, out, err = run_main(capsys, "train", "--epochs", "1", "--train-size", "20", "--save", str(make(tmp_path)))
    assert_user_error(status, out, err, fragment)
    assert out == ""


def test_a_read_only_folder_is_refused_before_training(capsys, tmp_path, monkeypatch):
    """The tests may run as root, for whom chmod does not stop writing: os.access is patched."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != folder and real_access(path, mode))
    status, out, err = run_main(capsys, "train", "--batch-size", "8", "--epochs", "1", "--train-size", "16",
                                "--save", str(folder / "w.npz"))
    assert_user_error(status, out, err, "is not writable")
    assert out == "" and list(folder.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write to a read-only folder")
def test_a_read_only_folder_is_refused_for_real(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = run_cli("train", "--epochs", "1", "--train-size", "20", "--save", str(folder / "w.npz"))
    finally:
        folder.chmod(0o700)
    assert_user_error(result.returncode, result.stdout, result.stderr, "is not writable")


@pytest.mark.parametrize("args", [
    ["--lr", "1e6", "--train-size", "50", "--epochs", "1"],                       # the loop run
    ["--batch-size", "8", "--lr", "1e9", "--train-size", "50", "--epochs", "1"],  # a fast run
], ids=["loop", "fast"])
def test_a_diverging_run_is_a_user_error_and_saves_nothing(tmp_path, args):
    checkpoint = tmp_path / "diverged.npz"
    result = run_cli("train", *args, "--test-size", "10", "--save", str(checkpoint))
    assert_user_error(result.returncode, result.stdout, result.stderr, "training diverged", "learning rate",
                      trained=True)
    assert "Warning" not in result.stderr       # no NumPy overflow warnings on the way
    assert "Test Accuracy" not in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_loading_a_file_with_nan_weights_says_nan(capsys, tmp_path):
    path = save_checkpoint(TutorialCNN(np.random.default_rng(0)), tmp_path / "nan.npz")
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["softmax.weights"][0, 0] = np.nan
    np.savez(path, **arrays)
    status, out, err = run_main(capsys, "train", "--epochs", "0", "--test-size", "10", "--load", str(path))
    assert_user_error(status, out, err, "'softmax.weights' holds NaN")


def test_loading_a_text_file_says_it_is_not_a_checkpoint(capsys, tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not weights\n")
    status, out, err = run_main(capsys, "train", "--epochs", "0", "--test-size", "10", "--load", str(path))
    assert_user_error(status, out, err, "is not a checkpoint")
    assert "pickle" not in err


def test_loading_a_checkpoint_into_the_wrong_kind_of_run_says_what_to_add(capsys, tmp_path):
    fast = save_checkpoint(tutorial_model(np.random.default_rng(0), np.float32), tmp_path / "fast.npz")
    status, out, err = run_main(capsys, "train", "--epochs", "0", "--test-size", "10", "--load", str(fast))
    assert_user_error(status, out, err, "holds a fast 'tutorial' model; add --model tutorial")
    status, out, err = run_main(capsys, "train", "--model", "tutorial", "--dtype", "float64", "--epochs", "0",
                                "--test-size", "10", "--load", str(fast))
    assert_user_error(status, out, err, "choose --model and --dtype to match it")
    loop = save_checkpoint(TutorialCNN(np.random.default_rng(0)), tmp_path / "loop.npz")
    status, out, err = run_main(capsys, "train", "--batch-size", "8", "--epochs", "0", "--test-size", "10",
                                "--load", str(loop))
    assert_user_error(status, out, err, "holds a TutorialCNN that is not the tutorial model")


def test_ctrl_c_exits_130_and_says_nothing_was_saved(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cnn_lib.cli.train, "run_train", interrupted)
    status, out, err = run_main(capsys, "train")
    assert status == EXIT_INTERRUPTED == 130
    assert "error: interrupted; nothing was saved." in err and "Traceback" not in err


# --- full MNIST ------------------------------------------------------------------------------------------

def test_full_data_from_mnist_dir(shared_mnist_dir):
    result = run_cli("train", "--data", "full", "--batch-size", "50", "--epochs", "1", "--train-size", "100",
                     "--test-size", "50", "--no-progress", env={"MNIST_DIR": str(shared_mnist_dir)})
    assert result.returncode == 0, result.stderr
    assert "Summary: 1 epoch(s) on 100 full training images" in result.stdout
    assert "on 50 test images" in result.stdout


def test_full_data_missing_gives_a_clear_error(tmp_path):
    result = run_cli("train", "--data", "full", "--epochs", "0", env={"MNIST_DIR": str(tmp_path)})
    assert_user_error(result.returncode, result.stdout, result.stderr, "MNIST_DIR", "train-images-idx3-ubyte.gz")
