"""Downloading one MNIST file from the mirrors into the cache.

For each mirror in turn: ask for the file with ``urllib.request`` (waiting at
most ``timeout`` seconds to connect and for each read), copy the answer chunk
by chunk into a temporary file in the cache (``atomic_write``), check it
(``read_idx_gz``), and only then give it its real name. A failed or
interrupted download never leaves a bad file where a good one is expected.

A mirror that keeps sending a few bytes now and then never times out, so each
file also has a ``deadline``: if it has not fully arrived that many seconds
after the request, the mirror is abandoned.

``atomic_write`` deletes its temporary file on an error, Ctrl-C or SIGTERM;
a download killed outright (SIGKILL, power cut) still leaves one behind, so
each download starts by removing such leftovers (``remove_stale_temporaries``).

Whatever goes wrong with one mirror (an HTTP error, a refused or cut
connection, a timeout, an answer that is not HTTP, an invalid URL, a bad
file), the next mirror is tried. Only Ctrl-C and the like stop at once.

Nothing here changes the state of the whole process: there is no
``socket.setdefaulttimeout`` and no patching of other modules.
"""

from __future__ import annotations

import http.client
import io
import logging
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np

from ..atomic_write import TEMPORARY_SUFFIX, atomic_write
from .errors import MNISTDownloadError, MNISTVerificationError
from .files import EXPECTED, FILENAMES, SUBSET_HINT, read_idx_gz, what_to_do

log = logging.getLogger(__name__)

#: Mirrors of the original MNIST files, tried in this order. The original host
#: (yann.lecun.com, the ``mnist`` package's default) now answers HTTP 403.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

CHUNK_SIZE = 64 * 1024  # bytes read from the network at a time

#: A temporary file or folder in the cache unchanged for this many seconds is
#: left over from a killed download: a running download writes to its own
#: temporary file all the time, so it is never this old.
STALE_AFTER = 10 * 60


class _MirrorFailed(Exception):
    """This mirror's answer is unusable; the message says why."""


class _TooSlow(Exception):
    """The file did not arrive before its deadline."""

    def __init__(self, received: int) -> None:
        super().__init__(f"{received} bytes arrived before the deadline")
        self.received = received


def _max_download_size(name: str) -> int:
    """An upper bound for the .gz file: compression never makes MNIST much
    bigger than its decompressed size, so anything larger is not the file."""
    size = EXPECTED[name]["size"]
    return size + size // 100 + 64 * 1024


def _copy_answer(
    response: http.client.HTTPResponse, file: BinaryIO, limit: int, give_up_at: float | None
) -> bytes:
    """Copy the body of ``response`` into ``file`` chunk by chunk and return
    all of it (at most ``limit`` bytes, a few MB for MNIST), so it can be
    checked before the file gets its real name.

    ``give_up_at`` is a ``time.monotonic()`` time (None: no deadline); it is
    checked each time data arrives."""
    received = bytearray()
    while True:
        chunk = response.read1(CHUNK_SIZE)  # whatever has arrived, up to CHUNK_SIZE bytes
        if not chunk:
            break
        received += chunk
        if len(received) > limit:
            raise _MirrorFailed(f"the answer is larger than {limit} bytes, too big to be this file")
        if give_up_at is not None and time.monotonic() > give_up_at:
            raise _TooSlow(len(received))
        file.write(chunk)
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and len(received) < int(declared):
        # The server promised more than it sent before closing the connection.
        raise http.client.IncompleteRead(bytes(received), int(declared) - len(received))
    return bytes(received)


def _fetch(
    url: str, name: str, target: Path, timeout: float | None, deadline: float | None
) -> np.ndarray:
    """Download ``url`` to ``target`` through a temporary file; return its verified data."""
    give_up_at = None if deadline is None else time.monotonic() + deadline
    with urllib.request.urlopen(url, timeout=timeout) as response:
        with atomic_write(target) as file:
            received = _copy_answer(response, file, _max_download_size(name), give_up_at)
            # Checked before the ``with`` block ends: if the file is bad, the
            # exception makes atomic_write delete the temporary file.
            return read_idx_gz(io.BytesIO(received), name, url)


