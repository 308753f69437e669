"""Who may use memwatch's HTTP API: an explicit choice, required when the API is built.

memwatch's routes reveal the shape of the heap and let a caller run heap
censuses and full collections, so :class:`memwatch.http.MemwatchAPI` refuses
to be built without an ``auth`` argument. Choose one of:

- :func:`bearer_token` ``(secret)``: clients send ``Authorization: Bearer <secret>``.
- :func:`loopback_only` ``()``: only clients on this machine, never through a proxy.
- :func:`read_only` ``(inner)``: ``inner`` decides, and only reads are allowed.
- :func:`allow_all` ``()``: anyone who can reach the service (unsafe).
- any callable taking the :class:`memwatch.wire.Request` (an *authorizer*).

How an authorizer answers:

- return ``True`` to allow the request;
- return ``False`` to deny it with 403 Forbidden;
- return or raise a :class:`Denial` to deny it with that status, detail and headers
  (e.g. 401 with a ``WWW-Authenticate`` challenge);
- anything else fails closed: any other return value (``None`` included, the
  usual sign of a function that forgot its ``return``) or any other exception
  denies the request with 500 and is logged on the ``memwatch`` logger.

Example::

    from memwatch.auth import Denial

    def office_only(request):
        if request.get_header("x-office-badge") == "ok":
            return True
        raise Denial(403, "Badge required.")
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from memwatch.wire import Request

__all__ = [
    "FORWARDING_HEADERS",
    "Authorizer",
    "Denial",
    "allow_all",
    "authorize",
    "bearer_token",
    "loopback_only",
    "read_only",
]

logger = logging.getLogger("memwatch")

Authorizer: TypeAlias = "Callable[[Request], object]"
"""Any callable taking the neutral request; see the module docstring for its answers."""

FORWARDING_HEADERS: tuple[str, ...] = (
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "via",
)
"""Headers a proxy adds; :func:`loopback_only` refuses any request carrying one."""

_CHALLENGE = 'Bearer realm="memwatch"'
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Denial(Exception):  # noqa: N818 - an answer, not an error: authorizers may return it
    """An authorizer's refusal: the status, detail and headers of the error response.

    Return it or raise it from an authorizer.

    Attributes:
        status: The HTTP status of the refusal (400-599), 403 by default.
        detail: What the client is told; never put secrets in it.
        headers: Extra response headers, e.g. ``WWW-Authenticate``.
    """

    def __init__(
        self,
        status: int = 403,
        detail: str = "You are not allowed to use memwatch's API.",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Describe the refusal.

        Raises:
            ValueError: if ``status`` is not an error status (400-599).
        """
        if not 400 <= status <= 599:
            raise ValueError(f"a denial needs an error status (400-599), got {status}")
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.headers: tuple[tuple[str, str], ...] = tuple(headers)


def _authorizer_failed() -> Denial:
    return Denial(500, "The authorizer failed; the server log has details.")


def authorize(authorizer: Authorizer, request: Request) -> Denial | None:
    """Ask ``authorizer`` about ``request``, failing closed.

    Returns:
        ``None`` when the request is allowed, else the :class:`Denial` to answer with.
    """
    try:
        answer = authorizer(request)
    except Denial as denial:
        return denial
    except Exception:
        logger.exception("memwatch: the authorizer %r raised; request denied", authorizer)
        return _authorizer_failed()
    if answer is True:
        return None
    if answer is False:
        return Denial()
    if isinstance(answer, Denial):
        return answer
    logger.error(
        "memwatch: the authorizer %r returned %s, not True, False or a Denial; request denied",
        authorizer,
        type(answer).__name__,
    )
    return _authorizer_failed()


def _digest(value: str) -> bytes:
    # Comparing fixed-size digests keeps the comparison's time independent of
    # both the token's content and its length.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


