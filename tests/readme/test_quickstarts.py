"""Each quickstart runs as pasted: README's and docs' code, written to a file, served for real.

For each framework the test takes, from README.md (section "Quickstart") and
from docs/quickstart/<framework>.md, the Python that the reader pastes into
``app.py`` (every ```python block of the section that is not a ``>>>`` session,
in order) and the command under it (the ``$`` line of the console block
after the code that is not the token's ``export``), writes the code to an
empty directory, runs the command there in a subprocess with
``MEMWATCH_TOKEN`` set, and asks the served status with and without the
token. Only the port is changed (8000 to a free one), so tests never collide;
nothing else is added to what the reader sees.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs" / "quickstart"
FRAMEWORKS = {"flask": "Flask", "fastapi": "FastAPI", "tornado": "Tornado"}
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
TOKEN = "readme-quickstart-token"


def _section(text: str, heading: str, level: str) -> str:
    match = re.search(
        rf"^{level} {re.escape(heading)}\s*$(.*?)(?=^#{{1,{len(level)}}} |\Z)",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert match, f"no {level} {heading} section"
    return match.group(1)


def quickstart(text: str) -> tuple[str, str, str]:
    """The install line, the code for app.py and the run command of one quickstart text."""
    blocks = FENCE.findall(text)
    code = [
        body for lang, body in blocks if lang == "python" and not body.lstrip().startswith(">>>")
    ]
    assert code, "no code to paste"
    last_code = max(
        i for i, (lang, body) in enumerate(blocks) if body == code[-1] and lang == "python"
    )
    consoles = [(i, body) for i, (lang, body) in enumerate(blocks) if lang == "console"]
    install = next(body for i, body in consoles if "pip install" in body)
    run = next(body for i, body in consoles if i > last_code)
    commands = [line[2:] for line in run.splitlines() if line.startswith("$ ")]
    # The token is the test's own (MEMWATCH_TOKEN is set for the server), not `export`ed.
    command = next(line for line in commands if not line.startswith(("export ", "#")))
    return install.strip(), "\n".join(code), command


def readme_quickstart(framework: str) -> tuple[str, str, str]:
    section = _section(README.read_text(encoding="utf-8"), "Quickstart", "##")
    return quickstart(_section(section, FRAMEWORKS[framework], "###"))


def docs_quickstart(framework: str) -> tuple[str, str, str]:
    return quickstart((DOCS / f"{framework}.md").read_text(encoding="utf-8"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_and_ask(tmp_path: Path, code: str, command: str) -> None:
    port = str(_free_port())
    assert "8000" in command or "8000" in code, "the quickstart names no port"
    (tmp_path / "app.py").write_text(code.replace("8000", port), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "MEMWATCH_TOKEN": TOKEN, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    env.pop("PYTHONPATH", None)
    argv = shlex.split(command.replace("8000", port))
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/ah/memoryProfile/status"
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"{command!r} exited: {log.read_text()[-3000:]}"
            try:
                response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"nothing listened: {log.read_text()[-3000:]}"
                time.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.json()["process"]["pid"] == server.pid
        assert httpx.get(url, timeout=5).status_code == 401
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("source", [readme_quickstart, docs_quickstart], ids=["README", "docs"])
def test_quickstart_runs_as_pasted(framework, source, tmp_path):
    """The quickstart's code, pasted into app.py and started by its command, serves status."""
    pytest.importorskip(f"memwatch_{framework}")
    _install, code, command = source(framework)
    _serve_and_ask(tmp_path, code, command)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("source", [readme_quickstart, docs_quickstart], ids=["README", "docs"])
def test_install_line_installs_what_the_command_runs(framework, source):
    """The install line names the framework's extra or adapter, and a server where one is needed."""
    install, _code, command = source(framework)
    assert f"memwatch[{framework}]" in install or f"memwatch-{framework}" in install
    server = shlex.split(command)[0]
    if server not in ("python", "flask"):  # Flask brings its `flask` command; python is there
        assert server in install, f"{install!r} does not install {server!r}"
