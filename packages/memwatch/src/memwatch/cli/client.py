"""The command line's HTTP client: one memwatch API, its URL, its token, its errors.

The transport is the standard library's :mod:`http.client`, not httpx: the
command must answer within 300 ms of the shell starting it, and importing
httpx alone took 160 ms here (``http.client``: under 20 ms). One connection is
kept open for every request of a command (``memwatch watch`` polls on it).

Every way a request can fail becomes a :class:`ApiError` carrying one line
for the user: the service is unreachable, it refused the token, the URL is
not a memwatch API (no ``Memwatch-Pid`` header, or not JSON), or the API
answered with a problem (its ``detail`` is quoted).
"""

from __future__ import annotations

import http.client
import json
import socket
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import urlsplit

__all__ = ["DEFAULT_PREFIX", "Answer", "ApiClient", "ApiError", "api_base"]

DEFAULT_PREFIX = "/ah"


class ApiError(Exception):
    """A request that got no usable answer; ``str(error)`` is the one line to print.

    Attributes:
        status: The HTTP status when the service answered, else ``None``.
        retry_after: Seconds a 429 says to wait before trying again, else ``None``.
    """

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        """Keep the message, the status and the wait."""
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class Answer(NamedTuple):
    """A memwatch API's answer: status, headers (lower-case names) and the decoded JSON body.

    A named tuple rather than an attrs class: attrs' import alone is 40 ms of the
    command's start-up.
    """

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def pid(self) -> str:
        """The ``Memwatch-Pid`` of the process that answered."""
        return self.headers.get("memwatch-pid", "")


def api_base(url: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, str, int, str]:
    """Split a service URL into scheme, host, port and the API's base path.

    The URL may name the service (``http://host:8000``) or its API
    (``http://host:8000/ah``): the prefix is appended unless the path already
    ends with it. A URL without a scheme is taken as ``http://``.

    Raises:
        ApiError: the URL is not an http(s) URL with a host.
    """
    text = url if "://" in url else f"http://{url}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(f"{url!r} is not an http:// or https:// URL of a service")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ApiError(f"{url!r} has an invalid port") from None
    prefix = prefix.rstrip("/")
    path = parts.path.rstrip("/")
    if prefix and not path.endswith(prefix):
        path += prefix
    return parts.scheme, parts.hostname, port, path


class ApiClient:
    """Requests to one memwatch API.

    Args:
        url: The service's base URL, with or without the prefix.
        token: The bearer token, or ``None`` to send no ``Authorization`` header.
        prefix: Where the service mounted memwatch (``""`` for the root).
        timeout: Seconds to wait for a connection and for each answer.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 30.0,
    ) -> None:
        """Parse the URL; nothing connects until the first request."""
        self.scheme, self.host, self.port, self.base_path = api_base(url, prefix)
        self.token = token
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    @property
    def base_url(self) -> str:
        """The API's base URL, e.g. ``http://127.0.0.1:8000/ah``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.base_path}"

    def close(self) -> None:
        """Close the kept connection, if any."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def get(self, path: str) -> Answer:
        """``GET`` a path under the API's base, e.g. ``"/memoryProfile/status"``."""
        return self.request("GET", path)

    def post(self, path: str) -> Answer:
        """``POST`` to a path under the API's base."""
        return self.request("POST", path)

    def delete(self, path: str) -> Answer:
        """``DELETE`` a path under the API's base."""
        return self.request("DELETE", path)

    def request(self, method: str, path: str) -> Answer:
        """Send one request and check that memwatch answered it successfully.

        Raises:
            ApiError: no answer, not memwatch's, or an error status; the message says which.
        """
        status, headers, raw = self._send(method, self.base_path + path)
        if "memwatch-pid" not in headers:
            raise ApiError(
                f"{self.base_url} is not a memwatch API (its answer to {method} {path} has no "
                f"Memwatch-Pid header, status {status}): check the URL and --prefix",
                status,
            )
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise ApiError(
                f"{self.base_url} answered {method} {path} with a body that is not JSON"
            ) from None
        if status >= 400:
            raise _refusal(self, status, body, headers)
        return Answer(status, headers, body)

    def _send(self, method: str, target: str) -> tuple[int, dict[str, str], bytes]:
        headers = {"Accept": "application/json", "User-Agent": "memwatch-cli"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            connection = self._connection or self._connect()
            try:
                connection.request(method, target, headers=headers)
                response = connection.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed meanwhile: reconnect once.
                self.close()
                if attempt == 2:
                    raise ApiError(
                        f"{self.base_url} closed the connection without answering"
                    ) from None
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise ApiError(f"cannot reach {self.base_url}: {_reason(exc)}") from None
            if response.will_close:
                self.close()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, raw
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        self._connection = kind(self.host, self.port, timeout=self.timeout)
        return self._connection


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the service running on that port?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or type(exc).__name__


def _refusal(client: ApiClient, status: int, body: Any, headers: dict[str, str]) -> ApiError:
    detail = body.get("detail", "") if isinstance(body, dict) else ""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if status in (401, 403):
        hint = (
            "Pass --token or set MEMWATCH_TOKEN."
            if client.token is None and status == 401
            else "Check the token (--token or MEMWATCH_TOKEN) and the service's auth choice."
        )
        return ApiError(f"{client.base_url} refused access ({status} {phrase}): {detail} {hint}")
    retry_after = None
    if status == 429 and headers.get("retry-after", "").isdigit():
        retry_after = float(headers["retry-after"])
        detail = f"{detail} Try again in {headers['retry-after']}s."
    return ApiError(f"{status} {phrase}: {detail}".strip(), status, retry_after)
