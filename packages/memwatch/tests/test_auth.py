"""The built-in authorizers and how any authorizer's answer is read (failing closed)."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch.auth import (
    FORWARDING_HEADERS,
    Denial,
    allow_all,
    authorize,
    bearer_token,
    loopback_only,
    read_only,
)
from memwatch.http import Request

SECRET = "s3cr3t-token_value"
CHALLENGE = 'Bearer realm="memwatch"'


def _request(
    method: str = "GET",
    headers: dict[str, str] | None = None,
    client: str | None = "127.0.0.1",
) -> Request:
    return Request(method, "/ah/memoryProfile/status", headers=headers or {}, client=client)


# -- how answers are read --------------------------------------------------------


def test_true_allows_and_false_denies_with_403() -> None:
    """An authorizer returning True allows; returning False denies with 403."""
    assert authorize(lambda _r: True, _request()) is None
    denial = authorize(lambda _r: False, _request())
    assert denial is not None
    assert denial.status == 403


def test_returned_and_raised_denials_are_used_as_given() -> None:
    """A Denial, returned or raised, becomes the answer with its status, detail and headers."""
    given_denial = Denial(401, "who are you?", [("WWW-Authenticate", "Basic")])

    def raising(_request: Request) -> bool:
        raise given_denial

    for authorizer in (lambda _r: given_denial, raising):
        denial = authorize(authorizer, _request())
        assert denial is not None
        assert (denial.status, denial.detail, denial.headers) == (
            401,
            "who are you?",
            (("WWW-Authenticate", "Basic"),),
        )


@pytest.mark.parametrize("answer", [None, 1, "yes", [True], object()])
def test_other_answers_fail_closed(answer: object, caplog: pytest.LogCaptureFixture) -> None:
    """Any answer but True/False/Denial (None included) denies with 500 and is logged."""
    with caplog.at_level(logging.ERROR, logger="memwatch"):
        denial = authorize(lambda _r: answer, _request())
    assert denial is not None
    assert denial.status == 500
    assert type(answer).__name__ in caplog.text


def test_an_authorizer_that_raises_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    """An unexpected exception in an authorizer denies with 500, logged with its traceback."""

    def broken(_request: Request) -> bool:
        raise RuntimeError("database down")

    with caplog.at_level(logging.ERROR, logger="memwatch"):
        denial = authorize(broken, _request())
    assert denial is not None
    assert denial.status == 500
    assert "database down" not in denial.detail
    assert caplog.records[0].exc_info is not None


@pytest.mark.parametrize("status", [200, 302, 399, 600])
def test_denial_needs_an_error_status(status: int) -> None:
    """A Denial with a non-error status is refused at construction."""
    with pytest.raises(ValueError, match="error status"):
        Denial(status)


def test_denial_defaults_to_403() -> None:
    """A bare Denial is a 403 with a generic detail and no headers."""
    denial = Denial()
    assert (denial.status, denial.headers) == (403, ())
    assert denial.detail


# -- bearer_token -------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [f"Bearer {SECRET}", f"bearer {SECRET}", f"BEARER   {SECRET} ", f" Bearer {SECRET}"]
)
def test_bearer_token_allows_the_secret(header: str) -> None:
    """The right token is accepted, whatever the scheme's case and surrounding spaces."""
    assert bearer_token(SECRET)(_request(headers={"Authorization": header})) is True


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, False),
        ({"Authorization": ""}, False),
        ({"Authorization": f"Basic {SECRET}"}, False),
        ({"Authorization": SECRET}, False),
        ({"Authorization": "Bearer"}, True),
        ({"Authorization": "Bearer wrong"}, True),
        ({"Authorization": f"Bearer {SECRET}x"}, True),
        ({"Authorization": f"Bearer {SECRET[:-1]}"}, True),
        ({"Authorization": f"Bearer {SECRET}, Bearer {SECRET}"}, True),
        ({"Authorization": "Bearer \udcff"}, True),
    ],
)
def test_bearer_token_refuses_with_401_and_a_challenge(
    headers: dict[str, str], *, error: bool
) -> None:
    """Missing header, other scheme, or a wrong token/length: 401 with WWW-Authenticate."""
    denial = bearer_token(SECRET)(_request(headers=headers))
    assert isinstance(denial, Denial)
    assert denial.status == 401
    challenge = dict(denial.headers)["WWW-Authenticate"]
    assert challenge.startswith(CHALLENGE)
    assert ('error="invalid_token"' in challenge) is error
    assert SECRET not in denial.detail


