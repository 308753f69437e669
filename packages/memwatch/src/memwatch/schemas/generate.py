"""Write the shipped JSON Schemas from their one source, :mod:`memwatch.schemas._source`.

Run from a checkout after editing the source::

    python -m memwatch.schemas.generate          # rewrite the .json files
    python -m memwatch.schemas.generate --check  # exit 1 if any file differs

A test runs the same comparison, so a ``.json`` edited by hand fails CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memwatch.schemas._source import BODIES, DEFINITIONS, ID_BASE

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main", "render", "render_text"]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_REF_PREFIX = "#/$defs/"


def _refs(node: Any) -> set[str]:
    """The definition names ``node`` refers to directly, at any depth."""
    if isinstance(node, dict):
        found = {node["$ref"].removeprefix(_REF_PREFIX)} if "$ref" in node else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*map(_refs, node)) if node else set()
    return set()


def render(name: str) -> dict[str, Any]:
    """The schema of body ``name``: its top, with every definition it reaches in ``$defs``.

    Raises:
        KeyError: ``name`` is not one of the bodies the source describes.
    """
    top = BODIES[name]
    reached: set[str] = set()
    pending = _refs(top)
    while pending:
        reached |= pending
        pending = set().union(*(_refs(DEFINITIONS[ref]) for ref in pending)) - reached
    schema: dict[str, Any] = {"$schema": _DRAFT, "$id": f"{ID_BASE}{name}.json", **top}
    if reached:
        schema["$defs"] = {key: value for key, value in DEFINITIONS.items() if key in reached}
    return schema


def render_text(name: str) -> str:
    """The file text of body ``name``'s schema, exactly as shipped."""
    return json.dumps(render(name), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check``, compare) every schema file; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m memwatch.schemas.generate")
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent, help="directory of the .json files"
    )
    args = parser.parse_args(argv)
    stale = []
    for name in sorted(BODIES):
        path = args.output / f"{name}.json"
        text = render_text(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    verb = "differs from its source" if args.check else "written"
    for path in stale:
        sys.stdout.write(f"{path}: {verb}\n")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
