"""describe_error and ErrorLog: what memwatch shows of an error it caught, and what it logs."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memwatch.errors import CensusBusyError, ErrorLog, describe_error, type_name

SECRET = "POST https://hooks.example/SECRET-WEBHOOK-TOKEN"


class WebhookError(Exception):
    """An application's own exception type."""


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_builtin_type_is_named_bare_and_others_with_their_module():
    """Builtins read as ConnectionError; other types as module.QualName, like a diff's types."""
    assert type_name(ConnectionError()) == "ConnectionError"
    assert type_name(WebhookError()) == f"{__name__}.WebhookError"
    assert type_name(CensusBusyError(1.0)) == "memwatch.errors.CensusBusyError"


def test_the_description_is_the_context_and_the_type_never_the_message():
    """describe_error keeps memwatch's words and the type; the exception's text is left out."""
    text = describe_error(ConnectionError(SECRET), "leak listener page")
    assert text == "leak listener page: ConnectionError"


@given(message=st.text(), context=st.sampled_from(["census", "poll", "gc callback"]))
def test_no_message_ever_reaches_the_description(message, context):
    """Whatever an exception says, its description is the same."""
    assert describe_error(RuntimeError(message), context) == f"{context}: RuntimeError"


def test_a_long_or_unencodable_type_name_still_makes_a_short_utf8_description():
    """A type named with a lone surrogate or at great length still gives 200 encodable chars."""
    odd = type("Odd", (Exception,), {})
    odd.__qualname__ = "Odd\udcff" + "x" * 500
    text = describe_error(odd(), "census")
    assert len(text) <= 200
    assert text.endswith("...")
    text.encode("utf-8")  # would raise on a lone surrogate


def test_error_log_counts_describes_and_logs_the_message_with_its_traceback(caplog):
    """note() counts, keeps the description, and logs the message and traceback for operators."""
    caplog.set_level(logging.WARNING, logger="memwatch")
    errors = ErrorLog(clock=Clock())

    def send() -> None:
        raise ConnectionError(SECRET)

    try:
        send()
    except ConnectionError as exc:
        described = errors.note(exc, "stats listener send")
    assert described == "stats listener send: ConnectionError"
    assert errors.count == 1
    assert errors.last == "stats listener send: ConnectionError"
    (record,) = [r for r in caplog.records if r.name == "memwatch"]
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == SECRET
    assert "Traceback" in caplog.text
    assert SECRET in caplog.text


def test_error_log_logs_at_most_one_traceback_per_interval(caplog):
    """An error repeated on every collection logs once, then again only after log_every seconds."""
    caplog.set_level(logging.WARNING, logger="memwatch")
    clock = Clock()
    errors = ErrorLog(log_every=60.0, clock=clock)
    for _ in range(1000):
        errors.note(OSError("statm"), "poll")
    clock.now += 60.0
    errors.note(OSError("statm"), "poll")
    assert errors.count == 1001
    assert len([r for r in caplog.records if r.name == "memwatch"]) == 2


def test_error_log_reset_forgets_everything():
    """After reset (a forked child) the count and description are empty and the next error logs."""
    errors = ErrorLog()
    errors.note(ValueError("x"), "poll")
    errors.reset()
    assert (errors.count, errors.last) == (0, "")


@pytest.mark.parametrize("retry_after", [1.0, 2.5])
def test_a_busy_error_names_both_heavy_passes(retry_after):
    """CensusBusyError says a census or a forced collection runs, and when to retry."""
    message = str(CensusBusyError(retry_after))
    assert "census or forced collection" in message
    assert f"{retry_after:g} s" in message
