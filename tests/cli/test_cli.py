"""The ``memwatch`` command against a real leaking service: every command, --json, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attr
import attrs
import cattrs

import memwatch
from memwatch.testing.contract import assert_valid


def _leak_reported(service) -> bool:
    return bool(service.get("/ah/memoryProfile/status").json()["lastLeak"]["timestamp"])


def test_status_labels_each_figure(service, memwatch):
    """`memwatch status URL` prints the pid, the probe's reading by name, baseline and leak."""
    service.get("/healthy")
    time.sleep(0.6)  # two samples at 0.25 s
    result = memwatch("status", service.url)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"pid {service.process.pid}" in out
    assert "process RSS now" in out  # the auto probe reads RSS even under -X tracemalloc
    assert "heap baseline" in out
    assert "none reported" in out
    assert result.stderr == ""


def test_status_json_is_the_status_schema(service, memwatch):
    """`memwatch status --json` prints the API's status body, valid against the shipped schema."""
    result = memwatch("status", service.url, "--json")
    assert result.returncode == 0, result.stderr
    body = assert_valid("status", result.stdout.encode())
    assert body["process"]["pid"] == service.process.pid


def test_url_with_or_without_the_prefix(service, memwatch):
    """The URL may name the service or its API (`/ah`); a trailing slash does not matter."""
    for url in (service.url, service.url + "/", service.url + "/ah", service.url + "/ah/"):
        result = memwatch("status", url, "--json")
        assert result.returncode == 0, (url, result.stderr)


def test_token_option_wins_over_the_environment(service, memwatch):
    """`--token` is used when given; MEMWATCH_TOKEN otherwise."""
    assert memwatch("status", service.url, "--token", service.token, token="wrong").returncode == 0
    assert memwatch("status", service.url, "--token", "wrong").returncode == 3


def test_profile_shows_the_leaking_class_and_its_line(service, memwatch):
    """`memwatch profile --seconds 2` under /leak traffic names LeakyThing and its line."""
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            service.get("/leak")
            time.sleep(0.02)

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        result = memwatch("profile", service.url, "--seconds", "2")
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "complete, trigger manual" in out
    assert "leaky_service.LeakyThing" in out or "__main__.LeakyThing" in out
    assert "Python objects counted:" in out
    assert "leaky_service.py:" in out  # the allocation site, in application code
    assert "site-packages" not in out
    assert "cattrs" not in out.split("lines holding the growth")[-1]


