"""Directives for the HTTP reference, and a build-time check of it against the code.

The reference page describes routes, body objects and errors with three
directives; the *types* of fields are never written by hand but read from the
JSON Schemas that ship with memwatch. When every page has been read, the
extension compares what the page documents with what the code has, and each
difference is a Sphinx warning (an error under ``-W``):

- the routes documented are exactly :data:`memwatch.routes.ROUTES`, each with
  the success status and body schemas of its row;
- every object of every schema (each top-level schema and each object in its
  ``$defs``) is documented, with exactly the schema's property names;
- every error status the HTTP layer and the built-in authorizers can answer
  with is documented, and no other;
- each documented route, run in-process against a real
  :class:`memwatch.http.MemwatchAPI`, answers with the documented status and a
  body that validates against the documented schema; each documented error is
  provoked the same way where that needs no race (all but 429).

Syntax (field and error descriptions are MyST, one term per line, then ``: text``)::

    ```{http-route} POST /ah/memoryProfile
    :status: 201
    :body: profile
    :errors: 401 403 409 429
    Starts a profile.
    ```

    ```{http-object} GCStats
    num_full_gc
    : Full collections since the watcher started.
    ```

    ```{http-errors}
    404
    : No route, or no profile with that id.
    ```
"""

from __future__ import annotations

import inspect
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

import memwatch.auth
import memwatch.host_api
import memwatch.http
from memwatch.routes import ROUTES
from memwatch.schemas import SCHEMA_NAMES, load_schema

if TYPE_CHECKING:
    from collections.abc import Callable

    from sphinx.application import Sphinx
    from sphinx.environment import BuildEnvironment

logger = logging.getLogger(__name__)

# The default prefix, where the reference documents the routes.
PREFIX: str = inspect.signature(memwatch.http.MemwatchAPI).parameters["prefix"].default


# -- what the code has ---------------------------------------------------------------------


def schema_objects() -> tuple[dict[str, list[str]], dict[str, dict[str, Any]], list[str]]:
    """Objects by title -> property names; scalar $defs by title; inconsistencies found.

    Each schema file is self-contained, so a shared object (GCStats) appears in
    several files' ``$defs``; those copies must agree.
    """
    objects: dict[str, list[str]] = {}
    scalars: dict[str, dict[str, Any]] = {}
    problems: list[str] = []

    def add(title: str, schema: dict[str, Any], where: str) -> None:
        props = list(schema.get("properties", {}))
        if title in objects and objects[title] != props:
            problems.append(f"object {title} in {where} differs from another schema's copy")
        objects.setdefault(title, props)

    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        add(schema["title"], schema, f"{name}.json")
        for def_name, sub in schema.get("$defs", {}).items():
            if sub.get("type") == "object":
                add(sub.get("title", def_name), sub, f"{name}.json")
            else:
                scalars.setdefault(sub.get("title", def_name), sub)
    return objects, scalars, problems


def _defs() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for name in SCHEMA_NAMES:
        merged.update(load_schema(name).get("$defs", {}))
    return merged


def code_error_statuses() -> set[int]:
    """Every literal error status in the HTTP layer and the built-in authorizers."""
    found: set[int] = set()
    http_src = inspect.getsource(memwatch.http)
    auth_src = inspect.getsource(memwatch.auth)
    found |= {int(s) for s in re.findall(r"_problem\(\s*(\d{3})", http_src)}
    # The workers' routes answer their errors through memwatch.host_api.problem_for.
    host_src = inspect.getsource(memwatch.host_api.problem_for)
    found |= {int(s) for s in re.findall(r"return (\d{3}),", host_src)} - {500}
    found |= {int(s) for s in re.findall(r"Denial\(\s*(\d{3})", auth_src)}
    # Denial() without a status refuses with its default, 403.
    if re.search(r"Denial\(\)", auth_src):
        found.add(403)
    return found


