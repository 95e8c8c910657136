"""The interface both storage engines implement (codex 4.1–4.2), and its limits.

A store is a persistent, ordered map from ``bytes`` to ``bytes`` on real files:
``put``, ``get``, ``delete``, ``scan`` (ordered, over a consistent snapshot), ``stats`` and
``close``, usable as a context manager. ``sync`` says when a write is durable:

``always``
    ``put``/``delete`` return only after the write is on stable storage (one ``fdatasync``
    of the write-ahead log; concurrent writers share it: group commit).
``batch``
    writes are logged at once but synced in groups: when ``group_bytes`` of log have
    accumulated, when ``group_ms`` have passed since the group's first write, or on
    :meth:`Store.sync`. A crash loses at most the unsynced group, never consistency.
``os``
    every write is handed to the operating system before ``put``/``delete`` returns (a
    ``write`` of the log, no sync): it survives a crash of the process, not of the machine.
    This is what RocksDB (``sync=false``) and SQLite (WAL mode, ``synchronous=NORMAL``) do.
``none``
    the log is never synced by a write, and may sit in a user-space buffer (up to 64 KiB)
    until the buffer fills; only :meth:`Store.sync`, ``close`` and the engine's own
    checkpoints (an SSTable flush, a B+-tree checkpoint) make data durable.

Limits (both engines, checked on every call; a violation raises :class:`StoreLimitError`):
keys are 1 to :data:`MAX_KEY` (1024) bytes, values 0 to :data:`MAX_VALUE` (1 MiB) bytes. The
B+-tree also needs an entry to fit a quarter of a page (see ``btree.node``).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal, Protocol, runtime_checkable

from archlab.errors import ArchlabError, ConfigError

SyncPolicy = Literal["always", "batch", "os", "none"]
SYNC_POLICIES: tuple[SyncPolicy, ...] = ("always", "batch", "os", "none")

MAX_KEY = 1024
MAX_VALUE = 1 << 20


class StoreLimitError(ArchlabError):
    """A key or value outside the documented limits, or a value of the wrong type."""


class StoreClosedError(ArchlabError):
    """An operation on a store that was closed (or stopped by a simulated crash)."""


@runtime_checkable
class Store(Protocol):
    """A persistent ordered key-value store (see the module docstring)."""

    def put(self, key: bytes, value: bytes) -> None: ...

    def get(self, key: bytes) -> bytes | None: ...

    def delete(self, key: bytes) -> None: ...

    def scan(
        self, start: bytes | None = None, end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with ``start <= key < end`` in key order, as of the moment of the call."""

    def sync(self) -> None:
        """Make every write so far durable."""

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def check_key(key: object, max_key: int = MAX_KEY) -> bytes:
    if type(key) is not bytes:
        if isinstance(key, bytes | bytearray | memoryview):
            return check_key(bytes(key), max_key)
        raise StoreLimitError(f"keys are bytes, got {type(key).__name__}")
    if not 0 < len(key) <= max_key:
        raise StoreLimitError(f"key of {len(key)} bytes; keys are 1 to {max_key} bytes long")
    return key


def check_value(value: object, max_value: int = MAX_VALUE) -> bytes:
    if type(value) is not bytes:
        if isinstance(value, bytes | bytearray | memoryview):
            return check_value(bytes(value), max_value)
        raise StoreLimitError(f"values are bytes, got {type(value).__name__}")
    if len(value) > max_value:
        raise StoreLimitError(f"value of {len(value)} bytes; values are at most {max_value} bytes")
    return value


def check_sync(sync: str) -> SyncPolicy:
    if sync not in SYNC_POLICIES:
        raise ConfigError(f"sync={sync!r}: expected one of {', '.join(SYNC_POLICIES)}")
    return sync
