"""Threads for the fast models: one BLAS thread per worker, and two workers for a big batch.

The fast layers spend most of their time in matrix products (``@``), which
NumPy hands to its BLAS library. OpenBLAS starts one thread per core and
splits each product between them. For the small products of these networks
that does not pay (measured with ``python -m cnn_lib bench``: one thread is
as fast as two on an idle machine), and when another program keeps a core
busy (on a learner's machine there is always a browser beside the kernel) it
is a disaster: OpenBLAS's threads wait for each other at every product, and
training ran 2-7x slower than on one thread (measured several times: the
bench's "one core busy" table).

So ``Sequential`` runs its forward and backward passes with the BLAS threads
limited to ``blas_threads()`` (1 by default), using ``threadpoolctl``, a
small, well-kept library that changes the limit of the BLAS library already
loaded and restores it afterwards (a few microseconds a call). Nothing outside
the fast models is affected. ``use_blas_threads(None)`` turns the limit off;
``use_blas_threads(2)`` allows two threads.

The second core is used another way: ``Sequential.loss_and_grads`` splits a
batch into two halves (``batch_parts``) when they are big enough to be worth
computing at once (``halves_at_once``), and computes them at once, one in the
calling thread and one in a worker thread (NumPy releases Python's interpreter
lock inside its kernels, so both run at the same time), then combines the two
halves' gradients exactly as the mean over the whole batch. A smaller batch is
computed whole, in one pass (half as many NumPy calls as two halves in turn).
The split depends only on the network and the batch size, never on the number
of cores: with ``use_workers(1)`` (or on one core) the two halves run one after
the other and give the same numbers, so a training run does not depend on how
many cores computed it (another CPU's BLAS may still round differently). A busy
core only makes the worker wait its turn.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from threadpoolctl import ThreadpoolController

from ..require import require_positive_int

#: Batches of fewer images are always computed whole (see batch_parts).
SPLIT_FROM = 32

_limit: int | None = 1
_workers: int = min(2, os.cpu_count() or 1)
_controller: ThreadpoolController | None = None
_executor: ThreadPoolExecutor | None = None


def blas_threads() -> int | None:
    """The number of BLAS threads the fast models use (``None``: whatever the BLAS library chose)."""
    return _limit


def use_blas_threads(limit: int | None) -> None:
    """Let the fast models use ``limit`` BLAS threads from now on (``None``: no limit)."""
    global _limit
    _limit = None if limit is None else require_positive_int("limit", limit)


@contextlib.contextmanager
def limited_blas_threads():
    """A ``with`` block in which NumPy's BLAS library uses at most ``blas_threads()`` threads.

    threadpoolctl finds the BLAS libraries loaded in the process once (~0.5 ms); each block then
    only asks each library its thread count and changes it (and back) where it differs, a few
    microseconds (``ThreadpoolController.limit`` reads every library's information again
    each time: measured ~3% of a training step of the tutorial's network at batch size 64).
    """
    global _controller
    if _limit is None:
        yield
        return
    if _controller is None:
        _controller = ThreadpoolController().select(user_api="blas")
    changed = []
    try:
        for library in _controller.lib_controllers:
            threads = library.get_num_threads()
            if threads is not None and threads > _limit:
                library.set_num_threads(_limit)
                changed.append((library, threads))
        yield
    finally:
        for library, threads in changed:
            library.set_num_threads(threads)


def workers() -> int:
    """How many threads compute the halves of a batch at once (1 or 2)."""
    return _workers


def use_workers(count: int) -> None:
    """Compute the two halves of a batch in ``count`` threads: 2 (the default on a machine with
    several cores) or 1 (one after the other). The numbers are the same either way."""
    global _workers
    count = require_positive_int("count", count)
    if count > 2:
        raise ValueError(f"use_workers takes 1 or 2 (a batch is split in two halves), but got {count}.")
    _workers = count


def batch_parts(n: int, multiply_adds_per_image: int) -> list[slice]:
    """The parts a batch of ``n`` images is computed in: two halves when they are worth running at
    once (``n >= SPLIT_FROM`` and ``halves_at_once``), else the whole batch in one part."""
    if n < SPLIT_FROM or not halves_at_once(multiply_adds_per_image * (n // 2)):
        return [slice(0, n)]
    return [slice(0, n // 2), slice(n // 2, n)]


#: Two halves of a batch run at once only from this many multiply-adds per half (see halves_at_once).
AT_ONCE_FROM = 2_500_000


def halves_at_once(multiply_adds_per_half: int) -> bool:
    """Whether a batch is worth splitting into two halves that run at once (two workers).

    At once is not always faster: each NumPy call releases Python's interpreter lock and takes it back,
    and when the calls are short the two threads spend their time handing the lock to each other.
    Measured here (2 cores, float32): the tutorial's network at batch size 64 (2.0 million multiply-adds
    per half, in ~30 NumPy calls of tens of microseconds) ran at 0.8-0.96x the speed of one worker at
    once, at 128 (4.0 million) 1.2x, at 256 1.4-1.6x; the deep network at 64 (36 million) 1.7x. So the
    halves run at once from ``AT_ONCE_FROM`` multiply-adds each. A batch below that is not split at all:
    two halves one after the other make twice the NumPy calls of one pass (measured: the tutorial's
    network at batch 64 trained 1.09-1.13x faster whole than in two halves in turn, in one process,
    alternating rounds of the two).
    """
    return multiply_adds_per_half >= AT_ONCE_FROM


def run_parts(work: Callable[[int], object], num_parts: int, at_once: bool = True) -> list:
    """``[work(0), work(1), ...]``: part 0 in this thread, the others in a worker thread when
    ``workers()`` is 2 and ``at_once``, else one after the other here. A worker's exception is
    raised here."""
    global _executor
    if num_parts == 1 or _workers == 1 or not at_once:
        return [work(part) for part in range(num_parts)]
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnn_lib-worker")
    futures = [_executor.submit(work, part) for part in range(1, num_parts)]
    first = work(0)
    return [first] + [future.result() for future in futures]
