"""L7 routing rules (codex 3.1): what only a proxy that parses HTTP can do.

A rule matches a request by path prefix (``/api``), by host (``host:shop.example``) or by a
header's value (``header:X-Tenant:blue``) and sends it to its own pool of backends; requests
no rule matches go to the default pool. Rules are tried in the order given. Sans-IO.

On the command line a rule is ``MATCH=HOST:PORT,HOST:PORT``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from archlab.errors import ConfigError
from archlab.net.backends import Backend, parse_backends

MatchKind = Literal["path", "host", "header"]


@dataclass(frozen=True)
class Route:
    kind: MatchKind
    value: str
    backends: tuple[Backend, ...]
    header: str = ""  # the header's name (lower case) for kind "header"

    def matches(self, path: str, headers: Mapping[str, str]) -> bool:
        if self.kind == "path":
            p = self.value
            return p in ("/", path) or path.startswith((p + "/", p + "?"))
        if self.kind == "host":
            host = headers.get("host", "").rsplit(":", 1)[0] if "host" in headers else ""
            return host.lower() == self.value.lower()
        return headers.get(self.header, None) == self.value

    @property
    def label(self) -> str:
        if self.kind == "path":
            return self.value
        if self.kind == "host":
            return f"host:{self.value}"
        return f"header:{self.header}:{self.value}"


def parse_route(text: str) -> Route:
    match, sep, targets = text.partition("=")
    if not sep or not match:
        raise ConfigError(f"--route {text!r}: expected MATCH=HOST:PORT[,HOST:PORT]")
    backends = tuple(parse_backends(targets, f"--route {match}"))
    if match.startswith("/"):
        return Route("path", match.rstrip("/") or "/", backends)
    if match.startswith("host:") and len(match) > 5:
        return Route("host", match[5:], backends)
    if match.startswith("header:"):
        name, colon, value = match[7:].partition(":")
        if colon and name and value:
            return Route("header", value, backends, header=name.lower())
    raise ConfigError(f"--route {text!r}: MATCH must be /PREFIX, host:NAME or header:NAME:VALUE")


class Router:
    """The pool (a route label and its backends) for each request."""

    DEFAULT = "default"

    def __init__(self, default: Sequence[Backend], routes: Sequence[Route] = ()) -> None:
        self.default = tuple(default)
        self.routes = tuple(routes)

    def pools(self) -> dict[str, tuple[Backend, ...]]:
        out = {self.DEFAULT: self.default}
        for r in self.routes:
            out[r.label] = r.backends
        return out

    def route(self, path: str, headers: Mapping[str, str]) -> str:
        """The label of the pool for this request (``default`` when no rule matches)."""
        for r in self.routes:
            if r.matches(path, headers):
                return r.label
        return self.DEFAULT
