"""``python -m cnn_lib bench``: how fast does each version train?

One table from one run, in training images per second (forward, backward and
one optimiser step, on real MNIST digits from the shipped subset):

- the readable loop layers (``TutorialCNN.train``, one image per step),
- the fast tutorial model (``fast.tutorial_model``) at batch 1 and 64, in
  float32 and float64, with SGD,
- the fast deep model (``fast.deep_model``) at batch 64 with Adam,
- PyTorch on the CPU with the same networks, when ``torch`` is importable
  (it is not a dependency of this project; without it those rows are skipped).

Each row is warmed up, then timed several times; the table shows the median.
Other programs running at the same time slow every row, so compare rows of
one run rather than numbers of different runs.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable

import numpy as np

from ..data import load_subset
from ..digits import preprocess_batch
from ..fast import SGD, Adam, deep_model, train_on_batch, tutorial_model
from ..network import TutorialCNN


def blas_info() -> str:
    """NumPy's BLAS library as its build configuration names it."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no mode="dicts"
        return "unknown"


def measure(step: Callable[[], None], images_per_step: int, seconds: float, repeats: int) -> float:
    """Median images/s of ``repeats`` timings of ``step`` run for about ``seconds`` each, after a warm-up."""
    step()
    start = time.perf_counter()
    step()
    once = max(time.perf_counter() - start, 1e-6)
    steps = max(1, int(seconds / once))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * images_per_step / (time.perf_counter() - start))
    return statistics.median(rates)


def numpy_rows(images: np.ndarray, labels: np.ndarray, seconds: float, repeats: int) -> list[dict]:
    rows = []
    net = TutorialCNN(np.random.default_rng(0))
    state = {"k": 0}

    def loop_step():
        k = state["k"] = (state["k"] + 1) % len(images)
        net.train(images[k], int(labels[k]), 0.005)

    rows.append(dict(what="loop layers (TutorialCNN.train)", network="tutorial", batch=1, dtype="float64",
                     rate=measure(loop_step, 1, seconds, repeats)))
    for batch in (1, 64):
        for dtype in (np.float64, np.float32):
            rows.append(dict(what=f"fast tutorial {np.dtype(dtype).name} batch {batch}", network="tutorial",
                             batch=batch, dtype=np.dtype(dtype).name,
                             rate=_fast_rate(tutorial_model, dtype, SGD(0.005), images, labels, batch, seconds, repeats)))
    rows.append(dict(what="fast deep float32 batch 64 (Adam)", network="deep", batch=64, dtype="float32",
                     rate=_fast_rate(deep_model, np.float32, Adam(), images, labels, 64, seconds, repeats)))
    return rows


def _fast_rate(make, dtype, optimizer, images, labels, batch, seconds, repeats) -> float:
    model = make(np.random.default_rng(0), dtype)
    y = labels.astype(np.int64)
    batches = [(images[i:i + batch], y[i:i + batch]) for i in range(0, len(images) - batch + 1, batch)]
    state = {"k": 0}

    def step():
        k = state["k"] = (state["k"] + 1) % len(batches)
        train_on_batch(model, *batches[k], optimizer)

    return measure(step, batch, seconds, repeats)


def torch_rows(images: np.ndarray, labels: np.ndarray, seconds: float, repeats: int) -> list[dict]:
    """The same networks in PyTorch on the CPU, float32, one thread per core."""
    import torch
    from torch import nn

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    X = torch.from_numpy(preprocess_batch(images, np.float32).transpose(0, 3, 1, 2).copy())  # NCHW
    y = torch.from_numpy(labels.astype(np.int64))
    networks = {
        "tutorial": lambda: nn.Sequential(nn.Conv2d(1, 8, 3, bias=False), nn.MaxPool2d(2), nn.Flatten(),
                                          nn.Linear(13 * 13 * 8, 10)),
        "deep": lambda: nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                      nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 10)),
    }
    rows = []
    for network, batch in (("tutorial", 1), ("tutorial", 64), ("deep", 64)):
        model = networks[network]()
        optimizer = (torch.optim.SGD(model.parameters(), lr=0.005) if network == "tutorial"
                     else torch.optim.Adam(model.parameters(), lr=0.001))
        loss_fn = nn.CrossEntropyLoss()
        batches = [(X[i:i + batch], y[i:i + batch]) for i in range(0, len(X) - batch + 1, batch)]
        state = {"k": 0}

        def step():
            k = state["k"] = (state["k"] + 1) % len(batches)
            xb, yb = batches[k]
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()

        what = f"PyTorch {torch.__version__} {network} float32 batch {batch}" + (" (Adam)" if network == "deep" else "")
        rows.append(dict(what=what, network=network, batch=batch, dtype="float32", torch=True,
                         rate=measure(step, batch, seconds, repeats)))
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table with ratios against the loop layers and against PyTorch (same network and batch)."""
    loop = next(row["rate"] for row in rows if row["what"].startswith("loop"))
    torch_rate = {(row["network"], row["batch"]): row["rate"] for row in rows if row.get("torch")}
    lines = ["| what | images/s | vs loop | vs PyTorch |", "|---|---:|---:|---:|"]
    for row in rows:
        reference = torch_rate.get((row["network"], row["batch"]))
        versus_torch = "-" if row.get("torch") or reference is None else f"{row['rate'] / reference:.2f}x"
        lines.append(f"| {row['what']} | {row['rate']:,.0f} | {row['rate'] / loop:,.0f}x | {versus_torch} |")
    return "\n".join(lines)


def run_bench(quick: bool = False) -> int:
    seconds, repeats = (0.02, 1) if quick else (1.0, 3)
    images, labels, _, _ = load_subset()
    images, labels = images[:640], labels[:640]
    print(f"cnn-from-scratch bench{' (--quick: rough numbers)' if quick else ''}")
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}")
    env = ", ".join(f"{key}={os.environ[key]}" for key in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS")
                    if key in os.environ)
    print(f"numpy {np.__version__}, BLAS: {blas_info()}" + (f" ({env})" if env else ""))
    print(f"training images/s (forward + backward + update), median of {repeats} timing(s) of ~{seconds} s each\n")
    rows = numpy_rows(images, labels, seconds, repeats)
    try:
        import torch  # noqa: F401
    except ImportError:
        note = "PyTorch is not installed: its rows are skipped (pip install torch to compare)."
    else:
        rows += torch_rows(images, labels, seconds, repeats)
        note = f"PyTorch threads: {os.cpu_count()} (torch.set_num_threads)."
    print(format_table(rows))
    print(f"\n{note}")
    return 0
