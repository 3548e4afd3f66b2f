"""Tests for cnn_lib.data: the shipped subset, verification of IDX files, and
downloading through a LOCAL HTTP server (127.0.0.1 only; these tests run offline).

Downloads use tiny synthetic IDX files (a dozen images) and a patched
``data.EXPECTED`` table, so they are fast; broken mirrors (cut transfers,
answers that are not HTTP, trickling, ...) are answers of the local server
(see http_fixtures.MISBEHAVIOURS). The real MNIST files, when present in
../shared/data/mnist (or $MNIST_DIR), are used to check the real checksum
table, the shipped subset and tools/make_subset.py; those tests are skipped
otherwise.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import mnist
import numpy as np
import pytest

from cnn_lib import data
from cnn_lib.data import FILENAMES, MNISTDataError, MNISTDownloadError, MNISTVerificationError

try:
    from http_fixtures import LocalFileServer, closed_port_url, expected_entry, gz, idx_bytes
except ImportError:  # tests/ imported as a package
    from .http_fixtures import LocalFileServer, closed_port_url, expected_entry, gz, idx_bytes

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST_DIR = Path(os.environ.get("MNIST_DIR") or REPO_ROOT.parent / "shared" / "data" / "mnist")
HAVE_REAL_MNIST = all((REAL_MNIST_DIR / name).is_file() for name in FILENAMES)
needs_real_mnist = pytest.mark.skipif(
    not HAVE_REAL_MNIST, reason=f"real MNIST files not found in {REAL_MNIST_DIR}"
)

# Synthetic dataset: (kind, count) of each file.
SYNTH = {
    "train-images-idx3-ubyte.gz": ("images", 12),
    "train-labels-idx1-ubyte.gz": ("labels", 12),
    "t10k-images-idx3-ubyte.gz": ("images", 7),
    "t10k-labels-idx1-ubyte.gz": ("labels", 7),
}


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No MNIST_DIR, no proxies, and a HOME / XDG cache inside tmp_path, so a
    test can never read the developer's data or write to the real ~/.cache."""
    for var in ("MNIST_DIR", "CNN_FROM_SCRATCH_CACHE", "http_proxy", "HTTP_PROXY",
                "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def synthetic(monkeypatch):
    """Tiny valid MNIST-like files; patches the entries of data.EXPECTED to describe them.
    Returns {name: {"raw": bytes, "gz": bytes, "array": ndarray}}."""
    files, table = {}, {}
    for seed, (name, (kind, count)) in enumerate(SYNTH.items()):
        raw = idx_bytes(kind, count, seed=seed)
        table[name] = expected_entry(kind, raw, count)
        shape = (count, 28, 28) if kind == "images" else (count,)
        array = np.frombuffer(raw, np.uint8, offset=len(raw) - int(np.prod(shape))).reshape(shape)
        files[name] = {"raw": raw, "gz": gz(raw), "array": array}
    for name, entry in table.items():  # in place: every module shares the one table
        monkeypatch.setitem(data.EXPECTED, name, entry)
    return files


@pytest.fixture
def server(tmp_path):
    """A local HTTP server serving tmp_path/www; stopped after the test."""
    root = tmp_path / "www"
    root.mkdir()
    srv = LocalFileServer(root).start()
    yield srv
    srv.stop()


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def publish(srv: LocalFileServer, subdir: str, files: dict[str, bytes]) -> str:
    """Put ``files`` ({name: bytes}) under the server's ``subdir``; return its URL."""
    folder = srv.root / subdir
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return srv.url(subdir)


def good_gz(synthetic) -> dict[str, bytes]:
    return {name: f["gz"] for name, f in synthetic.items()}


def assert_arrays_equal(result, synthetic) -> None:
    assert len(result) == 4
    for arr, name in zip(result, FILENAMES):
        np.testing.assert_array_equal(arr, synthetic[name]["array"])
        assert arr.dtype == np.uint8


def cache_listing(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


# ---------------------------------------------------------------------------
# The shipped subset
# ---------------------------------------------------------------------------


def test_subset_shapes_dtypes_and_ranges():
    train_x, train_y, test_x, test_y = data.load_subset()
    assert train_x.shape == (1000, 28, 28) and test_x.shape == (1000, 28, 28)
    assert train_y.shape == (1000,) and test_y.shape == (1000,)
    for arr in (train_x, train_y, test_x, test_y):
        assert arr.dtype == np.uint8
    assert set(np.unique(train_y)) == set(range(10))
    assert set(np.unique(test_y)) == set(range(10))
    assert train_x.min() == 0 and train_x.max() == 255
    assert test_x.min() == 0 and test_x.max() == 255
    assert list(train_y[:5]) == [5, 0, 4, 1, 9]  # the famous first MNIST labels


def test_subset_file_is_small_and_in_the_package():
    assert data.SUBSET_PATH == Path(data.__file__).resolve().parent / "mnist_subset.npz"
    assert data.SUBSET_PATH.stat().st_size < 1_000_000


@pytest.fixture(scope="module")
def real_arrays():
    """The four real MNIST files, read and fully verified against the real
    EXPECTED table (so this also proves the checksum table is right)."""
    if not HAVE_REAL_MNIST:
        pytest.skip(f"real MNIST files not found in {REAL_MNIST_DIR}")
    return [data.read_idx_file(REAL_MNIST_DIR / name) for name in FILENAMES]


@needs_real_mnist
def test_real_files_match_the_checksum_table(real_arrays):
    train_x, train_y, test_x, test_y = real_arrays
    assert train_x.shape == (60000, 28, 28) and train_y.shape == (60000,)
    assert test_x.shape == (10000, 28, 28) and test_y.shape == (10000,)


@needs_real_mnist
def test_subset_is_the_first_1000_of_the_full_files(real_arrays):
    for full, sub in zip(real_arrays, data.load_subset()):
        np.testing.assert_array_equal(sub, full[:1000])


@needs_real_mnist
def test_load_full_from_real_mnist_dir(monkeypatch, real_arrays):
    monkeypatch.setenv("MNIST_DIR", str(REAL_MNIST_DIR))
    assert data.full_mnist_available()
    train_x, train_y, test_x, test_y = data.load_mnist("full", train_size=100, test_size=50)
    np.testing.assert_array_equal(train_x, real_arrays[0][:100])
    np.testing.assert_array_equal(test_y, real_arrays[3][:50])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing", "wrong_shape", "missing_key"])
def test_damaged_subset_raises_clear_error(tmp_path, damage):
    path = tmp_path / "subset.npz"
    good = data.SUBSET_PATH.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"this is not a zip file")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "wrong_shape":
        arrays = dict(zip(("train_images", "train_labels", "test_images", "test_labels"),
                          data.load_subset()))
        arrays["train_images"] = arrays["train_images"][:10]
        np.savez_compressed(path, **arrays)
    elif damage == "missing_key":
        np.savez_compressed(path, train_images=np.zeros((1000, 28, 28), np.uint8))
    with pytest.raises(MNISTDataError) as info:
        data.load_subset(path)
    assert str(path) in str(info.value)
    assert "reinstall" in str(info.value)


def _make_subset_tool():
    """tools/make_subset.py, imported as a module."""
    spec = importlib.util.spec_from_file_location("make_subset", REPO_ROOT / "tools" / "make_subset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_subset_needs_a_source_folder(tmp_path, capsys):
    """No folder given and no MNIST_DIR: a clear error, not a guess outside the repository."""
    out = tmp_path / "subset.npz"
    with pytest.raises(SystemExit) as info:
        _make_subset_tool().main(["--out", str(out)])
    assert info.value.code == 2
    assert "give it as MNIST_FOLDER or set MNIST_DIR" in capsys.readouterr().err
    assert not out.exists()


def test_make_subset_reports_a_folder_without_the_files(tmp_path, capsys):
    assert _make_subset_tool().main([str(tmp_path), "--out", str(tmp_path / "s.npz")]) == 1
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err


@needs_real_mnist
def test_make_subset_rebuilds_the_shipped_file_byte_for_byte(tmp_path, monkeypatch):
    out = tmp_path / "subset.npz"
    monkeypatch.setenv("MNIST_DIR", str(REAL_MNIST_DIR))
    assert _make_subset_tool().main(["--out", str(out)]) == 0
    assert out.read_bytes() == data.SUBSET_PATH.read_bytes()


# ---------------------------------------------------------------------------
# Downloading through the local server
# ---------------------------------------------------------------------------


def test_download_verifies_and_caches_then_works_offline(server, synthetic, cache):
    url = publish(server, "m1", good_gz(synthetic))
    before = mnist.datasets_url
    result = data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    assert_arrays_equal(result, synthetic)
    assert mnist.datasets_url == before  # never patched
    assert socket.getdefaulttimeout() is None  # never set
    assert cache_listing(cache) == sorted(FILENAMES)  # no temporary files left
    for name in FILENAMES:
        assert (cache / name).read_bytes() == synthetic[name]["gz"]
    assert data.full_mnist_available(cache_dir=cache)

    server.stop()  # second call must use the cache only
    result = data.load_full(cache_dir=cache, mirrors=[closed_port_url()], timeout=5)
    assert_arrays_equal(result, synthetic)


def test_default_cache_comes_from_env(server, synthetic, tmp_path, monkeypatch):
    url = publish(server, "m1", good_gz(synthetic))
    assert not data.full_mnist_available()
    data.load_full(mirrors=[url], timeout=5)
    assert cache_listing(tmp_path / "xdg-cache" / "cnn-from-scratch" / "mnist") == sorted(FILENAMES)
    assert data.full_mnist_available()

    monkeypatch.setenv("CNN_FROM_SCRATCH_CACHE", str(tmp_path / "mine"))
    assert data.default_cache_dir() == tmp_path / "mine"
    data.load_full(mirrors=[url], timeout=5)
    assert cache_listing(tmp_path / "mine") == sorted(FILENAMES)
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("status", [403, 404])
def test_first_mirror_fails_second_mirror_succeeds(server, synthetic, cache, status):
    bad = publish(server, "m1", good_gz(synthetic))
    server.forced_status["/m1/"] = status
    good = publish(server, "m2", good_gz(synthetic))
    result = data.load_full(cache_dir=cache, mirrors=[bad, good], timeout=5)
    assert_arrays_equal(result, synthetic)
    assert cache_listing(cache) == sorted(FILENAMES)
    assert any(p.startswith("/m1/") for p in server.requests)


def _truncate(raw_gz: bytes, raw: bytes) -> bytes:
    return raw_gz[: len(raw_gz) // 2]


def _flip(raw_gz: bytes, raw: bytes) -> bytes:
    b = bytearray(raw_gz)
    for i in range(len(b) // 2, len(b) // 2 + 8):
        b[i] ^= 0xFF
    return bytes(b)


def _wrong_magic(raw_gz: bytes, raw: bytes) -> bytes:
    return gz(b"\x00\x00\x08\x02" + raw[4:])


def _wrong_count(raw_gz: bytes, raw: bytes) -> bytes:
    count = int.from_bytes(raw[4:8], "big")
    return gz(raw[:4] + (count + 1).to_bytes(4, "big") + raw[8:])


def _other_pixels(raw_gz: bytes, raw: bytes) -> bytes:  # right format, wrong contents
    return gz(raw[:16] + bytes(255 - x for x in raw[16:]))


def _extra_bytes(raw_gz: bytes, raw: bytes) -> bytes:
    return gz(raw + b"\x00" * 100)


def _not_gzip(raw_gz: bytes, raw: bytes) -> bytes:
    return b"<html>Access denied</html>"


BAD_FILES = {
    "truncated gzip": (_truncate, "could not be decompressed"),
    "flipped bytes": (_flip, "could not be decompressed"),
    "not gzip": (_not_gzip, "could not be decompressed"),
    "wrong magic": (_wrong_magic, "magic number 0x00000803"),
    "wrong count": (_wrong_count, "expected 12 images but the header says 13"),
    "checksum mismatch": (_other_pixels, "SHA-256"),
    "extra data": (_extra_bytes, "cut short or has extra data"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_download_is_rejected_and_never_cached(server, synthetic, cache, case):
    damage, phrase = BAD_FILES[case]
    name = "train-images-idx3-ubyte.gz"
    files = good_gz(synthetic)
    files[name] = damage(files[name], synthetic[name]["raw"])
    url = publish(server, "m1", files)
    with pytest.raises(MNISTDownloadError) as info:
        data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    message = str(info.value)
    assert phrase in message
    assert url + name in message
    assert "MNIST_DIR" in message  # says what to do
    assert not (cache / name).exists()
    assert cache_listing(cache) == []  # no temporary files either


def test_bad_file_on_first_mirror_good_on_second(server, synthetic, cache):
    name = "t10k-labels-idx1-ubyte.gz"
    files = good_gz(synthetic)
    files[name] = _flip(files[name], b"")
    bad = publish(server, "m1", files)
    good = publish(server, "m2", good_gz(synthetic))
    assert_arrays_equal(data.load_full(cache_dir=cache, mirrors=[bad, good], timeout=5), synthetic)
    assert (cache / name).read_bytes() == synthetic[name]["gz"]


def test_bad_last_file_keeps_good_ones_only(server, synthetic, cache):
    name = "t10k-labels-idx1-ubyte.gz"
    files = good_gz(synthetic)
    files[name] = _wrong_count(files[name], synthetic[name]["raw"])
    url = publish(server, "m1", files)
    with pytest.raises(MNISTDownloadError, match="expected 7 labels"):
        data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    assert cache_listing(cache) == sorted(set(FILENAMES) - {name})


def test_missing_file_on_all_mirrors(server, synthetic, cache):
    files = good_gz(synthetic)
    del files["train-labels-idx1-ubyte.gz"]
    m1 = publish(server, "m1", files)
    m2 = publish(server, "m2", files)
    server.forced_status["/m2/"] = 403
    with pytest.raises(MNISTDownloadError) as info:
        data.load_full(cache_dir=cache, mirrors=[m1, m2], timeout=5)
    message = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in message
    assert f"{m1}train-labels-idx1-ubyte.gz: HTTP 404" in message
    assert f"{m2}train-labels-idx1-ubyte.gz: HTTP 403" in message
    assert "connect to the internet" in message
    assert cache_listing(cache) == ["train-images-idx3-ubyte.gz"]


# Every way a mirror can fail: (how to make it fail, phrase in the error message).
MIRROR_FAILURES = {
    "HTTP 500": ("status 500", "HTTP 500"),
    "connection refused": ("refused", "connection refused"),
    "invalid URL": ("invalid", "not a URL"),
    "transfer cut mid-chunk": ("cut-chunked", "cut short"),
    "transfer cut before Content-Length": ("cut-length", "cut short (4900 more bytes"),
    "answer is not HTTP": ("not-http", "not HTTP (it starts with 'SSH-2.0"),
    "closed without an answer": ("close", "closed the connection without answering"),
    "answer far too big": ("huge", "too big to be this file"),
}


def bad_mirror(server: LocalFileServer, how: str) -> str:
    """The base URL of a mirror that fails in the way ``how``."""
    if how == "refused":
        return closed_port_url()
    if how == "invalid":
        return "not-a-url/"
    if how.startswith("status "):
        server.forced_status["/bad/"] = int(how.split()[1])
    else:
        server.misbehave["/bad/"] = how
    return server.url("bad")


@pytest.mark.parametrize("case", list(MIRROR_FAILURES))
def test_any_mirror_failure_falls_through_to_the_next_mirror(server, synthetic, cache, case):
    how, phrase = MIRROR_FAILURES[case]
    bad = bad_mirror(server, how)
    with pytest.raises(MNISTDownloadError) as info:
        data.load_full(cache_dir=cache, mirrors=[bad], timeout=5)
    assert f"{bad}train-images-idx3-ubyte.gz: " in str(info.value)
    assert phrase in str(info.value)
    assert cache_listing(cache) == []  # no temporary file left behind

    good = publish(server, "good", good_gz(synthetic))
    result = data.load_full(cache_dir=cache, mirrors=[bad, good], timeout=5)
    assert_arrays_equal(result, synthetic)
    assert cache_listing(cache) == sorted(FILENAMES)


def test_trickling_mirror_is_abandoned_at_the_deadline(server, synthetic, cache):
    name = "train-images-idx3-ubyte.gz"
    slow = publish(server, "slow", good_gz(synthetic))
    server.misbehave[f"/slow/{name}"] = "trickle"  # 200 bytes/s; the other files come at once
    good = publish(server, "good", good_gz(synthetic))

    start = time.monotonic()
    with pytest.raises(MNISTDownloadError) as info:
        data.load_full(cache_dir=cache, mirrors=[slow], timeout=5, deadline=0.5)
    assert time.monotonic() - start < 2
    assert f"{slow}{name}: gave up after 0.5 s, too slow" in str(info.value)
    assert "deadline=" in str(info.value)  # says how to allow more time
    assert cache_listing(cache) == []

    start = time.monotonic()
    result = data.load_full(cache_dir=cache, mirrors=[slow, good], timeout=5, deadline=0.5)
    assert time.monotonic() - start < 2
    assert_arrays_equal(result, synthetic)
    assert server.requests.count(f"/slow/{name}") == 2
    assert f"/good/{name}" in server.requests


def test_download_changes_nothing_process_wide(server, synthetic, cache, monkeypatch):
    """No socket.setdefaulttimeout (not even during the download) and no patching
    of the mnist package's globals."""
    url = publish(server, "m1", good_gz(synthetic))
    before = mnist.datasets_url
    data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    assert server.default_timeouts == [None] * 4
    assert mnist.datasets_url == before


def test_connection_refused_fails_fast(synthetic, cache):
    url = closed_port_url()
    start = time.monotonic()
    with pytest.raises(MNISTDownloadError, match="connection refused") as info:
        data.load_full(cache_dir=cache, mirrors=[url, url + "other/"], timeout=5)
    assert time.monotonic() - start < 5
    assert url in str(info.value)
    assert cache_listing(cache) == []


def test_silent_server_times_out(synthetic, cache):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        start = time.monotonic()
        with pytest.raises(MNISTDownloadError, match="timed out"):
            data.load_full(cache_dir=cache, mirrors=[url], timeout=0.3)
        assert time.monotonic() - start < 3
    assert socket.getdefaulttimeout() is None
    assert cache_listing(cache) == []


def test_stale_temporaries_are_removed_when_a_download_starts(server, synthetic, cache):
    """Leftovers of killed downloads (atomic_write's .part files, the .download-*
    folders of earlier versions) go once they are old; fresh ones, which may
    belong to a download running in another process, and other files stay."""
    cache.mkdir()
    old_part = cache / "train-images-idx3-ubyte.gz.k2j3h4.part"
    old_folder = cache / ".download-abc123"
    fresh_part = cache / "t10k-images-idx3-ubyte.gz.x9y8z7.part"
    not_ours = cache / "notes.part"
    for path in (old_part, fresh_part, not_ours):
        path.write_bytes(b"half a file")
    old_folder.mkdir()
    (old_folder / "train-images-idx3-ubyte.gz").write_bytes(b"half a file")
    an_hour_ago = time.time() - 3600
    for path in (old_part, old_folder / "train-images-idx3-ubyte.gz", old_folder, not_ours):
        os.utime(path, (an_hour_ago, an_hour_ago))

    url = publish(server, "m1", good_gz(synthetic))
    assert_arrays_equal(data.load_full(cache_dir=cache, mirrors=[url], timeout=5), synthetic)
    assert cache_listing(cache) == sorted([*FILENAMES, fresh_part.name, not_ours.name])


KILLED_DOWNLOAD = """
import sys
from cnn_lib import data
data.load_full(cache_dir=sys.argv[1], mirrors=[sys.argv[2]], timeout=5, deadline=30)
"""


def test_sigterm_during_a_download_leaves_no_temporary(server, synthetic, cache):
    """A separate Python process downloads from a trickling mirror; once its
    temporary file exists it gets SIGTERM and must delete it before exiting."""
    slow = publish(server, "slow", good_gz(synthetic))
    server.misbehave["/slow/"] = "trickle"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_DOWNLOAD, str(cache), slow],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        give_up = time.monotonic() + 20
        while not cache_listing(cache) and child.poll() is None and time.monotonic() < give_up:
            time.sleep(0.02)
        assert cache_listing(cache), "the download never started"
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0
    assert b"Terminated" in stderr
    assert cache_listing(cache) == []


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill")
def test_ctrl_c_stops_the_download_at_once_and_leaves_no_temporary(server, synthetic, cache):
    slow = publish(server, "slow", good_gz(synthetic))
    server.misbehave["/slow/"] = "trickle"
    good = publish(server, "good", good_gz(synthetic))
    ctrl_c = threading.Timer(0.3, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's background job ignores SIGINT
    ctrl_c.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            data.load_full(cache_dir=cache, mirrors=[slow, good], timeout=5, deadline=30)
    finally:
        ctrl_c.cancel()
        signal.signal(signal.SIGINT, previous)
    assert not any(path.startswith("/good/") for path in server.requests)  # no next mirror
    assert cache_listing(cache) == []


def test_one_mirror_may_be_given_as_a_string(server, synthetic, cache):
    url = publish(server, "m1", good_gz(synthetic))
    assert_arrays_equal(data.load_full(cache_dir=cache, mirrors=url, timeout=5), synthetic)


def test_no_mirrors(synthetic, cache):
    with pytest.raises(MNISTDownloadError, match="no mirrors"):
        data.load_full(cache_dir=cache, mirrors=[], timeout=1)


def test_corrupt_cached_file_is_replaced(server, synthetic, cache):
    name = "train-labels-idx1-ubyte.gz"
    cache.mkdir()
    for n in FILENAMES:
        (cache / n).write_bytes(synthetic[n]["gz"])
    (cache / name).write_bytes(_flip(synthetic[name]["gz"], b""))
    url = publish(server, "m1", good_gz(synthetic))
    with pytest.warns(RuntimeWarning, match="damaged file"):
        result = data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    assert_arrays_equal(result, synthetic)
    assert (cache / name).read_bytes() == synthetic[name]["gz"]
    assert server.requests == [f"/m1/{name}"]  # only the bad file was fetched again
    assert cache_listing(cache) == sorted(FILENAMES)


def test_damaged_cache_file_is_reported_once(server, synthetic, cache, caplog, recwarn):
    name = "train-labels-idx1-ubyte.gz"
    cache.mkdir()
    (cache / name).write_bytes(_truncate(synthetic[name]["gz"], b""))
    url = publish(server, "m1", good_gz(synthetic))
    with caplog.at_level(logging.DEBUG):
        data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    warned = [w for w in recwarn if "damaged file" in str(w.message)]
    logged = [r for r in caplog.records if "damaged file" in r.getMessage()]
    assert len(warned) + len(logged) == 1, (warned, logged)
    assert warned[0].filename == __file__  # the warning points at the caller of load_full


def test_corrupt_cached_file_and_bad_redownload_raises(server, synthetic, cache):
    name = "train-images-idx3-ubyte.gz"
    cache.mkdir()
    (cache / name).write_bytes(_truncate(synthetic[name]["gz"], b""))
    url = publish(server, "m1", {name: _flip(synthetic[name]["gz"], b"")})
    with pytest.warns(RuntimeWarning), pytest.raises(MNISTDownloadError):
        data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    assert cache_listing(cache) == []


# ---------------------------------------------------------------------------
# MNIST_DIR / mnist_dir: the user's own folder
# ---------------------------------------------------------------------------


@pytest.fixture
def user_dir(tmp_path, synthetic) -> Path:
    folder = tmp_path / "my-mnist"
    folder.mkdir()
    for name, f in synthetic.items():
        (folder / name).write_bytes(f["gz"])
    return folder


def test_mnist_dir_takes_precedence_and_is_not_downloaded_into(
    monkeypatch, user_dir, synthetic, cache, server
):
    monkeypatch.setenv("MNIST_DIR", str(user_dir))
    result = data.load_full(cache_dir=cache, mirrors=[server.url("m1")], timeout=5)
    assert_arrays_equal(result, synthetic)
    assert server.requests == []
    assert not cache.exists()
    assert data.full_mnist_available(cache_dir=cache)


def test_mnist_dir_argument_beats_env(monkeypatch, user_dir, synthetic, tmp_path):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "does-not-exist"))
    assert not data.full_mnist_available()
    assert data.full_mnist_available(mnist_dir=user_dir)
    assert_arrays_equal(data.load_full(mnist_dir=user_dir), synthetic)


def test_missing_file_in_mnist_dir_is_an_error(monkeypatch, user_dir, cache, server):
    name = "t10k-images-idx3-ubyte.gz"
    (user_dir / name).unlink()
    monkeypatch.setenv("MNIST_DIR", str(user_dir))
    assert not data.full_mnist_available()
    with pytest.raises(MNISTDataError) as info:
        data.load_full(cache_dir=cache, mirrors=[server.url("m1")], timeout=5)
    message = str(info.value)
    assert "MNIST_DIR" in message and name in message and str(user_dir) in message
    assert server.requests == []  # never falls back to downloading
    assert not (user_dir / name).exists()  # and never downloads into it


def test_corrupt_file_in_mnist_dir_is_reported_not_deleted(monkeypatch, user_dir, synthetic):
    name = "train-labels-idx1-ubyte.gz"
    bad = _wrong_magic(b"", synthetic[name]["raw"])
    (user_dir / name).write_bytes(bad)
    monkeypatch.setenv("MNIST_DIR", str(user_dir))
    with pytest.raises(MNISTVerificationError) as info:
        data.load_full()
    message = str(info.value)
    assert "MNIST_DIR" in message and name in message and "magic" in message
    assert (user_dir / name).read_bytes() == bad


@pytest.fixture(params=["MNIST_DIR", "cache"])
def data_folder(request, monkeypatch, user_dir, synthetic, cache) -> Path:
    """A folder holding the four good synthetic files, used by load_full either
    as MNIST_DIR or as the download cache (one test run for each)."""
    if request.param == "MNIST_DIR":
        monkeypatch.setenv("MNIST_DIR", str(user_dir))
        return user_dir
    cache.mkdir()
    for name, f in synthetic.items():
        (cache / name).write_bytes(f["gz"])
    return cache


@contextlib.contextmanager
def unreadable(path: Path) -> Iterator[None]:
    """Make ``path`` unreadable while the block runs: chmod 000, or, as root (who
    can read anything), an ``open`` that refuses that one path as the system would."""
    if os.geteuid() != 0:
        os.chmod(path, 0)
        try:
            yield
        finally:
            os.chmod(path, 0o644)
        return
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(file, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builtins, "open", refusing_open)
        yield


def test_directory_instead_of_a_data_file(data_folder, synthetic, cache, server):
    name = "train-labels-idx1-ubyte.gz"
    (data_folder / name).unlink()
    (data_folder / name).mkdir()
    url = publish(server, "m1", good_gz(synthetic))
    with pytest.raises(MNISTDataError) as info:
        data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    assert f"{data_folder / name} is a directory, not a file" in str(info.value)
    assert "damaged" not in str(info.value)
    assert (data_folder / name).is_dir()  # left alone
    assert server.requests == []


def test_unreadable_data_file(data_folder, synthetic, cache, server):
    name = "t10k-images-idx3-ubyte.gz"
    url = publish(server, "m1", good_gz(synthetic))
    with unreadable(data_folder / name), pytest.raises(MNISTDataError) as info:
        data.load_full(cache_dir=cache, mirrors=[url], timeout=5)
    assert f"{data_folder / name} cannot be read: permission denied" in str(info.value)
    assert "damaged" not in str(info.value)
    assert (data_folder / name).read_bytes() == synthetic[name]["gz"]  # not deleted
    assert server.requests == []


# Situations in which load_full fails, each of which must end its message with advice.
ADVICE_CASES = [
    "download fails",
    "cache folder is a file",
    "directory in the cache",
    "file missing from MNIST_DIR",
    "damaged file in MNIST_DIR",
]


@pytest.mark.parametrize("hint", [None, "--data subset"])
@pytest.mark.parametrize("case", ADVICE_CASES)
def test_error_advice_ends_with_the_subset_named_as_the_caller_says(
    case, hint, server, synthetic, cache, user_dir, tmp_path, monkeypatch
):
    kwargs = {"cache_dir": cache, "mirrors": [closed_port_url()], "timeout": 5}
    if case == "cache folder is a file":
        kwargs["cache_dir"] = tmp_path / "file"
        kwargs["cache_dir"].write_text("not a folder")
    elif case == "directory in the cache":
        (cache / "train-images-idx3-ubyte.gz").mkdir(parents=True)
    elif case != "download fails":
        monkeypatch.setenv("MNIST_DIR", str(user_dir))
        name = "t10k-labels-idx1-ubyte.gz"
        if case == "file missing from MNIST_DIR":
            (user_dir / name).unlink()
        else:
            (user_dir / name).write_bytes(_wrong_magic(b"", synthetic[name]["raw"]))
    if hint is not None:
        kwargs["subset_hint"] = hint
    with pytest.raises(MNISTDataError) as info:
        data.load_full(**kwargs)
    message = str(info.value)
    named = hint or "load_mnist('subset')"  # the default suits Python code
    assert message.endswith(f"use the shipped subset ({named})."), message
    if hint is not None:
        assert "load_mnist(" not in message


def test_load_mnist_passes_the_subset_hint_on(monkeypatch, user_dir):
    (user_dir / "train-images-idx3-ubyte.gz").unlink()
    monkeypatch.setenv("MNIST_DIR", str(user_dir))
    with pytest.raises(MNISTDataError, match=r"use the shipped subset \(--data subset\)\.$"):
        data.load_mnist("full", subset_hint="--data subset")


# ---------------------------------------------------------------------------
# load_mnist and small helpers
# ---------------------------------------------------------------------------


def test_load_mnist_subset_slicing():
    train_x, train_y, test_x, test_y = data.load_mnist("subset", train_size=100, test_size=10)
    assert train_x.shape == (100, 28, 28) and train_y.shape == (100,)
    assert test_x.shape == (10, 28, 28) and test_y.shape == (10,)
    full = data.load_subset()
    np.testing.assert_array_equal(train_x, full[0][:100])
    np.testing.assert_array_equal(test_y, full[3][:10])
    assert [len(a) for a in data.load_mnist()] == [1000, 1000, 1000, 1000]
    assert [len(a) for a in data.load_mnist(train_size=np.int64(5))] == [5, 5, 1000, 1000]


def test_load_mnist_full_uses_mnist_dir(monkeypatch, user_dir, synthetic):
    monkeypatch.setenv("MNIST_DIR", str(user_dir))
    train_x, train_y, test_x, test_y = data.load_mnist("full", train_size=5)
    assert train_x.shape == (5, 28, 28) and test_x.shape == (7, 28, 28)
    np.testing.assert_array_equal(train_y, synthetic["train-labels-idx1-ubyte.gz"]["array"][:5])
    with pytest.raises(ValueError, match="between 1 and 12"):
        data.load_mnist("full", train_size=13)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"train_size": 0},
        {"train_size": -5},
        {"train_size": 1001},
        {"test_size": 1001},
        {"train_size": 2.5},
        {"train_size": True},
        {"test_size": "10"},
        {"data": "mnist"},
    ],
)
def test_load_mnist_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        data.load_mnist(**kwargs)


def test_load_mnist_checks_sizes_before_downloading(server):
    with pytest.raises(ValueError, match="between 1 and 60000"):
        data.load_mnist("full", train_size=60001)
    assert server.requests == []


def test_nothing_is_rechecked_after_the_checksum(tmp_path, monkeypatch):
    """Once the SHA-256 of the decompressed bytes matches the table, the bytes are the
    published file: checks of what they hold (labels 0-9, 28x28 images) could never
    fail on real MNIST and are not made. Here the table describes labels 1, 200, 3
    and is believed."""
    name = "t10k-labels-idx1-ubyte.gz"
    raw = (0x801).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([1, 200, 3])
    monkeypatch.setitem(data.EXPECTED, name, expected_entry("labels", raw, 3))
    path = tmp_path / name
    path.write_bytes(gz(raw))
    labels = data.read_idx_file(path)
    np.testing.assert_array_equal(labels, [1, 200, 3])
    assert labels.dtype == np.uint8


def test_idx_bytes_are_parsed_by_the_mnist_package(monkeypatch, user_dir, synthetic):
    calls = []
    real_parse_idx = mnist.parse_idx

    def spy(fd):
        calls.append(fd)
        return real_parse_idx(fd)

    monkeypatch.setattr(mnist, "parse_idx", spy)
    assert_arrays_equal(data.load_full(mnist_dir=user_dir), synthetic)
    assert len(calls) == 4


def test_read_idx_file_unknown_name(tmp_path):
    path = tmp_path / "digits.gz"
    path.write_bytes(gz(b"\x00\x00\x08\x01"))
    with pytest.raises(MNISTDataError, match="expected one of the MNIST files"):
        data.read_idx_file(path)


def test_main_reports_sources(monkeypatch, user_dir, capsys):
    from cnn_lib.data.__main__ import main

    monkeypatch.setenv("MNIST_DIR", str(user_dir))
    assert main(["--download"]) == 0
    out = capsys.readouterr().out
    assert "MNIST_DIR" in out and "12 training and 7 test images" in out