def test_profile_json_then_list_show_delete(service, memwatch):
    """Profile --json is the profile schema; list, show, delete find it; then it is a 404."""
    result = memwatch("profile", service.url, "--seconds", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    profile = assert_valid("profile", result.stdout.encode())
    profile_id = profile["id"]

    listed = memwatch("list", service.url, "--json")
    assert profile_id in [
        p["id"] for p in assert_valid("profile_list", listed.stdout.encode())["memoryProfiles"]
    ]
    table = memwatch("list", service.url)
    assert table.returncode == 0
    assert profile_id in table.stdout
    assert "complete" in table.stdout

    shown = memwatch("show", service.url, profile_id, "--json")
    assert assert_valid("profile", shown.stdout.encode())["id"] == profile_id
    assert f"profile {profile_id}" in memwatch("show", service.url, profile_id).stdout

    deleted = memwatch("delete", service.url, profile_id, "--json")
    assert assert_valid("message", deleted.stdout.encode()) == {
        "message": f"Deleted profile {profile_id}"
    }
    gone = memwatch("show", service.url, profile_id)
    assert gone.returncode == 3
    assert gone.stderr == f"memwatch: 404 Not Found: No memory profile with id '{profile_id}'.\n"


def test_gc_forces_a_collection(service, memwatch):
    """`memwatch gc` reports the collection in one line; --json is the gc_result schema."""
    result = memwatch("gc", service.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("full collection forced:")
    body = assert_valid("gc_result", memwatch("gc", service.url, "--json").stdout.encode())
    assert body["lastGC"]["num_full_gc"] >= 1


def test_watch_draws_sparklines_and_stops_after_count(service, memwatch):
    """`memwatch watch --count 3` shows the reading, the baseline and sparklines, then exits 0."""
    result = memwatch("watch", service.url, "--interval", "0.3", "--count", "3")
    assert result.returncode == 0, result.stderr
    assert "heap baseline" in result.stdout
    assert any(block in result.stdout for block in "▁▂▃▄▅▆▇█")


def test_watch_json_prints_one_status_per_line(service, memwatch):
    """`memwatch watch --json` prints one status body per line, each valid."""
    result = memwatch("watch", service.url, "--interval", "0.2", "--count", "2", "--json")
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert_valid("status", line.encode())


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_watch_stops_cleanly_on_ctrl_c(service):
    """Ctrl-C (SIGINT) ends `memwatch watch` with status 0 and no traceback."""
    env = {**os.environ, "MEMWATCH_TOKEN": service.token}
    process = subprocess.Popen(
        [sys.executable, "-m", "memwatch", "watch", service.url, "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job (`cmd &`, as CI may be started) inherits SIGINT
        # ignored, and Python keeps it so: give the child Ctrl-C as a terminal has it.
        preexec_fn=_default_sigint,  # noqa: PLW1509 - no threads touch the child before exec
    )
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped" in out


def test_fail_on_leak(fresh_service, memwatch):
    """`status --fail-on-leak` exits 0 while healthy and 1 once a leak is reported, and shows it."""
    assert memwatch("status", fresh_service.url, "--fail-on-leak").returncode == 0
    fresh_service.drive_leak(lambda: _leak_reported(fresh_service))
    result = memwatch("status", fresh_service.url, "--fail-on-leak")
    assert result.returncode == 1
    assert "LEAK " in result.stdout
    as_json = memwatch("status", fresh_service.url, "--fail-on-leak", "--json")
    assert as_json.returncode == 1
    assert assert_valid("status", as_json.stdout.encode())["lastLeak"]["reason"]
    assert memwatch("status", fresh_service.url).returncode == 0  # without the flag


# -- errors: one line on stderr, exit status 3, never a traceback ---------------------


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("memwatch: ")
    return result.stderr


def test_no_token(service, memwatch):
    """Without a token the error names the 401 and how to give one."""
    err = _one_line_error(memwatch("status", service.url, token=None))
    assert "refused access (401 Unauthorized)" in err
    assert "Pass --token or set MEMWATCH_TOKEN." in err


def test_wrong_token(service, memwatch):
    """A wrong token is a 401 that says to check the token."""
    err = _one_line_error(memwatch("status", service.url, token="not-the-token"))
    assert "refused access (401 Unauthorized)" in err
    assert "Check the token" in err


def test_read_only_refuses_writes(read_only_service, memwatch):
    """A read-only service answers status but refuses gc and profile with a 403 line."""
    url = read_only_service.url
    assert memwatch("status", url).returncode == 0
    for command in (("gc", url), ("profile", url, "--seconds", "0.1")):
        err = _one_line_error(memwatch(*command))
        assert "refused access (403 Forbidden)" in err


def test_unreachable(memwatch):
    """A port nobody listens on: 'cannot reach ... connection refused'."""
    err = _one_line_error(memwatch("status", "http://127.0.0.1:9"))
    assert err.startswith("memwatch: cannot reach http://127.0.0.1:9/ah: connection refused")


def test_not_memwatch(memwatch):
    """A web server that is not memwatch (no Memwatch-Pid header) is named as such."""

    class Plain(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>hello</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        err = _one_line_error(memwatch("status", f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
        server.server_close()
    assert "is not a memwatch API" in err
    assert "check the URL and --prefix" in err


def test_wrong_prefix(service, memwatch):
    """The right service with the wrong --prefix is 'not a memwatch API', not a crash."""
    err = _one_line_error(memwatch("status", service.url, "--prefix", "/other"))
    assert "is not a memwatch API" in err


def test_bad_url(memwatch):
    """A URL that is not http(s) is refused before any request."""
    err = _one_line_error(memwatch("status", "ftp://example.org"))
    assert "is not an http:// or https:// URL" in err


def test_usage_error_exits_2(memwatch):
    """A command line argparse rejects exits 2 with its usage line."""
    result = memwatch("profile")
    assert result.returncode == 2
    assert "usage: memwatch" in result.stderr


def test_without_the_cli_extra(tmp_path: Path):
    """Without rich, `python -m memwatch` prints one line naming the extra and exits 2."""
    # A path with only the core and its runtime dependencies: no rich.
    for module in (memwatch, attrs, attr, cattrs):
        source = Path(module.__file__).parent
        (tmp_path / source.name).symlink_to(source)
    for extra in ("typing_extensions", "exceptiongroup"):
        found = [
            p for p in sys.path if (Path(p) / f"{extra}.py").exists() or (Path(p) / extra).is_dir()
        ]
        if found:
            name = f"{extra}.py" if (Path(found[0]) / f"{extra}.py").exists() else extra
            (tmp_path / name).symlink_to(Path(found[0]) / name)
    env = {"PYTHONPATH": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-S", "-m", "memwatch", "status", "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "memwatch: the command line needs the 'cli' extra: pip install \"memwatch[cli]\" "
        "(missing module: rich)\n"
    )
