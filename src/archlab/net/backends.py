"""Backend addresses as the user writes them (``HOST:PORT,HOST:PORT``), checked at start-up.

A list that does not parse is a :class:`~archlab.errors.ConfigError` naming the bad entry,
so ``archlab lb serve`` stops with one line and exit code 2 before it listens.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cached_property

from archlab.errors import ConfigError


@dataclass(frozen=True, order=True)
class Backend:
    host: str
    port: int

    @cached_property
    def name(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.name


def parse_backend(text: str, where: str = "--backends") -> Backend:
    entry = text.strip()
    host, sep, port_text = entry.rpartition(":")
    host = host.strip("[]")
    if not sep or not host:
        raise ConfigError(f"{where}: {entry!r} is not HOST:PORT")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{where}: {entry!r} has no valid port (1-65535)")
    if not _valid_host(host):
        raise ConfigError(f"{where}: {entry!r} has an invalid host {host!r}")
    return Backend(host, int(port_text))


def parse_backends(text: str, where: str = "--backends") -> list[Backend]:
    """``HOST:PORT,HOST:PORT`` as a list of distinct backends (at least one)."""
    entries = [e for e in text.split(",") if e.strip()]
    if not entries:
        raise ConfigError(f"{where}: no backends given (expected HOST:PORT,HOST:PORT)")
    backends = [parse_backend(e, where) for e in entries]
    seen: set[Backend] = set()
    for b in backends:
        if b in seen:
            raise ConfigError(f"{where}: backend {b} is listed twice")
        seen.add(b)
    return backends


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.split(".")
    return all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and not label.startswith("-")
        for label in labels
    )
