"""No server buffers a request body for memwatch: unauthenticated bodies cost no memory.

No route takes a body, so adapters never read one; before this, a 200 MiB POST
without credentials raised peak RSS by 200-400 MB on werkzeug, gunicorn and
uvicorn, and uvicorn asked for a 1 GiB body with ``100 Continue``. Each test
offers the body chunk by chunk, only while the server reads it, and stops
as soon as an answer arrives (httpx would hold the body or send it all before
reading), the way a hostile client gets a server to buffer as much as it
will; then it compares the server process's peak RSS with its RSS
before. The figures go to stdout (``pytest -s``).
"""

from __future__ import annotations

import re
import select
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from contract import assert_problem
from memwatch.auth import bearer_token
from memwatch.watcher import Watcher

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = Path(__file__).parent

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads peak RSS from /proc")

MIB = 2**20
_CHUNK = bytes(MIB)


@dataclass
class Answer:
    """The first final response: its status, lower-cased headers, body; and what the client did."""

    status: int
    headers: dict[str, str]
    body: bytes
    informational: list[int]
    sent: int


def _parse(raw: bytes) -> tuple[list[int], int, dict[str, str], bytes] | None:
    """Split ``raw`` into 1xx statuses and the final response, or ``None`` if incomplete."""
    informational = []
    while True:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            return None
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        if 100 <= status < 200:
            informational.append(status)
            raw = rest
            continue
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            return None
        return informational, status, headers, rest[:length]


def offer_body(
    base_url: str, path: str, size: int, *, expect: bool = False, timeout: float = 60
) -> Answer:
    """POST ``size`` bytes of zeros to ``path`` without credentials; return the answer.

    With ``expect`` the client sends ``Expect: 100-continue`` and then a body only
    if the server asks for it with ``100 Continue``.
    """
    url = urlsplit(base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
    head = f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {size}\r\n"
    head += "Content-Type: application/octet-stream\r\n"
    head += "Expect: 100-continue\r\n\r\n" if expect else "\r\n"
    sock.sendall(head.encode())
    sock.setblocking(False)
    raw, sent, writing = b"", 0, not expect
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if writing else [], [], 1)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                raw += data
                parsed = _parse(raw)
                if parsed is not None or not data:
                    break
                # Only a 100 Continue asks for a body the client offered with Expect.
                asked = not expect or raw.startswith((b"HTTP/1.1 100", b"HTTP/1.0 100"))
                writing = sent < size and asked
            if writable:
                try:
                    sent += sock.send(_CHUNK[: min(MIB, size - sent)])
                except (BrokenPipeError, ConnectionResetError):
                    writing = False
                writing = writing and sent < size
    finally:
        sock.close()
    parsed = _parse(raw)
    assert parsed is not None, f"no complete answer after sending {sent} bytes: {raw[:200]!r}"
    informational, status, headers, body = parsed
    return Answer(status, headers, body, informational, sent)


def peak_rss_kib(pid: int | str = "self") -> int:
    """The process's peak resident set size (``VmHWM``), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match, "no VmHWM in /proc/<pid>/status"
    return int(match.group(1))


def reset_peak_rss(pid: int | str = "self") -> None:
    """Make the peak RSS the current RSS again (Linux ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _report(server: str, mib: int, growth: float, answer: Answer) -> None:
    sys.stdout.write(
        f"\n{server}, {mib} MiB unauthenticated: peak RSS +{growth:.1f} MiB, "
        f"{answer.sent / MIB:.1f} MiB accepted by the server\n"
    )


# Far below any body size tried: a server that buffered the body would pass it.
GROWTH_LIMIT_MIB = 24


@pytest.fixture
def server(serve):
    """The adapter's app behind a bearer token nobody in these tests sends."""
    with Watcher(sample_interval=0.5, auto_capture=False) as watcher:
        yield serve(auth=bearer_token("body-token"), watcher=watcher)


# 96 MiB stays under Tornado's default max_body_size (100 MB), which it would buffer.
@pytest.mark.parametrize("mib", [96, 200])
def test_unauthenticated_body_is_not_buffered(server, adapter, mib):
    """A large POST without credentials gets its 401 while peak RSS stays put."""
    reset_peak_rss()
    before = peak_rss_kib()
    answer = offer_body(server.base_url, "/ah/memory/gc", mib * MIB)
    growth = (peak_rss_kib() - before) / 1024
    _report(f"{adapter} in-thread", mib, growth, answer)
    assert answer.status == 401
    assert_problem(
        401, answer.headers.items(), answer.body, pid=int(answer.headers["memwatch-pid"])
    )
    assert growth < GROWTH_LIMIT_MIB


def test_expect_continue_is_refused_before_the_body(server, adapter):
    """An unauthenticated 1 GiB ``Expect: 100-continue`` POST is answered 401, the body unasked."""
    if adapter == "flask":
        pytest.skip("werkzeug's server (http.server) answers 100 Continue before any app runs")
    answer = offer_body(server.base_url, "/ah/memory/gc", 1024 * MIB, expect=True)
    assert answer.informational == []
    assert answer.status == 401
    assert answer.sent == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gunicorn_worker() -> Iterator[tuple[str, int]]:
    """Flask behind a token under gunicorn with one sync worker: its base URL and worker pid."""
    pytest.importorskip("memwatch_flask")
    pytest.importorskip("gunicorn")
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}"]
    command += ["--chdir", str(HERE), "--log-level", "warning", "gunicorn_app:token_app"]
    master = subprocess.Popen(command)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                pid = httpx.get(base_url + "/ah/memoryProfile/status").headers["Memwatch-Pid"]
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.1)
        yield base_url, int(pid)
    finally:
        master.terminate()
        master.wait(15)


def test_unauthenticated_body_is_not_buffered_by_a_gunicorn_worker(gunicorn_worker):
    """Under gunicorn, a 200 MiB POST without credentials leaves the worker's peak RSS put."""
    base_url, worker = gunicorn_worker
    reset_peak_rss(worker)
    before = peak_rss_kib(worker)
    answer = offer_body(base_url, "/ah/memory/gc", 200 * MIB)
    growth = (peak_rss_kib(worker) - before) / 1024
    _report("flask under gunicorn (sync worker)", 200, growth, answer)
    assert answer.status == 401
    assert_problem(401, answer.headers.items(), answer.body, pid=worker)
    assert growth < GROWTH_LIMIT_MIB