def type_text(prop: dict[str, Any], defs: dict[str, dict[str, Any]]) -> str:
    """A short human name for a property's JSON type, read from its schema."""
    if "$ref" in prop:
        target = defs[prop["$ref"].rsplit("/", 1)[1]]
        return str(target.get("title", prop["$ref"]))
    if "anyOf" in prop:
        return " or ".join(type_text(p, defs) for p in prop["anyOf"])
    if "enum" in prop:
        return "one of " + ", ".join(
            f'"{v}"' if isinstance(v, str) else str(v) for v in prop["enum"]
        )
    if "const" in prop:
        return f'"{prop["const"]}"'
    kind = prop.get("type", "any")
    if kind == "array":
        return f"array of {type_text(prop.get('items', {}), defs)}"
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "minimum" in prop and "maximum" in prop:
        text += f" {prop['minimum']}-{prop['maximum']}"
    elif "minimum" in prop:
        text += f" ≥ {prop['minimum']}"
    return text


# -- parsing the directives' content -----------------------------------------------------


def parse_terms(lines: list[str]) -> list[tuple[str, str]]:
    """``term`` / ``: description`` pairs (a MyST definition list, read by hand)."""
    entries: list[tuple[str, list[str]]] = []
    for line in lines:
        if not line.strip():
            if entries:
                entries[-1][1].append("")
            continue
        if line.startswith(": "):
            entries[-1][1].append(line[2:])
        elif line.startswith(("  ", "\t")) and entries:
            entries[-1][1].append(line.strip())
        else:
            entries.append((line.strip().strip("`"), []))
    return [(term, "\n".join(desc).strip()) for term, desc in entries]


def _anchor(kind: str, name: str) -> str:
    return nodes.make_id(f"{kind}-{name}")


def _cell(content: list[nodes.Node] | str) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(content, str):
        entry += nodes.paragraph(text=content)
    else:
        entry.extend(content)
    return entry


