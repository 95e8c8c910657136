"""RESP, the Redis protocol, in front of the replicated store, for redis-cli and redis-py (5.3).

Each node of an ``archlab cluster`` started with ``--resp-port`` also listens for Redis clients.
A RESP connection gets its own :class:`~archlab.runtime.client.ClusterClient` session, which
*proxies* every command to the current leader (following redirects, retrying with the same
session sequence number, so a retried command applies once): any node answers, and what it
answers is linearizable, as archlab's own client's answers are.

Commands (RESP2: arrays of bulk strings, or inline commands):

- ``PING [message]``, ``ECHO message``;
- ``GET key`` (a linearizable read), ``SET key value [NX|XX]`` (``NX`` is a compare-and-set
  from "absent", ``XX`` a compare-and-set from the value just read, retried until it decides);
- ``DEL key [key ...]`` and ``EXISTS key [key ...]``, counting keys (a delete is a
  compare-and-set to "absent" from the value read, so the count is exact);
- ``CAS key expected new``: archlab's compare-and-set, ``:1`` when it swapped, ``:0`` when the
  value was not ``expected`` (a missing key never matches; use ``SET key value NX``);
- ``INFO``: this node's role, the protocol, the leader, commit and applied positions;
- ``COMMAND``, ``CLIENT ...``, ``SELECT 0``, ``QUIT``: the handshake clients send.

Values are stored as strings (the store's values are JSON scalars; a value written by
``archlab cluster put`` as a number reads back as its decimal text). A command that gets no
definite answer in time is answered ``-TRYAGAIN`` (it may or may not have taken effect); a
malformed request gets ``-ERR`` and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping

from archlab.consensus.client import Cas, KVOperation, Read, Reply, Value, Write
from archlab.runtime.client import ClusterClient, OutcomeUnknown

log = logging.getLogger(__name__)

#: The largest bulk string or array accepted (bytes / elements).
MAX_BULK = 1 << 20
MAX_ARGS = 1024


class ProtocolError(ValueError):
    """A request that is not valid RESP."""


class CommandError(Exception):
    """A command the server answers with an error (``-PREFIX message``)."""

    def __init__(self, message: str, prefix: str = "ERR") -> None:
        super().__init__(message)
        self.prefix = prefix


# -- encoding ----------------------------------------------------------------------------------


def simple(text: str) -> bytes:
    return b"+" + text.encode() + b"\r\n"


def error(message: str, prefix: str = "ERR") -> bytes:
    return f"-{prefix} {message}".replace("\r", " ").replace("\n", " ").encode() + b"\r\n"


def integer(value: int) -> bytes:
    return b":%d\r\n" % value


def bulk(data: bytes | None) -> bytes:
    if data is None:
        return b"$-1\r\n"
    return b"$%d\r\n%s\r\n" % (len(data), data)


def as_text(value: Value) -> bytes | None:
    """A stored value as a Redis string (``None``: the key is absent)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value).encode()


# -- decoding ----------------------------------------------------------------------------------


async def read_command(reader: asyncio.StreamReader) -> list[bytes] | None:
    """One command's arguments; ``None`` at a clean end of stream."""
    line = await reader.readline()
    if not line:
        return None
    if not line.endswith(b"\r\n") and not line.endswith(b"\n"):
        raise ProtocolError("unterminated line")
    if not line.startswith(b"*"):
        return line.split()  # an inline command
    count = _length(line[1:], MAX_ARGS, "multibulk length")
    args = []
    for _ in range(count):
        head = await reader.readline()
        if not head.startswith(b"$"):
            raise ProtocolError(f"expected '$', got {head[:1]!r}")
        size = _length(head[1:], MAX_BULK, "bulk length")
        data = await reader.readexactly(size + 2)
        if data[-2:] != b"\r\n":
            raise ProtocolError("bulk string not terminated by CRLF")
        args.append(data[:-2])
    return args


