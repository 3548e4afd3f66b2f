"""Test helpers for the MNIST download code: a tiny local HTTP server and
small synthetic IDX files. Nothing here touches the internet.

``LocalFileServer(root)`` serves the files under ``root`` on 127.0.0.1 at a
free port, in a background thread; ``server.url("m1")`` is the base URL of the
subfolder ``root/m1``. Paths listed in ``server.forced_status`` (e.g.
``{"/m1/": 403}``, matched by prefix) get that HTTP status instead, and paths
listed in ``server.misbehave`` (e.g. ``{"/m1/": "cut-chunked"}``) get one of the
broken answers in ``MISBEHAVIOURS``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import socket
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder, logs nothing, can force an HTTP status."""

    server: "_Server"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        self.server.default_timeouts.append(socket.getdefaulttimeout())
        for prefix, status in self.server.forced_status.items():
            if self.path.startswith(prefix):
                self.send_error(status)
                return
        for prefix, how in self.server.misbehave.items():
            if self.path.startswith(prefix):
                MISBEHAVIOURS[how](self)
                return
        super().do_GET()


def _cut_chunked(handler: _QuietHandler) -> None:
    """Chunked transfer: announce a 16 KiB chunk, send 100 bytes of it, hang up."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n" + b"x" * 100)


def _cut_length(handler: _QuietHandler) -> None:
    """Promise 5000 bytes (Content-Length), send 100, hang up."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)


def _not_http(handler: _QuietHandler) -> None:
    """Answer like an SSH server, not an HTTP one."""
    handler.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")


def _close(handler: _QuietHandler) -> None:
    """Hang up without answering."""


def _huge(handler: _QuietHandler) -> None:
    """Promise and start sending 1 GB of zeros (the client should stop early)."""
    size = 10**9
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    block = bytes(64 * 1024)
    with contextlib.suppress(OSError):
        for _ in range(size // len(block)):
            handler.wfile.write(block)


def _trickle(handler: _QuietHandler) -> None:
    """Promise 100,000 bytes, then send 10 bytes every 0.05 s (for 10 s at most)."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    with contextlib.suppress(OSError):  # the client hangs up
        for _ in range(200):
            handler.wfile.write(b"x" * 10)
            handler.wfile.flush()
            time.sleep(0.05)


#: Broken answers for ``server.misbehave``, by name.
MISBEHAVIOURS = {
    "cut-chunked": _cut_chunked,
    "cut-length": _cut_length,
    "not-http": _not_http,
    "close": _close,
    "huge": _huge,
    "trickle": _trickle,
}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]
    default_timeouts: list[float | None]
    forced_status: dict[str, int]
    misbehave: dict[str, str]


class LocalFileServer:
    """An HTTP server on 127.0.0.1 serving ``root``; use as a context manager
    or call ``start()`` / ``stop()``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        handler = partial(_QuietHandler, directory=str(self.root))
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.requests = []
        self._server.default_timeouts = []  # socket.getdefaulttimeout() seen by each request
        self._server.forced_status = {}
        self._server.misbehave = {}
        self._server.timeout = 5
        self.port = self._server.server_address[1]
        # A short poll interval makes stop() quick (serve_forever checks for
        # shutdown only this often).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.running = False

    @property
    def requests(self) -> list[str]:
        """Paths requested so far, in order."""
        return self._server.requests

    @property
    def default_timeouts(self) -> list[float | None]:
        """The process-wide socket timeout at the moment each request was served."""
        return self._server.default_timeouts

    @property
    def forced_status(self) -> dict[str, int]:
        return self._server.forced_status

    @property
    def misbehave(self) -> dict[str, str]:
        return self._server.misbehave

    def url(self, subdir: str = "") -> str:
        """Base URL (ending in '/') of ``root/subdir``."""
        return f"http://127.0.0.1:{self.port}/" + (f"{subdir.strip('/')}/" if subdir else "")

    def start(self) -> "LocalFileServer":
        self._thread.start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self.running = False
        self._server.server_close()

    def __enter__(self) -> "LocalFileServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# ---------------------------------------------------------------------------
# Synthetic IDX files
# ---------------------------------------------------------------------------

MAGIC = {"images": 0x00000803, "labels": 0x00000801}


def idx_bytes(kind: str, count: int, seed: int = 0) -> bytes:
    """Uncompressed IDX bytes of ``count`` random 28x28 images or labels 0-9."""
    rng = np.random.default_rng(seed)
    if kind == "images":
        dims = (count, 28, 28)
        data = rng.integers(0, 256, size=dims, dtype=np.uint8)
    else:
        dims = (count,)
        data = rng.integers(0, 10, size=dims, dtype=np.uint8)
    header = MAGIC[kind].to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + data.tobytes()


def expected_entry(kind: str, raw: bytes, count: int) -> dict:
    """An ``EXPECTED`` table entry describing the uncompressed bytes ``raw``."""
    return {
        "kind": kind,
        "count": count,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def gz(raw: bytes) -> bytes:
    """gzip ``raw`` deterministically (mtime 0)."""
    return gzip.compress(raw, mtime=0)