@given(token=st.text())
def test_bearer_token_allows_only_the_exact_secret(token: str) -> None:
    """Any token other than the secret itself is refused."""
    answer = bearer_token(SECRET)(_request(headers={"Authorization": f"Bearer {token}"}))
    assert (answer is True) == (token.strip() == SECRET)


@pytest.mark.parametrize(
    ("secret", "error"),
    [
        ("", ValueError),
        ("has space", ValueError),
        ("tab\there", ValueError),
        ("naïve", ValueError),
        (b"bytes", TypeError),
        (None, TypeError),
    ],
)
def test_bearer_token_refuses_unusable_secrets(secret: object, error: type[Exception]) -> None:
    """Empty, non-str or unsendable secrets are refused when the authorizer is built."""
    with pytest.raises(error):
        bearer_token(secret)  # type: ignore[arg-type]


def test_bearer_token_repr_hides_the_secret() -> None:
    """The authorizer's repr (shown in logs and in the API's repr) never shows the secret."""
    assert SECRET not in repr(bearer_token(SECRET))


# -- loopback_only ------------------------------------------------------------------


@pytest.mark.parametrize(
    "client", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1", " 127.0.0.1 "]
)
def test_loopback_only_allows_local_clients(client: str) -> None:
    """Loopback peers (IPv4 127/8, ::1, IPv4-mapped) are allowed."""
    assert loopback_only()(_request(client=client)) is True


@pytest.mark.parametrize(
    "client",
    [None, "", "10.0.0.1", "192.168.1.2", "::ffff:10.0.0.1", "fe80::1%lo", "localhost",
     "127.0.0.1:8000", "unix:/tmp/sock"],
)  # fmt: skip
def test_loopback_only_refuses_other_clients(client: str | None) -> None:
    """Remote, unknown or unparsable peers are refused with 403."""
    denial = loopback_only()(_request(client=client))
    assert isinstance(denial, Denial)
    assert denial.status == 403


@pytest.mark.parametrize("header", FORWARDING_HEADERS)
def test_loopback_only_refuses_proxied_requests(header: str) -> None:
    """A loopback peer carrying any forwarding header is refused: the proxy is local."""
    denial = loopback_only()(_request(headers={header.title(): "127.0.0.1"}))
    assert isinstance(denial, Denial)
    assert denial.status == 403
    assert header in denial.detail


# -- allow_all and read_only --------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_allow_all_allows_anything(method: str) -> None:
    """allow_all allows every request, even from a remote client without credentials."""
    assert allow_all()(_request(method, client="203.0.113.9")) is True


def test_allow_all_says_it_is_unsafe() -> None:
    """allow_all's docstring warns that it is unsafe."""
    assert "Unsafe" in (allow_all.__doc__ or "")


@pytest.mark.parametrize(("method", "allowed"), [("GET", True), ("HEAD", True),
                                                 ("OPTIONS", True), ("POST", False),
                                                 ("DELETE", False), ("PUT", False)])  # fmt: skip
def test_read_only_allows_only_reads(method: str, *, allowed: bool) -> None:
    """read_only lets reads through its inner authorizer and refuses writes with 403."""
    answer = read_only(allow_all())(_request(method))
    if allowed:
        assert answer is True
    else:
        assert isinstance(answer, Denial)
        assert answer.status == 403
        assert method in answer.detail


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_read_only_asks_inner_first(method: str) -> None:
    """An unauthenticated write gets inner's 401, not read_only's 403."""
    denial = read_only(bearer_token(SECRET))(_request(method))
    assert isinstance(denial, Denial)
    assert denial.status == 401


def test_read_only_fails_closed_when_inner_fails() -> None:
    """If the inner authorizer breaks, read_only denies with 500 too."""
    denial = read_only(lambda _r: None)(_request())
    assert isinstance(denial, Denial)
    assert denial.status == 500


def test_read_only_needs_a_callable() -> None:
    """read_only refuses a non-callable inner authorizer."""
    with pytest.raises(TypeError, match="authorizer"):
        read_only("secret")  # type: ignore[arg-type]


def test_reprs_name_the_choice() -> None:
    """Built-in authorizers have reprs that say what they are."""
    assert repr(loopback_only()) == "loopback_only()"
    assert repr(allow_all()) == "allow_all()"
    assert repr(read_only(allow_all())) == "read_only(allow_all())"