class _BearerToken:
    __slots__ = ("_digest",)

    def __init__(self, secret: str) -> None:
        self._digest = _digest(secret)

    def __repr__(self) -> str:
        return "bearer_token(<secret>)"

    def __call__(self, request: Request) -> bool | Denial:
        header = request.get_header("authorization")
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return Denial(
                401,
                "This API requires an 'Authorization: Bearer <token>' header.",
                [("WWW-Authenticate", _CHALLENGE)],
            )
        if hmac.compare_digest(_digest(token.strip()), self._digest):
            return True
        return Denial(
            401,
            "The bearer token is not valid.",
            [("WWW-Authenticate", f'{_CHALLENGE}, error="invalid_token"')],
        )


def bearer_token(secret: str) -> Authorizer:
    """Allow requests that carry ``Authorization: Bearer <secret>``.

    The comparison takes constant time. A missing header, another scheme or a
    wrong token gets 401 with ``WWW-Authenticate: Bearer realm="memwatch"``.
    Make the secret long and random, e.g. ``secrets.token_urlsafe(32)``, and
    serve it only over TLS or on a private network.

    Args:
        secret: The token clients must send: printable ASCII without spaces.

    Raises:
        TypeError: if ``secret`` is not a string.
        ValueError: if ``secret`` is empty or holds spaces, control or non-ASCII characters.
    """
    if not isinstance(secret, str):
        raise TypeError(f"the bearer secret must be a str, got {type(secret).__name__}")
    if not secret:
        raise ValueError("the bearer secret must not be empty")
    if not all("!" <= char <= "~" for char in secret):
        raise ValueError(
            "the bearer secret must be printable ASCII without spaces, "
            "e.g. secrets.token_urlsafe(32)"
        )
    return _BearerToken(secret)


def _is_loopback(client: str | None) -> bool:
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class _LoopbackOnly:
    __slots__ = ()

    def __repr__(self) -> str:
        return "loopback_only()"

    def __call__(self, request: Request) -> bool | Denial:
        for name in FORWARDING_HEADERS:
            if request.get_header(name) is not None:
                return Denial(
                    403,
                    f"memwatch accepts only local clients, and this request came "
                    f"through a proxy (it carries a {name!r} header).",
                )
        if not _is_loopback(request.client):
            return Denial(403, "memwatch accepts only local clients (loopback addresses).")
        return True


def loopback_only() -> Authorizer:
    """Allow only clients on this machine: a loopback peer and no proxy headers.

    The peer address must be in 127.0.0.0/8 or be ``::1`` (IPv4-mapped forms
    count). Behind a reverse proxy every client looks local, so a request
    carrying any of :data:`FORWARDING_HEADERS` is refused (403) whatever its peer
    address; so is a request whose peer address is unknown (a Unix socket).
    """
    return _LoopbackOnly()


class _AllowAll:
    __slots__ = ()

    def __repr__(self) -> str:
        return "allow_all()"

    def __call__(self, request: Request) -> bool:  # noqa: ARG002 - the point is to ignore it
        return True


def allow_all() -> Authorizer:
    """Allow every request. Unsafe.

    Anyone who can reach the service can then read its heap's type names and
    sizes, run heap censuses and force full collections (each pauses the
    process). Use it only where the network itself is the access control, e.g.
    a port reachable only from an internal admin network, or in tests.
    """
    return _AllowAll()


class _ReadOnly:
    __slots__ = ("inner",)

    def __init__(self, inner: Authorizer) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"read_only({self.inner!r})"

    def __call__(self, request: Request) -> bool | Denial:
        denial = authorize(self.inner, request)
        if denial is not None:
            return denial
        if request.method not in _SAFE_METHODS:
            return Denial(
                403,
                f"This memwatch API is read-only: {request.method} is not allowed.",
            )
        return True


def read_only(inner: Authorizer) -> Authorizer:
    """Let ``inner`` decide, then refuse anything but reads (403 on POST and DELETE).

    Only GET, HEAD and OPTIONS pass: status, profiles and the profile list can
    be read, but no census, collection or deletion runs. ``inner`` is asked
    first, so an unauthenticated client still gets ``inner``'s 401.

    Args:
        inner: The authorizer that decides who may read, e.g. ``bearer_token(secret)``.

    Raises:
        TypeError: if ``inner`` is not callable.
    """
    if not callable(inner):
        raise TypeError(f"read_only() needs an authorizer (a callable), got {inner!r}")
    return _ReadOnly(inner)
