"""How many threads the BLAS library under NumPy (OpenBLAS) may use for the fast models.

The fast layers spend most of their time in matrix products (``@``), which
NumPy hands to its BLAS library. OpenBLAS starts one thread per core and
splits each product between them. For the small products of these networks
that does not pay (measured with ``python -m cnn_lib bench``: one thread is
as fast as two on an idle machine), and when another program keeps a core
busy (on a learner's machine there is always a browser beside the kernel) it
is a disaster: OpenBLAS's threads wait for each other at every product, and
training ran 5-7x slower than on one thread (measured: the bench's "one core
busy" rows).

So ``Sequential`` runs its forward and backward passes with the BLAS threads
limited to ``blas_threads()`` (1 by default), using ``threadpoolctl``, a
small, well-kept library that changes the limit of the BLAS library already
loaded and restores it afterwards (~20 microseconds a call). Nothing outside
the fast models is affected. ``use_blas_threads(None)`` turns the limit off;
``use_blas_threads(2)`` allows two threads (the bench's "all cores" rows).
"""

from __future__ import annotations

import contextlib

from threadpoolctl import ThreadpoolController

from ..require import require_positive_int

_limit: int | None = 1
_controller: ThreadpoolController | None = None


def blas_threads() -> int | None:
    """The number of BLAS threads the fast models use (``None``: whatever the BLAS library chose)."""
    return _limit


def use_blas_threads(limit: int | None) -> None:
    """Let the fast models use ``limit`` BLAS threads from now on (``None``: no limit)."""
    global _limit
    _limit = None if limit is None else require_positive_int("limit", limit)


def limited_blas_threads():
    """A ``with`` block in which NumPy's BLAS library uses at most ``blas_threads()`` threads."""
    global _controller
    if _limit is None:
        return contextlib.nullcontext()
    if _controller is None:   # created once: finding the loaded libraries takes ~0.5 ms
        _controller = ThreadpoolController()
    return _controller.limit(limits=_limit, user_api="blas")
