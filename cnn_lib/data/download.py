"""Downloading one MNIST file from the mirrors into the cache."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import urllib.error
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .errors import MNISTDownloadError, MNISTVerificationError
from .files import WHAT_TO_DO, read_idx_file

log = logging.getLogger(__name__)

#: Mirrors of the original MNIST files, tried in this order. The original host
#: (yann.lecun.com, the ``mnist`` package's default) now answers HTTP 403.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


@contextlib.contextmanager
def _socket_timeout(seconds: float | None) -> Iterator[None]:
    """Temporarily give every new network connection a timeout of ``seconds``
    (``mnist.download_file`` has no timeout parameter of its own).

    The default timeout is process-wide, so it is restored right after the download.
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _describe_network_error(exc: BaseException, timeout: float | None) -> str:
    """A short plain-language description of a failed download."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.ContentTooShortError):
        return "the download was cut short"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout} s (timed out)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"host name not found ({reason}); are you offline?"
    return f"{type(reason).__name__}: {reason}"


def download(name: str, cache: Path, mirrors: Sequence[str], timeout: float | None) -> np.ndarray:
    """Download ``name`` into ``cache`` and return its verified data.

    Each mirror is tried in turn. The file is downloaded into a fresh temporary
    folder inside ``cache``, verified there, and only then moved to
    ``cache/name`` (``os.replace``, which is atomic), so a failed or interrupted
    download never leaves a bad file where a good one is expected.
    """
    try:
        import mnist  # the PyPI package "mnist", used for the actual download
    except ImportError:
        raise MNISTDownloadError(
            f"{name}: downloading needs the 'mnist' package (pip install mnist); "
            f"alternatively {WHAT_TO_DO}."
        ) from None
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MNISTDownloadError(
            f"{cache}: expected a writable cache folder for {name} but it could not be "
            f"created ({exc}); set CNN_FROM_SCRATCH_CACHE to a writable folder, "
            f"or {WHAT_TO_DO}."
        ) from None

    failures: list[str] = []
    saved_url = mnist.datasets_url
    try:
        for mirror in mirrors:
            base = mirror if mirror.endswith("/") else mirror + "/"
            url = base + name
            try:
                tmp_dir = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
            except OSError as exc:
                raise MNISTDownloadError(
                    f"{cache}: expected a writable cache folder for {name} but could not "
                    f"write to it ({exc}); set CNN_FROM_SCRATCH_CACHE to a writable folder, "
                    f"or {WHAT_TO_DO}."
                ) from None
            try:
                log.info("Downloading %s", url)
                mnist.datasets_url = base
                try:
                    with _socket_timeout(timeout):
                        tmp_file = Path(mnist.download_file(name, target_dir=str(tmp_dir)))
                except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
                    failures.append(f"  {url}: {_describe_network_error(exc, timeout)}")
                    continue
                try:
                    data = read_idx_file(tmp_file, name)
                except MNISTVerificationError as exc:
                    failures.append(f"  {url}: downloaded, but the file is bad: {exc}")
                    continue
                os.replace(tmp_file, cache / name)
                log.info("Saved %s", cache / name)
                return data
            finally:
                shutil.rmtree(tmp_dir, ignore_errors=True)
    finally:
        mnist.datasets_url = saved_url

    raise MNISTDownloadError(
        f"{cache / name}: expected to download {name} but every mirror failed:\n"
        + "\n".join(failures or ["  (no mirrors were given)"])
        + f"\nWhat to do: {WHAT_TO_DO}."
    )
