"""``python -m cnn_lib bench``: how fast does each version train?

Three tables from one run, in training images per second (forward, backward
and one optimiser step, on real MNIST digits from the shipped subset):

1. **one thread** for every contender: NumPy's BLAS library limited to one
   thread, ``torch.set_num_threads(1)``;
2. **all cores** for every contender: NumPy's BLAS library and PyTorch with one
   thread per core;
3. **one core busy**: another process spins on one core (as a browser or a
   second notebook would) while the fast tutorial network trains with the
   library's default (one BLAS thread, ``cnn_lib.fast.threads``) and, for
   contrast, with a BLAS thread per core; PyTorch with its default threads.

Rows: the readable loop layers (``TutorialCNN.train``, one image per step),
the fast tutorial model at batch 1 and 64 in float32 and float64 with SGD,
the fast deep model at batch 64 with Adam, and PyTorch on the CPU with the
same networks when ``torch`` is importable (it is not a dependency of this
project; without it those rows are skipped). Each ratio compares rows of the
same table. Each row is warmed up, then timed several times; the table shows
the median. Other programs running at the same time slow every row, so
compare rows of one run rather than numbers of different runs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import platform
import statistics
import time
from typing import Callable

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info

from ..data import load_subset
from ..digits import preprocess_batch
from ..fast import SGD, Adam, blas_threads, deep_model, train_on_batch, tutorial_model, use_blas_threads
from ..network import TutorialCNN

CORES = os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> str:
    """NumPy's BLAS library, its version, the CPU kernels it chose and its default threads."""
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            core = f", kernels for {info['architecture']}" if info.get("architecture") else ""
            return (f"{info.get('internal_api', '?')} {info.get('version') or ''}".strip()
                    + f"{core}, {info.get('num_threads')} threads by default")
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


@contextlib.contextmanager
def numpy_threads(threads: int):
    """NumPy's BLAS library, and the fast models' own limit, at ``threads`` threads."""
    before = blas_threads()
    use_blas_threads(threads)
    try:
        with ThreadpoolController().limit(limits=threads, user_api="blas"):
            yield
    finally:
        use_blas_threads(before)


def loop_row(images: np.ndarray, labels: np.ndarray, seconds: float, repeats: int) -> dict:
    net = TutorialCNN(np.random.default_rng(0))
    state = {"k": 0}

    def step():
        k = state["k"] = (state["k"] + 1) % len(images)
        net.train(images[k], int(labels[k]), 0.005)

    return dict(what="loop layers (TutorialCNN.train)", network="tutorial", batch=1, dtype="float64",
                rate=measure(step, 1, seconds, repeats))


def fast_row(network: str, dtype, batch: int, images, labels, seconds: float, repeats: int, note: str = "") -> dict:
    make, optimizer = (tutorial_model, SGD(0.005)) if network == "tutorial" else (deep_model, Adam())
    model = make(np.random.default_rng(0), dtype)
    y = labels.astype(np.int64)
    batches = [(images[i:i + batch], y[i:i + batch]) for i in range(0, len(images) - batch + 1, batch)]
    state = {"k": 0}

    def step():
        k = state["k"] = (state["k"] + 1) % len(batches)
        train_on_batch(model, *batches[k], optimizer)

    name = np.dtype(dtype).name
    what = f"fast {network} {name} batch {batch}" + (" (Adam)" if network == "deep" else "") + note
    return dict(what=what, network=network, batch=batch, dtype=name, rate=measure(step, batch, seconds, repeats))