def _length(text: bytes, limit: int, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ProtocolError(f"invalid {what}") from None
    if not 0 <= value <= limit:
        raise ProtocolError(f"invalid {what} {value}")
    return value


# -- the commands ------------------------------------------------------------------------------


class RespSession:
    """One Redis connection's commands, run through a cluster client session."""

    def __init__(
        self,
        client: ClusterClient,
        info: Callable[[], dict[str, Value]],
        timeout: float,
    ) -> None:
        self.client = client
        self.info = info
        self.timeout = timeout

    async def _run(self, op: KVOperation) -> Reply:
        try:
            reply = await self.client.execute(op, self.timeout)
        except OutcomeUnknown as exc:
            raise CommandError(str(exc), "TRYAGAIN") from None
        if reply.outcome == "info":
            raise CommandError(f"outcome unknown ({reply.error})", "TRYAGAIN")
        if reply.error == "session-expired":
            self.client.session = None
            raise CommandError("session expired; the command did not apply", "TRYAGAIN")
        if reply.outcome == "fail" and reply.error is not None:
            raise CommandError(reply.error)
        return reply

    async def get(self, key: str) -> Value:
        return (await self._run(Read(key))).value

    async def cas(self, key: str, expected: Value, new: Value) -> bool:
        return (await self._run(Cas(key, expected, new))).outcome == "ok"

    async def execute(self, args: list[bytes]) -> bytes:  # noqa: PLR0911 - one branch per command
        name = args[0].decode("utf-8", "replace").upper()
        rest = [_text(a) for a in args[1:]]
        if name == "PING":
            return simple("PONG") if not rest else bulk(args[1])
        if name == "ECHO":
            _arity(name, rest, 1, 1)
            return bulk(args[1])
        if name == "GET":
            _arity(name, rest, 1, 1)
            return bulk(as_text(await self.get(rest[0])))
        if name == "SET":
            return await self._set(rest)
        if name == "CAS":
            _arity(name, rest, 3, 3)
            return integer(int(await self.cas(rest[0], rest[1], rest[2])))
        if name == "DEL":
            _arity(name, rest, 1, MAX_ARGS)
            return integer(sum([await self._delete(key) for key in rest]))
        if name == "EXISTS":
            _arity(name, rest, 1, MAX_ARGS)
            return integer(sum([await self.get(key) is not None for key in rest]))
        if name == "INFO":
            return bulk(self._info())
        if name == "COMMAND":
            return b"*0\r\n"
        if name in ("CLIENT", "SELECT") and (name != "SELECT" or rest == ["0"]):
            return simple("OK")
        raise CommandError(f"unknown command '{name}'")

    async def _set(self, rest: list[str]) -> bytes:
        _arity("SET", rest, 2, 3)
        key, value = rest[0], rest[1]
        flag = rest[2].upper() if len(rest) == 3 else None
        if flag is None:
            await self._run(Write(key, value))
            return simple("OK")
        if flag == "NX":
            return simple("OK") if await self.cas(key, None, value) else bulk(None)
        if flag != "XX":
            raise CommandError("syntax error")
        while True:  # compare-and-set from the value read, until one decides
            current = await self.get(key)
            if current is None:
                return bulk(None)
            if await self.cas(key, current, value):
                return simple("OK")

    async def _delete(self, key: str) -> int:
        while True:
            current = await self.get(key)
            if current is None:
                return 0
            if await self.cas(key, current, None):
                return 1

    def _info(self) -> bytes:
        fields = self.info()
        role = "master" if fields.get("role") == "leader" else "slave"
        lines = ["# Replication", f"role:{role}"]
        lines += [f"archlab_{name}:{value}" for name, value in sorted(fields.items())]
        return ("\r\n".join(lines) + "\r\n").encode()


def _text(arg: bytes) -> str:
    try:
        return arg.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("keys and values must be UTF-8 text") from None


def _arity(name: str, rest: list[str], low: int, high: int) -> None:
    if not low <= len(rest) <= high:
        raise CommandError(f"wrong number of arguments for '{name.lower()}' command")


# -- the server --------------------------------------------------------------------------------


class RespServer:
    """Listens for Redis clients on ``host:port``; each connection proxies to the cluster."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Mapping[int, tuple[str, int]],
        info: Callable[[], dict[str, Value]],
        *,
        first: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.host, self.port = host, port
        self.addresses = dict(addresses)
        self.info = info
        self.first = first
        self.timeout = timeout
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        client = ClusterClient(self.addresses, timeout=self.timeout, first=self.first)
        session = RespSession(client, self.info, self.timeout)
        try:
            while True:
                try:
                    args = await read_command(reader)
                except (
                    ProtocolError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                ) as exc:
                    writer.write(error(f"Protocol error: {exc}"))
                    break
                if args is None:
                    break
                if not args:
                    continue
                if args[0].upper() == b"QUIT":
                    writer.write(simple("OK"))
                    break
                try:
                    answer = await session.execute(args)
                except CommandError as exc:
                    answer = error(str(exc), exc.prefix)
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(task)
            await client.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()
            writer.close()
