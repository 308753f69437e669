"""Every route refuses without credentials, over real HTTP on each adapter.

the conformance suite (memwatch.testing) checks one route per auth case (status without or with a
wrong token, read_only refusing a collection); here every route meets every
case, and a refused write leaves the store as it was.
"""

from __future__ import annotations

import os

from memwatch.auth import bearer_token, loopback_only, read_only
from memwatch.http import ROUTES
from memwatch.testing import AUTH_HEADERS as AUTH
from memwatch.testing import TOKEN
from memwatch.testing.contract import assert_problem, assert_valid

# (method, path) of every route that needs auth ({id} filled in with a stored profile's id);
# the dashboard's static files are public by design (docs/security.md).
GUARDED = [route for route in ROUTES if not route.public]
ROUTE_CALLS = [(route.method, "/ah" + route.template) for route in GUARDED]

BEARER_CASES = {
    "missing-header": {},
    "wrong-scheme": {"Authorization": f"Basic {TOKEN}"},
    "scheme-only": {"Authorization": "Bearer"},
    "wrong-token": {"Authorization": "Bearer " + "x" * len(TOKEN)},
    "token-too-short": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "token-too-long": {"Authorization": f"Bearer {TOKEN}0"},
    "token-prefix-only": {"Authorization": f"Bearer {TOKEN[:4]}"},
    "empty-header": {"Authorization": ""},
}
FORWARDED = {
    "forwarded": {"Forwarded": "for=127.0.0.1"},
    "x-forwarded-for": {"X-Forwarded-For": "127.0.0.1"},
    "x-forwarded-host": {"X-Forwarded-Host": "localhost"},
    "x-forwarded-proto": {"X-Forwarded-Proto": "https"},
}


def _stored(client, headers):
    response = client.get("/ah/memory", params={"details": "true"}, headers=headers)
    assert response.status_code == 200
    return assert_valid("profile_list", response.content)["memoryProfiles"]


def _calls(profile_id: str) -> list[tuple[str, str]]:
    return [(method, path.replace("{id}", profile_id)) for method, path in ROUTE_CALLS]


def test_bearer_token_refuses_every_route(serve, watcher):
    """Under bearer_token each route answers each bad credential with 401 and a Bearer challenge."""
    client = serve(auth=bearer_token(TOKEN), watcher=watcher).client
    profile_id = client.post("/ah/memoryProfile", headers=AUTH).json()["id"]
    before = _stored(client, AUTH)
    refused = 0
    for case, headers in BEARER_CASES.items():
        for method, path in _calls(profile_id):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (case, method, path, response.text)
            assert_problem(401, response.headers, response.content, pid=os.getpid())
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            refused += 1
    assert refused == len(BEARER_CASES) * len(GUARDED)
    assert _stored(client, AUTH) == before


def test_loopback_only_refuses_forwarded_requests_on_every_route(serve, watcher):
    """Under loopback_only a request carrying any proxy header is a 403 on every route."""
    client = serve(auth=loopback_only(), watcher=watcher).client
    profile_id = client.post("/ah/memoryProfile").json()["id"]
    before = _stored(client, {})
    for case, headers in FORWARDED.items():
        for method, path in _calls(profile_id):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 403, (case, method, path, response.text)
            problem = assert_problem(403, response.headers, response.content, pid=os.getpid())
            assert "proxy" in problem["detail"]
    assert _stored(client, {}) == before


def test_read_only_refuses_every_write_and_allows_every_read(serve, watcher):
    """Under read_only every POST and DELETE route is a 403 and every GET route answers 200."""
    writer = watcher.start_profile()  # made behind the API's back: read_only cannot start one
    client = serve(auth=read_only(bearer_token(TOKEN)), watcher=watcher).client
    before = _stored(client, AUTH)
    for method, path in _calls(writer.id):
        response = client.request(method, path, headers=AUTH)
        if method in {"POST", "DELETE"}:
            assert response.status_code == 403, (method, path, response.text)
            assert_problem(403, response.headers, response.content, pid=os.getpid())
        else:
            assert response.status_code == 200, (method, path, response.text)
        # read_only asks its inner authorizer first: no token is still a 401.
        assert client.request(method, path).status_code == 401
    assert _stored(client, AUTH) == before
    assert [p["state"] for p in before] == ["running"]
