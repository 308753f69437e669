"""Scenario: one sub-element kept per parsed document; it keeps the whole libxml2 tree alive."""

from __future__ import annotations

import itertools

from flask import Flask
from lxml import etree

CULPRIT = {"type": "lxml.etree._Element", "root": "lxml_trees.LAST_ITEMS"}
LAST_ITEMS: list[etree._Element] = []
_requests = itertools.count()
_DOCUMENT = "<feed>" + "".join(f"<item id='{i}'>{'x' * 40}</item>" for i in range(60)) + "</feed>"


def create_app() -> Flask:
    """The service: /work parses a feed and keeps its first item for later."""
    app = Flask(__name__)

    @app.get("/work")
    def work() -> str:
        tree = etree.fromstring(_DOCUMENT.replace("feed>", f"feed n='{next(_requests)}'>", 1))
        LAST_ITEMS.append(tree[0])  # culprit
        return "parsed"

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    return app
