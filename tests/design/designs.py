"""Designs for the tests: the starter (a clean design) as data, and small edits to it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from archlab.design.parse import parse_design
from archlab.design.review import Review, review
from archlab.design.starter import starter_text
from archlab.design.yamlsource import Lines, loads

Data = dict[str, Any]
Edit = Callable[[Data], None]

_STARTER, _ = loads(starter_text("test", "test.yaml"))


def starter() -> Data:
    """A fresh copy of the starter design's data (it has no findings)."""
    return copy.deepcopy(_STARTER)


def reviewed(data: Data) -> Review:
    return review(parse_design(data, Lines("<test>")))


def rule_ids(data: Data) -> set[str]:
    return {f.rule for f in reviewed(data).findings}


def edited(*edits: Edit) -> Data:
    data = starter()
    for edit in edits:
        edit(data)
    return data


def put(path: str, value: Any) -> Edit:
    """An edit setting the field at dotted ``path`` (list items as ``databases.0``)."""

    def apply(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def drop(path: str) -> Edit:
    def apply(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return apply


def db(**fields: Any) -> Edit:
    """An edit changing fields of the starter's one database."""

    def apply(data: Data) -> None:
        data["components"]["databases"][0].update(fields)

    return apply


def requirement(**fields: Any) -> Edit:
    def apply(data: Data) -> None:
        data["requirements"].update(fields)

    return apply