def torch_row(network: str, batch: int, images, labels, seconds: float, repeats: int, note: str = "") -> dict:
    """The same network in PyTorch on the CPU, float32, with PyTorch's current number of threads."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    X = torch.from_numpy(preprocess_batch(images, np.float32).transpose(0, 3, 1, 2).copy())  # NCHW
    y = torch.from_numpy(labels.astype(np.int64))
    if network == "tutorial":
        model = nn.Sequential(nn.Conv2d(1, 8, 3, bias=False), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(13 * 13 * 8, 10))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.005)
    else:
        model = nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    batches = [(X[i:i + batch], y[i:i + batch]) for i in range(0, len(X) - batch + 1, batch)]
    state = {"k": 0}

    def step():
        k = state["k"] = (state["k"] + 1) % len(batches)
        xb, yb = batches[k]
        optimizer.zero_grad()
        loss_fn(model(xb), yb).backward()
        optimizer.step()

    what = f"PyTorch {network} float32 batch {batch}" + (" (Adam)" if network == "deep" else "") + note
    return dict(what=what, network=network, batch=batch, dtype="float32", torch=True,
                rate=measure(step, batch, seconds, repeats))


def setting_rows(threads: int, images, labels, seconds: float, repeats: int, has_torch: bool) -> list[dict]:
    """Every row with NumPy's BLAS and PyTorch both at ``threads`` threads."""
    with numpy_threads(threads):
        rows = [loop_row(images, labels, seconds, repeats)]
        for batch in (1, 64):
            for dtype in (np.float64, np.float32):
                rows.append(fast_row("tutorial", dtype, batch, images, labels, seconds, repeats))
        rows.append(fast_row("deep", np.float32, 64, images, labels, seconds, repeats))
    if has_torch:
        import torch
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            rows += [torch_row(network, batch, images, labels, seconds, repeats)
                     for network, batch in (("tutorial", 1), ("tutorial", 64), ("deep", 64))]
        finally:
            torch.set_num_threads(before)
    return rows


def spin() -> None:
    """Keep one core busy (the bench's other process)."""
    while True:
        pass


@contextlib.contextmanager
def one_core_busy():
    """Another process spinning on one core, for the length of the ``with`` block."""
    process = multiprocessing.get_context("spawn").Process(target=spin, daemon=True)
    process.start()
    time.sleep(0.5)  # let it start spinning
    try:
        yield
    finally:
        process.terminate()
        process.join()


def busy_rows(images, labels, seconds: float, repeats: int, has_torch: bool) -> list[dict]:
    """The fast tutorial network (and PyTorch's) while another process keeps one core busy."""
    with one_core_busy():
        rows = [loop_row(images, labels, seconds, repeats)]
        default = f", BLAS {blas_threads()} thread{'s' if blas_threads() != 1 else ''} (the default)"
        rows.append(fast_row("tutorial", np.float32, 64, images, labels, seconds, repeats, note=default))
        with numpy_threads(CORES):
            rows.append(fast_row("tutorial", np.float32, 64, images, labels, seconds, repeats,
                                 note=f", BLAS {CORES} threads"))
        rows.append(fast_row("deep", np.float32, 64, images, labels, seconds, repeats, note=default))
        if has_torch:
            import torch
            rows += [torch_row(network, 64, images, labels, seconds, repeats,
                               note=f", {torch.get_num_threads()} threads (its default)")
                     for network in ("tutorial", "deep")]
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
    try:
        import torch
    except ImportError:
        torch = None
    print(f"cnn-from-scratch bench{' (--quick: rough numbers)' if quick else ''}")
    print(f"machine: {CORES} cores, {cpu_model()} ({platform.machine()}), Python {platform.python_version()}")
    env = ", ".join(f"{key}={os.environ[key]}" for key in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                                                            "OMP_NUM_THREADS", "MKL_NUM_THREADS")
                    if key in os.environ)
    print(f"numpy {np.__version__}, BLAS: {blas_info()}" + (f" ({env})" if env else ""))
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads by default" if torch else
          "PyTorch is not installed: its rows are skipped (pip install torch to compare).")
    print(f"training images/s (forward + backward + update), median of {repeats} timing(s) of ~{seconds} s each")
    settings = [("One thread for every contender: NumPy's BLAS 1 thread, torch.set_num_threads(1)", 1),
                (f"All cores for every contender: NumPy's BLAS {CORES} threads, torch.set_num_threads({CORES})", CORES)]
    for title, threads in settings:
        print(f"\n### {title}\n")
        print(format_table(setting_rows(threads, images, labels, seconds, repeats, torch is not None)))
    if CORES > 1:
        print("\n### One core kept busy by another process: each contender with its default threads\n")
        print(format_table(busy_rows(images, labels, seconds, repeats, torch is not None)))
    return 0
