"""A hostile client's request body, offered chunk by chunk, and the server's peak RSS around it.

:func:`offer_body` sends a POST's head, then its body only while the server
reads it, and stops as soon as an answer arrives (httpx would hold the body
or send it all before reading): the way a client gets a server to buffer as
much as it will. :func:`peak_rss_kib` and :func:`reset_peak_rss` read and reset
a process's peak RSS (Linux ``/proc``), so a check can tell a buffered body
from one left unread.
"""

from __future__ import annotations

import re
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["MIB", "Answer", "offer_body", "peak_rss_kib", "reset_peak_rss"]

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
    sock = socket.create_connection((url.hostname, url.port or 80), timeout=timeout)
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
    if parsed is None:
        raise AssertionError(f"no complete answer after sending {sent} bytes: {raw[:200]!r}")
    informational, status, headers, body = parsed
    return Answer(status, headers, body, informational, sent)


def peak_rss_kib(pid: int | str = "self") -> int:
    """The process's peak resident set size (``VmHWM``), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    if match is None:
        raise RuntimeError(f"no VmHWM in /proc/{pid}/status")
    return int(match.group(1))


def reset_peak_rss(pid: int | str = "self") -> None:
    """Make the peak RSS the current RSS again (Linux ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
