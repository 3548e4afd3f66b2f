"""``python -m cnn_lib bench``: how fast does each version train?

Three tables from one run, in training images per second (forward, backward
and one optimiser step, on real MNIST digits from the shipped subset):

1. **one thread** for every contender: the fast models with one worker and
   NumPy's BLAS library limited to one thread, ``torch.set_num_threads(1)``;
2. **all cores** for every contender: the fast models as they run by default
   (two workers, one BLAS thread each, the halves of a batch at once when
   they are big enough: ``cnn_lib.fast.threads``) and, for
   comparison, one worker with a BLAS thread per core; PyTorch with
   ``torch.set_num_threads(cores)``;
3. **one core busy**: another process spins on one core (as a browser or a
   second notebook would) while every contender runs with its defaults, and
   the fast tutorial network also with a BLAS thread per core.

Rows: the readable loop layers (``TutorialCNN.train``, one image per step),
the fast tutorial model at batch 1 and 64 in float32 and float64 with SGD,
the fast deep model at batch 64 with Adam, and PyTorch on the CPU with the
same networks when ``torch`` is importable (it is not a dependency of this
project; without it those rows are skipped). Each ratio compares rows of the
same table. Each row is warmed up; then the rows of a table are timed in
turn, round after round, and the table shows each row's median: a machine
whose speed drifts (other programs, a shared virtual machine) slows every
row of a round alike. Compare rows of one run, not numbers of different runs.
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
from ..fast import (SGD, Adam, blas_threads, deep_model, train_on_batch, tutorial_model, use_blas_threads,
                    use_workers, workers)
from ..fast.threads import AT_ONCE_FROM
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


def rate(step: Callable[[], None], images_per_step: int, seconds: float) -> float:
    """Images/s of ``step`` run for about ``seconds`` (at least twice)."""
    start = time.perf_counter()
    step()
    once = max(time.perf_counter() - start, 1e-6)
    steps = max(2, int(seconds / once))
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * images_per_step / (time.perf_counter() - start)


@contextlib.contextmanager
def numpy_threads(threads: int, num_workers: int = 1):
    """The fast models with ``num_workers`` workers and NumPy's BLAS library at ``threads`` threads."""
    blas_before, workers_before = blas_threads(), workers()
    use_blas_threads(threads)
    use_workers(num_workers)
    try:
        with ThreadpoolController().limit(limits=threads, user_api="blas"):
            yield
    finally:
        use_blas_threads(blas_before)
        use_workers(workers_before)


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """PyTorch with ``threads`` threads (``None``: its default)."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def loop_step(images: np.ndarray, labels: np.ndarray) -> Callable[[], None]:
    net = TutorialCNN(np.random.default_rng(0))
    state = {"k": 0}

    def step():
        k = state["k"] = (state["k"] + 1) % len(images)
        net.train(images[k], int(labels[k]), 0.005)

    return step


def fast_step(network: str, dtype, batch: int, images, labels) -> Callable[[], None]:
    make, optimizer = (tutorial_model, SGD(0.005)) if network == "tutorial" else (deep_model, Adam())
    model = make(np.random.default_rng(0), dtype)
    y = labels.astype(np.int64)
    batches = [(images[i:i + batch], y[i:i + batch]) for i in range(0, len(images) - batch + 1, batch)]
    state = {"k": 0}

    def step():
        k = state["k"] = (state["k"] + 1) % len(batches)
        train_on_batch(model, *batches[k], optimizer)

    return step


def torch_step(network: str, batch: int, images, labels) -> Callable[[], None]:
    """The same network in PyTorch on the CPU, float32."""
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

    return step


def row_name(family: str, network: str, batch: int, dtype: str = "float32", note: str = "") -> str:
    """A row's name, e.g. ``"fast deep float32 batch 64 (Adam)"`` (the deep network trains with Adam)."""
    return f"{family} {network} {dtype} batch {batch}{' (Adam)' if network == 'deep' else ''}{note}"


def contender(what: str, network: str, batch: int, make: Callable[[], Callable[[], None]], setting,
              torch: bool = False) -> dict:
    """One row: ``make()`` builds its training step, run inside the ``with setting()`` block."""
    return dict(what=what, network=network, batch=batch, make=make, setting=setting, torch=torch)