def _table(headers: list[str], rows: list[list[nodes.entry]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["memwatch-reference"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    row = nodes.row()
    for header in headers:
        row += _cell(header)
    head += row
    group += head
    body = nodes.tbody()
    for cells in rows:
        row = nodes.row()
        row.extend(cells)
        body += row
    group += body
    return table


def _state(env: BuildEnvironment) -> dict[str, Any]:
    if not hasattr(env, "memwatch_http"):
        env.memwatch_http = {"routes": {}, "objects": {}, "errors": {}}  # type: ignore[attr-defined]
    state: dict[str, Any] = env.memwatch_http  # type: ignore[attr-defined]
    return state


class _Base(SphinxDirective):
    has_content = True

    def describe(self, text: str) -> list[nodes.Node]:
        return self.parse_text_to_nodes(text) if text else []

    def label(self, kind: str, name: str) -> nodes.target:
        """A target that `{ref}` can reach from any page, e.g. ``object-status``."""
        anchor = _anchor(kind, name)
        std = self.env.domains["std"]
        std.note_hyperlink_target(anchor, self.env.docname, anchor, name)  # type: ignore[attr-defined]
        return nodes.target("", "", ids=[anchor])

    def ref(self, kind: str, name: str, text: str | None = None) -> nodes.Node:
        para = nodes.inline()
        para += nodes.reference("", text or name, internal=True, refid=_anchor(kind, name))
        return para


class HttpRoute(_Base):
    """One route: its method and path, success status, body schema and errors."""

    required_arguments = 2
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "status": int,
        "body": str,
        "errors": str,
    }

    def run(self) -> list[nodes.Node]:
        method, path = self.arguments
        status = self.options["status"]
        bodies = self.options.get("body", "").split()
        errors = [int(e) for e in self.options.get("errors", "").split()]
        _state(self.env)["routes"][(method, path)] = {
            "docname": self.env.docname,
            "lineno": self.lineno,
            "status": status,
            "bodies": bodies,
            "errors": errors,
        }
        fields = nodes.field_list()

        def field(name: str, *body: nodes.Node) -> None:
            para = nodes.paragraph()
            para.extend(body)
            fields.append(nodes.field("", nodes.field_name(text=name), nodes.field_body("", para)))

        field("Request", nodes.literal(text=f"{method} {path}"))
        success: list[nodes.Node] = [nodes.Text(f"{status} {HTTPStatus(status).phrase}")]
        for i, body in enumerate(bodies):
            success.append(nodes.Text(", body: " if i == 0 else " or "))
            title = load_schema(body)["title"]
            success.append(self.ref("object", title))
            success.append(nodes.Text(f" ({body}.json)"))
        field("Success", *success)
        if errors:
            refs: list[nodes.Node] = []
            for i, code in enumerate(errors):
                if i:
                    refs.append(nodes.Text(", "))
                refs.append(self.ref("error", str(code)))
            field("Errors", *refs)
        return [fields, *self.describe("\n".join(self.content))]


class HttpObject(_Base):
    """One JSON object: a table of its fields with types read from the schema."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        title = self.arguments[0]
        entries = parse_terms(list(self.content))
        _state(self.env)["objects"][title] = {
            "docname": self.env.docname,
            "lineno": self.lineno,
            "fields": [term for term, _ in entries],
        }
        defs = _defs()
        props = _properties(title)
        objects, _, _ = schema_objects()
        rows = []
        for term, desc in entries:
            prop = props.get(term)
            kind = type_text(prop, defs) if prop is not None else "(not in the schema)"
            type_cell = (
                _cell([nodes.paragraph("", "", *self._type_nodes(kind, objects))])
                if prop is not None
                else _cell(kind)
            )
            rows.append([_cell([nodes.literal(text=term)]), type_cell, _cell(self.describe(desc))])
        target_node = self.label("object", title)
        return [target_node, _table(["Field", "Type", "Meaning"], rows, [20, 25, 55])]

    def _type_nodes(self, kind: str, objects: dict[str, list[str]]) -> list[nodes.Node]:
        out: list[nodes.Node] = []
        for word in re.split(r"(\w+)", kind):
            if word in objects:
                out.append(nodes.reference("", word, internal=True, refid=_anchor("object", word)))
            elif word:
                out.append(nodes.Text(word))
        return out


def _properties(title: str) -> dict[str, Any]:
    for name in SCHEMA_NAMES:
        schema = load_schema(name)
        if schema["title"] == title:
            return dict(schema["properties"])
        for sub in schema.get("$defs", {}).values():
            if sub.get("title") == title and sub.get("type") == "object":
                return dict(sub["properties"])
    return {}


class HttpValueTypes(_Base):
    """The scalar types the schemas name (Timestamp, Size, ...), with their schema descriptions."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        _, scalars, _ = schema_objects()
        rows = [
            [_cell([nodes.literal(text=title)]), _cell(str(sub.get("description", "")))]
            for title, sub in sorted(scalars.items())
        ]
        return [_table(["Type", "Values"], rows, [20, 80])]


class HttpErrors(_Base):
    """The error statuses, each a problem+json body."""

    def run(self) -> list[nodes.Node]:
        entries = parse_terms(list(self.content))
        _state(self.env)["errors"] = {
            int(term): {"docname": self.env.docname, "lineno": self.lineno} for term, _ in entries
        }
        rows = []
        for term, desc in entries:
            status = int(term)
            cell = _cell([self.label("error", term), nodes.literal(text=term)])
            rows.append([cell, _cell(HTTPStatus(status).phrase), _cell(self.describe(desc))])
        return [_table(["Status", "Title", "When"], rows, [10, 20, 70])]


# -- the check -------------------------------------------------------------------------------


def _check_routes(state: dict[str, Any]) -> list[str]:
    table = {(r.method, PREFIX + r.template): r for r in ROUTES}
    code_routes = set(table)
    documented = set(state["routes"])
    used = {body for route in state["routes"].values() for body in route["bodies"]}
    rows = [(key, table[key], state["routes"][key]) for key in sorted(code_routes & documented)]
    return [
        *(
            f"{m} {p} is documented with status {doc['status']}, the route table says {row.status}"
            for (m, p), row, doc in rows
            if doc["status"] != row.status
        ),
        *(
            f"{m} {p} is documented with body {' '.join(doc['bodies']) or '(none)'}, "
            f"the route table says {' '.join(row.bodies) or '(none)'}"
            for (m, p), row, doc in rows
            if tuple(doc["bodies"]) != row.bodies
        ),
        *(
            f"route {m} {p} is in memwatch.routes.ROUTES but not documented"
            for m, p in sorted(code_routes - documented)
        ),
        *(
            f"route {m} {p} is documented but not in memwatch.routes.ROUTES"
            for m, p in sorted(documented - code_routes)
        ),
        *(
            f"schema {name}.json is the body of no documented route"
            for name in sorted(set(SCHEMA_NAMES) - used - {"problem"})
        ),
        *(
            f"body {name!r} is not one of memwatch.schemas.SCHEMA_NAMES"
            for name in sorted(used - set(SCHEMA_NAMES))
        ),
    ]


def _check_objects(state: dict[str, Any]) -> list[str]:
    objects, _, out = schema_objects()
    documented: dict[str, dict[str, Any]] = state["objects"]
    for title in sorted(set(objects) - set(documented)):
        out.append(f"object {title} (JSON Schema) is not documented")
    for title in sorted(set(documented) - set(objects)):
        out.append(f"object {title} is documented but no schema defines it")
    for title, doc in sorted(documented.items()):
        fields = objects.get(title, doc["fields"])
        out += [
            f"field {title}.{f} is in the schema but not documented"
            for f in fields
            if f not in doc["fields"]
        ]
        out += [
            f"field {title}.{f} is documented but not in the schema"
            for f in doc["fields"]
            if f not in fields
        ]
    return out


def _check_errors(state: dict[str, Any]) -> list[str]:
    documented = set(state["errors"])
    code = code_error_statuses()
    out = [
        *(
            f"error status {s} can be answered by the code but is not documented"
            for s in sorted(code - documented)
        ),
        *(
            f"error status {s} is documented but the code never answers it"
            for s in sorted(documented - code)
        ),
    ]
    for (method, path), route in sorted(state["routes"].items()):
        out += [
            f"{method} {path} lists error {status}, which is not documented"
            for status in route["errors"]
            if status not in documented
        ]
    return out


def check(_app: Sphinx, env: BuildEnvironment) -> None:
    """Compare the documented routes, objects and errors with the code; warn on each difference."""
    state = _state(env)
    if not state["routes"] and not state["objects"]:
        return
    where = next(iter(state["routes"].values()), {"docname": None})["docname"]
    messages = _check_routes(state) + _check_objects(state) + _check_errors(state)

    from live_api import exercise  # noqa: PLC0415 - imports the watcher only when checking

    messages += exercise(state["routes"], set(state["errors"]), PREFIX)
    for message in messages:
        logger.warning("HTTP reference: %s", message, location=where, type="memwatch")


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives and the consistency check."""
    app.add_directive("http-route", HttpRoute)
    app.add_directive("http-object", HttpObject)
    app.add_directive("http-value-types", HttpValueTypes)
    app.add_directive("http-errors", HttpErrors)
    app.connect("env-check-consistency", check)
    app.connect("env-purge-doc", _purge)
    return {"parallel_read_safe": False, "parallel_write_safe": True, "env_version": 1}


def _purge(_app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    state = _state(env)
    for key in ("routes", "objects"):
        state[key] = {k: v for k, v in state[key].items() if v["docname"] != docname}
    state["errors"] = {k: v for k, v in state["errors"].items() if v["docname"] != docname}
