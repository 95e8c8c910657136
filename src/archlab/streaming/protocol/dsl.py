"""The little language the message tables are written in: fields, arrays, APIs (codex 7.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archlab.streaming.protocol.schema import Field


def f(name: str, kind: str | tuple[Field, ...] = "int32", v: str = "0+", **kw: Any) -> Field:
    """A field of ``kind`` (a primitive's name or a struct's fields) present in versions ``v``."""
    return Field(name, kind, v, **kw)


def arr(name: str, kind: str | tuple[Field, ...], v: str = "0+", **kw: Any) -> Field:
    """An array of ``kind``."""
    return Field(name, kind, v, array=True, **kw)


def nstr(name: str, v: str = "0+", nullable: str = "0+") -> Field:
    """A string that may be null in versions ``nullable``."""
    return Field(name, "string", v, nullable=nullable)


@dataclass(frozen=True)
class Api:
    """One API: its key, the versions implemented, the first flexible one, both schemas."""

    key: int
    name: str
    min_version: int
    max_version: int
    first_flexible: int
    request: tuple[Field, ...]
    response: tuple[Field, ...]

    def flexible(self, version: int) -> bool:
        return version >= self.first_flexible
