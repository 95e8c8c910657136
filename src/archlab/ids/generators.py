"""One way to make any of the five generators by name (for the CLI, experiments, benchmarks)."""

from __future__ import annotations

from typing import Any, Protocol

from archlab.errors import UnknownNameError
from archlab.ids.entropy import Clock, Entropy
from archlab.ids.ksuid import KsuidGenerator
from archlab.ids.snowflake import TWITTER, SnowflakeLayout
from archlab.ids.snowflake_generator import SnowflakeGenerator
from archlab.ids.ulid import UlidGenerator
from archlab.ids.uuids import Uuid4Generator, Uuid7Generator

KINDS = ("ulid", "ksuid", "uuid7", "uuid4", "snowflake")


class IdGenerator(Protocol):
    def new(self) -> Any: ...

    def new_str(self) -> str: ...


def make_generator(
    kind: str,
    *,
    clock: Clock | None = None,
    entropy: Entropy | None = None,
    machine: int = 0,
    epoch_ms: int = TWITTER.epoch_ms,
) -> IdGenerator:
    """A generator of ``kind`` (:data:`KINDS`); ``machine`` and ``epoch_ms`` are for Snowflake."""
    if kind == "ulid":
        return UlidGenerator(clock=clock, entropy=entropy)
    if kind == "ksuid":
        return KsuidGenerator(clock=clock, entropy=entropy)
    if kind == "uuid7":
        return Uuid7Generator(clock=clock, entropy=entropy)
    if kind == "uuid4":
        return Uuid4Generator(entropy=entropy)
    if kind == "snowflake":
        return SnowflakeGenerator(machine, layout=SnowflakeLayout(epoch_ms=epoch_ms), clock=clock)
    raise UnknownNameError("ID kind", kind, list(KINDS))
