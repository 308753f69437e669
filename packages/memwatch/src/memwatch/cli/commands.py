"""The ``memwatch`` subcommands: parse the command line, ask the API, print the answer.

Exit statuses: 0 done; 1 a leak is reported (``status --fail-on-leak``);
2 a bad command line (or the ``cli`` extra is missing); 3 no usable answer
(unreachable, refused, not memwatch, no such profile), with one line on stderr.

``--json`` prints the API's JSON body as the service sent it (``watch``: one
status per line), so scripts read exactly what the shipped schemas describe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rich.console import Console
from rich.text import Text

from memwatch.cli import render
from memwatch.cli.client import DEFAULT_PREFIX, ApiClient, ApiError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["EXIT_ERROR", "EXIT_LEAK", "EXIT_OK", "build_parser", "run"]

EXIT_OK, EXIT_LEAK, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3

_URL_HELP = (
    "the service's base URL, e.g. http://127.0.0.1:8000 (memwatch's prefix is appended "
    "unless the URL already ends with it)"
)


def build_parser() -> argparse.ArgumentParser:
    """The ``memwatch`` argument parser, with one subparser per command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("url", metavar="URL", help=_URL_HELP)
    common.add_argument("--token", help="the bearer token (default: $MEMWATCH_TOKEN)")
    common.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"where the service mounted memwatch (default: {DEFAULT_PREFIX}; '' for the root)",
    )
    common.add_argument("--json", action="store_true", help="print the API's JSON instead")
    common.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for each answer"
    )
    parser = argparse.ArgumentParser(
        prog="memwatch", description="Read a running service's memwatch API: leaks, heap diffs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    status = commands.add_parser("status", parents=[common], help="the service's heap and leaks")
    status.add_argument(
        "--fail-on-leak", action="store_true", help="exit 1 when a leak has been reported"
    )
    live = commands.add_parser(
        "watch", parents=[common], help="a live view of heap and baseline; Ctrl-C stops"
    )
    live.add_argument("--interval", type=float, default=2.0, help="seconds between readings")
    live.add_argument("--count", type=int, help="stop after this many readings")
    profile = commands.add_parser(
        "profile", parents=[common], help="take a profile over N seconds and show its diff"
    )
    profile.add_argument("--seconds", type=float, default=30.0, help="how long (default 30)")
    commands.add_parser("list", parents=[common], help="the stored profiles")
    for name, text in (("show", "one profile and its diff"), ("delete", "delete a profile")):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("id", metavar="ID", help="the profile's id")
    commands.add_parser("gc", parents=[common], help="force a full garbage collection")
    return parser


def run(argv: Sequence[str]) -> int:
    """Parse ``argv``, run the command, and return its exit status."""
    args = build_parser().parse_args(argv)
    token = args.token if args.token is not None else os.environ.get("MEMWATCH_TOKEN") or None
    # Piped output would be cut to 80 columns; a terminal keeps its own width.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    try:
        client = ApiClient(args.url, token=token, prefix=args.prefix, timeout=args.timeout)
        try:
            return _COMMANDS[args.command](client, args, console)
        finally:
            client.close()
    except ApiError as exc:
        print(f"memwatch: {exc}", file=sys.stderr)  # noqa: T201 - the one-line error
        return EXIT_ERROR


def _print_json(body: Any) -> None:
    sys.stdout.write(json.dumps(body, indent=2) + "\n")


def _status(client: ApiClient, args: argparse.Namespace, console: Console) -> int:
    status = client.get("/memoryProfile/status").body
    if args.json:
        _print_json(status)
    else:
        console.print(render.status_view(status))
    leaked = bool(status.get("lastLeak", {}).get("timestamp"))
    return EXIT_LEAK if args.fail_on_leak and leaked else EXIT_OK


# rich's live display and progress bar are imported by the commands that draw them only:
# `memwatch status` answers within 300 ms of the shell starting it.


def _watch(client: ApiClient, args: argparse.Namespace, console: Console) -> int:
    from memwatch.cli.live import watch  # noqa: PLC0415 - see above

    watch(client, console, interval=args.interval, count=args.count, as_json=args.json)
    return EXIT_OK


def _profile(client: ApiClient, args: argparse.Namespace, console: Console) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    progress_console = Console(stderr=True)
    started = _start_profile(client, progress_console)
    profile_id = started["id"]
    columns = (
        TextColumn(f"profile {profile_id}"),
        BarColumn(),
        TimeRemainingColumn(),
        TextColumn("Ctrl-C ends it now"),
    )
    try:
        with Progress(*columns, console=progress_console, transient=True) as progress:
            task = progress.add_task("profile", total=args.seconds)
            deadline = time.monotonic() + args.seconds
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(0.1, left))
                progress.update(task, completed=args.seconds - max(0.0, left))
    except KeyboardInterrupt:
        progress_console.print(f"ending profile {profile_id} early")
    ended = client.post(f"/memoryProfile/{quote(profile_id, safe='')}/end").body
    if args.json:
        _print_json(ended)
    else:
        console.print(render.profile_view(ended))
    return EXIT_OK


_BUSY_WAIT_LIMIT = 60.0


def _start_profile(client: ApiClient, console: Console) -> Any:
    """Start a profile; while another census runs (429), wait as told, up to a minute."""
    waited = 0.0
    while True:
        try:
            return client.post("/memoryProfile").body
        except ApiError as exc:  # noqa: PERF203 - one attempt per census that held us up
            if exc.retry_after is None or waited + exc.retry_after > _BUSY_WAIT_LIMIT:
                raise
            console.print(f"a census is running in the service; starting in {exc.retry_after:g}s")
            time.sleep(exc.retry_after)
            waited += exc.retry_after


def _list(client: ApiClient, args: argparse.Namespace, console: Console) -> int:
    listing = client.get("/memory?details=true").body
    if args.json:
        _print_json(listing)
    elif listing.get("memoryProfiles"):
        console.print(render.profiles_table(listing["memoryProfiles"]))
    else:
        console.print("no profiles stored: take one with memwatch profile URL")
    return EXIT_OK


def _show(client: ApiClient, args: argparse.Namespace, console: Console) -> int:
    profile = client.get(f"/memoryProfile/{quote(args.id, safe='')}").body
    if args.json:
        _print_json(profile)
    else:
        console.print(render.profile_view(profile))
    return EXIT_OK


def _delete(client: ApiClient, args: argparse.Namespace, console: Console) -> int:
    answer = client.delete(f"/memoryProfile/{quote(args.id, safe='')}").body
    if args.json:
        _print_json(answer)
    else:
        console.print(Text(str(answer.get("message", ""))))
    return EXIT_OK


def _gc(client: ApiClient, args: argparse.Namespace, console: Console) -> int:
    result = client.post("/memory/gc").body
    if args.json:
        _print_json(result)
    else:
        console.print(render.gc_view(result))
    return EXIT_OK


_COMMANDS: dict[str, Callable[[ApiClient, argparse.Namespace, Console], int]] = {
    "status": _status,
    "watch": _watch,
    "profile": _profile,
    "list": _list,
    "show": _show,
    "delete": _delete,
    "gc": _gc,
}