def _describe(exc: BaseException, timeout: float | None, deadline: float | None) -> str:
    """A short plain-language description of why a mirror failed."""
    if isinstance(exc, MNISTVerificationError):
        return f"downloaded, but the file is bad: {exc}"
    if isinstance(exc, _TooSlow):
        return (
            f"gave up after {deadline} s, too slow: only {exc.received} bytes had arrived "
            "(on a slow connection, allow more time with load_full(deadline=...))"
        )
    if isinstance(exc, _MirrorFailed):
        return str(exc)
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout} s (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"host name not found ({exc}); are you offline?"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, http.client.BadStatusLine):
        return f"the answer is not HTTP (it starts with {str(exc.line).strip()[:40]!r})"
    if isinstance(exc, http.client.IncompleteRead):
        missing = f" ({exc.expected} more bytes were expected)" if exc.expected else ""
        return f"the transfer was cut short{missing}"
    if isinstance(exc, ValueError):
        return f"not a URL that can be downloaded ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _prepare_cache(cache: Path, name: str, subset_hint: str) -> None:
    """Create the cache folder if needed and make sure it can be written to."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        problem = None if os.access(cache, os.W_OK) else "permission denied"
    except OSError as exc:
        problem = str(exc)
    if problem:
        raise MNISTDownloadError(
            f"{cache}: expected a writable cache folder for {name} but it cannot be "
            f"written to ({problem}); set CNN_FROM_SCRATCH_CACHE to a writable folder, "
            f"or {what_to_do(subset_hint)}."
        )


def remove_stale_temporaries(cache: Path) -> None:
    """Delete what killed downloads left in ``cache``: ``<file>.<random>.part``
    files (``atomic_write``'s temporaries) and ``.download-*`` folders (made by
    earlier versions of this code), once unchanged for ``STALE_AFTER`` seconds.
    Fresher ones may belong to a download running in another process: kept."""
    patterns = [f"{name}.*{TEMPORARY_SUFFIX}" for name in FILENAMES] + [".download-*"]
    now = time.time()
    for pattern in patterns:
        for path in cache.glob(pattern):
            try:
                if now - path.lstat().st_mtime < STALE_AFTER:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError as exc:  # already gone, or not ours to delete: no harm done
                log.debug("Could not remove %s: %s", path, exc)
                continue
            log.info("Removed %s, left over from an interrupted download", path)


def download(
    name: str,
    cache: Path,
    mirrors: Sequence[str],
    timeout: float | None,
    deadline: float | None,
    subset_hint: str = SUBSET_HINT,
) -> np.ndarray:
    """Download the MNIST file ``name`` into the folder ``cache`` and return its data.

    Args:
        name: one of ``FILENAMES``.
        cache: the folder it is saved in, as ``cache / name``.
        mirrors: base URLs, tried in order until one gives a good file.
        timeout: seconds to wait for a connection or for each read (None: forever).
        deadline: seconds one mirror may take for the whole file (None: no limit).
            It is checked whenever data arrives, so a read that stalls can add
            up to ``timeout`` seconds.
        subset_hint: how the advice in error messages names the shipped subset.

    Returns:
        The verified data: ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels.

    Raises:
        MNISTDownloadError: every mirror failed (the message lists why), or the
            cache cannot be written to.
    """
    _prepare_cache(cache, name, subset_hint)
    remove_stale_temporaries(cache)
    failures: list[str] = []
    for mirror in mirrors:
        url = (mirror if mirror.endswith("/") else mirror + "/") + name
        log.info("Downloading %s", url)
        try:
            data = _fetch(url, name, cache / name, timeout, deadline)
        except Exception as exc:  # anything wrong with this mirror: try the next one
            failures.append(f"  {url}: {_describe(exc, timeout, deadline)}")
            continue
        log.info("Saved %s", cache / name)
        return data

    raise MNISTDownloadError(
        f"{cache / name}: expected to download {name} but every mirror failed:\n"
        + "\n".join(failures or ["  (no mirrors were given)"])
        + f"\nWhat to do: {what_to_do(subset_hint)}."
    )