def time_rows(rows: list[dict], seconds: float, repeats: int) -> list[dict]:
    """Warm every row up, then time the rows in turn, ``repeats`` rounds; each row gets its median."""
    for row in rows:
        with row["setting"]():
            row["step"] = row["make"]()
            row["step"]()
        row["rates"] = []
    for _ in range(repeats):
        for row in rows:
            with row["setting"]():
                row["rates"].append(rate(row["step"], row["batch"], seconds))
    for row in rows:
        row["rate"] = statistics.median(row.pop("rates"))
        del row["step"], row["make"]
    return rows


def setting_rows(setting: str, images, labels, has_torch: bool) -> list[dict]:
    """The rows of the "one thread" or the "all cores" table."""
    if setting == "one thread":
        numpy, pytorch = (lambda: numpy_threads(1, 1)), (lambda: torch_threads(1))
    else:
        numpy, pytorch = (lambda: numpy_threads(1, min(2, CORES))), (lambda: torch_threads(CORES))
    rows = [contender("loop layers (TutorialCNN.train)", "tutorial", 1, lambda: loop_step(images, labels), numpy)]
    for batch in (1, 64):
        for dtype in (np.float64, np.float32):
            rows.append(contender(row_name("fast", "tutorial", batch, np.dtype(dtype).name), "tutorial", batch,
                                  lambda d=dtype, b=batch: fast_step("tutorial", d, b, images, labels), numpy))
    rows.append(contender(row_name("fast", "deep", 64), "deep", 64,
                          lambda: fast_step("deep", np.float32, 64, images, labels), numpy))
    if setting == "all cores" and CORES > 1:
        blas = lambda: numpy_threads(CORES, 1)  # noqa: E731
        for network in ("tutorial", "deep"):
            rows.append(contender(row_name("fast", network, 64, note=f", 1 worker with {CORES} BLAS threads"), network, 64,
                                  lambda n=network: fast_step(n, np.float32, 64, images, labels), blas))
    if has_torch:
        for network, batch in (("tutorial", 1), ("tutorial", 64), ("deep", 64)):
            rows.append(contender(row_name("PyTorch", network, batch), network, batch, lambda n=network, b=batch: torch_step(n, b, images, labels),
                                  pytorch, torch=True))
    return rows


def busy_rows(images, labels, has_torch: bool) -> list[dict]:
    """Every contender with its default threads, and the fast tutorial network with a BLAS thread per core."""
    default = contextlib.nullcontext
    rows = [contender("loop layers (TutorialCNN.train)", "tutorial", 1, lambda: loop_step(images, labels), default)]
    for network in ("tutorial", "deep"):
        rows.append(contender(row_name("fast", network, 64, note=f", its defaults ({workers()} workers, "
                                                                f"{blas_threads()} BLAS thread each)"), network, 64,
                              lambda n=network: fast_step(n, np.float32, 64, images, labels), default))
    rows.append(contender(row_name("fast", "tutorial", 64, note=f", 1 worker with {CORES} BLAS threads"), "tutorial", 64,
                          lambda: fast_step("tutorial", np.float32, 64, images, labels),
                          lambda: numpy_threads(CORES, 1)))
    if has_torch:
        for network in ("tutorial", "deep"):
            rows.append(contender(row_name("PyTorch", network, 64, note=", its default threads"), network, 64,
                                  lambda n=network: torch_step(n, 64, images, labels), default, torch=True))
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
    seconds, repeats = (0.02, 1) if quick else (0.5, 5)
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
    print(f"fast models by default: {workers()} worker(s), {blas_threads()} BLAS thread each, the two halves of a batch "
          f"at once from {AT_ONCE_FROM:,} multiply-adds each (cnn_lib.fast.threads)")
    print(f"training images/s (forward + backward + update): median of {repeats} round(s), ~{seconds} s per row "
          "and round, the rows of a table timed in turn")
    tables = [("one thread", f"One thread for every contender: the fast models 1 worker, NumPy's BLAS 1 thread, "
                             "torch.set_num_threads(1)"),
              ("all cores", f"All cores for every contender: the fast models {min(2, CORES)} workers with 1 BLAS "
                            f"thread each (the halves at once when big enough), torch.set_num_threads({CORES})")]
    for setting, title in tables:
        print(f"\n### {title}\n")
        print(format_table(time_rows(setting_rows(setting, images, labels, torch is not None), seconds, repeats)))
    if CORES > 1:
        print("\n### One core kept busy by another process: every contender with its default threads\n")
        with one_core_busy():
            rows = time_rows(busy_rows(images, labels, torch is not None), seconds, repeats)
        print(format_table(rows))
    return 0
