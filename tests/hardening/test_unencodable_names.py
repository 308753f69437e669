"""Names UTF-8 cannot encode, and types a census cannot hash, never make memwatch answer 500.

A class whose ``__module__``/``__qualname__`` holds a lone surrogate, or a
leak allocated by a file under a directory whose name is not UTF-8, used to
break the JSON of the diff that named it: status, the profile and
``GET /ah/memory?details=true`` answered 500 until another diff replaced it.
An unhashable class or a patched :func:`sys.getsizeof` made the census itself
raise. Each test leaks such objects in the served process and reads every
view of the result over real HTTP.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tracemalloc

import pytest

from memwatch.auth import bearer_token
from memwatch.testing import AUTH_HEADERS as AUTH
from memwatch.testing import TOKEN
from memwatch.testing.contract import assert_valid

KEPT: list[object] = []

LEAKY_MODULE = """
KEPT = []

def leak():
    KEPT.extend(bytearray(4096) for _ in range(300))
"""


class UnhashableMeta(type):
    """Defining __eq__ without __hash__ makes every class of this metaclass unhashable."""

    def __eq__(cls, other: object) -> bool:
        return cls is other

    __hash__ = None  # type: ignore[assignment]


class RaisingHashStr(str):
    """A str whose hash raises."""

    __slots__ = ()

    def __hash__(self) -> int:
        raise RuntimeError("no hash")


@pytest.fixture
def kept():
    """What a test leaks into the served process; dropped after it."""
    yield KEPT
    KEPT.clear()


def _profile(client) -> dict:
    """Start a profile over HTTP and return its id."""
    started = client.post("/ah/memoryProfile", headers=AUTH)
    assert started.status_code == 201, started.text
    return started.json()["id"]


def _end_and_read_back(client, profile_id: str) -> dict:
    ended = client.post(f"/ah/memoryProfile/{profile_id}/end", headers=AUTH)
    assert ended.status_code == 200, ended.text
    profile = assert_valid("profile", ended.content)
    assert profile["state"] == "complete", profile["error"]
    for path, schema in (
        ("/ah/memoryProfile/status", "status"),
        (f"/ah/memoryProfile/{profile_id}", "profile"),
        ("/ah/memory?details=true", "profile_list"),
        ("/ah/memory", "profile_id_list"),
    ):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 200, (path, response.text)
        assert_valid(schema, response.content)
    return profile


def test_a_type_named_with_lone_surrogates(serve, watcher, kept):
    """A leak of a class whose module and qualname hold lone surrogates reads back escaped."""
    client = serve(auth=bearer_token(TOKEN), watcher=watcher).client
    profile_id = _profile(client)
    bad = type("Bad", (), {"__module__": "leaky\udcfe"})
    bad.__qualname__ = "Bad\udcff"
    kept.extend(bad() for _ in range(500))
    profile = _end_and_read_back(client, profile_id)
    names = {detail["what"]: detail for detail in profile["lastDiff"]["change"]["details"]}
    assert names["leaky\\udcfe.Bad\\udcff"]["+"] == 500
    status = client.get("/ah/memoryProfile/status", headers=AUTH).json()
    assert "leaky\\udcfe.Bad\\udcff" in {d["what"] for d in status["lastDiff"]["change"]["details"]}


def test_a_leak_from_a_file_under_a_non_utf8_directory(serve, watcher, kept, tmp_path):
    """An allocation site whose path is not UTF-8 is named with its undecodable byte escaped."""
    directory = tmp_path / os.fsdecode(b"caf\xe9")
    directory.mkdir()
    source = directory / "leaky_site.py"
    source.write_text(LEAKY_MODULE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("leaky_site", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kept.append(module)
    client = serve(auth=bearer_token(TOKEN), watcher=watcher).client
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        profile_id = _profile(client)
        module.leak()
        profile = _end_and_read_back(client, profile_id)
    finally:
        if not was_tracing:
            tracemalloc.stop()
    files = {site["file"] for site in profile["lastDiff"]["change"]["allocation_sites"]}
    assert str(source).encode("utf-8", "backslashreplace").decode() in files


def test_unhashable_classes_and_a_patched_getsizeof(serve, watcher, kept, monkeypatch):
    """A census over an unhashable class, a raising-hash qualname and a None getsizeof succeeds."""
    client = serve(auth=bearer_token(TOKEN), watcher=watcher).client
    unhashable = UnhashableMeta("Unhashable", (), {})
    odd = type("Odd", (), {})
    odd.__qualname__ = RaisingHashStr("Odd")
    kept.extend([unhashable() for _ in range(50)] + [odd() for _ in range(50)])
    monkeypatch.setattr(sys, "getsizeof", lambda *_: None)
    profile_id = _profile(client)
    kept.extend(unhashable() for _ in range(70))
    profile = _end_and_read_back(client, profile_id)
    names = {detail["what"]: detail for detail in profile["lastDiff"]["change"]["details"]}
    assert names[f"{__name__}.Unhashable"]["+"] == 70
