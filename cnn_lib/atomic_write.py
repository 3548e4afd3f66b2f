"""Write a file so that it is either complete or absent: never half-written.

Checkpoints and downloaded data are written through ``atomic_write``: the
bytes go to a temporary file beside the target, which is renamed over the
target (``os.replace``, atomic on one file system) only when everything was
written. If anything goes wrong before that, an exception, Ctrl-C (SIGINT)
or a polite kill (SIGTERM), the temporary file is deleted and the target is
left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import threading
from pathlib import Path
from typing import IO, Iterator

TEMPORARY_SUFFIX = ".part"


class Terminated(BaseException):
    """Raised inside ``atomic_write`` when the process receives SIGTERM, so the clean-up runs."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into a ``Terminated`` exception while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a temporary file for writing bytes; on success it becomes ``path``.

    Usage::

        with atomic_write("weights.npz") as file:
            np.savez(file, **arrays)

    The temporary file is ``<path>.<random>.part`` in the same folder, created
    with the usual permissions (0666 less the umask, as ``open`` gives). On an
    exception, SIGINT or SIGTERM it is removed and the error goes on (SIGTERM
    as ``Terminated``, after which the process should exit).
    """
    path = Path(path)
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with _sigterm_raises():
            with os.fdopen(descriptor, "wb") as file:
                yield file
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
