"""How a host drives a consensus server: the inputs, and the actions it must carry out (codex 5.3).

A *server* is one replica of the replicated key-value store: a protocol core (Raft, and later
Multi-Paxos or Zab) plus the :class:`~archlab.consensus.kv.KVStateMachine` it feeds, plus the
bookkeeping that turns client requests into proposals and committed entries into replies. It is
sans-IO like the cores: a *host* — the deterministic simulator
(:mod:`archlab.consensus.simhost`) or the asyncio runtime — owns the clock, the sockets and
the disk, and drives it through :class:`ConsensusServer`:

Inputs
    ``tick()``                  one unit of logical time passed (the host decides how long)
    ``receive(message)``        a message from another server arrived
    ``request(request)``        a :class:`~archlab.consensus.client.ClientRequest` arrived

Outputs
    ``drain()`` returns the :data:`Action` s accumulated since the last call, **in the order the
    host must carry them out**:

    :class:`SyncStorage`        make everything the server wrote to its storage durable (fsync)
                                **before** any later action; a crash before the sync completes
                                must drop every later action of the batch
    :class:`SendMessage`        send ``message`` to server ``dst`` (best effort; may be lost)
    :class:`Respond`            answer client ``client`` with a
                                :class:`~archlab.consensus.client.ClientResponse`
    :class:`Applied`            the server applied the committed entry at ``index`` (hosts record
                                it, so replicas can be compared; nothing to do otherwise)
    :class:`Note`               a human-readable event ("leader of term 4") for traces and logs

The server writes its storage itself (through the storage object it was built with), so a
:class:`SyncStorage` only asks the host to make those writes durable: an fsync of the files in
the runtime, the simulator's ``Sync()`` barrier on its simulated disk. A host that fsyncs
inside every storage write may treat it as a no-op. Hosts call ``drain()`` after every input
(or after a batch of inputs: fewer, larger batches mean fewer syncs — group commit).

Server ids are positive integers, ``1..N`` in the order the host lists its servers; a reply's
``leader`` hint is such an id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from archlab.consensus.client import ClientRequest, ClientResponse


@dataclass(frozen=True, slots=True)
class SyncStorage:
    """Make the server's storage writes durable before carrying out any later action."""


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Send ``message`` (a frozen value of the protocol's message types) to server ``dst``."""

    dst: int
    message: Any


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer client ``client`` (the address its request came from)."""

    client: int | str
    response: ClientResponse


@dataclass(frozen=True, slots=True)
class Applied:
    """The entry ``(index, term)`` was applied; ``data`` is its payload (empty for a no-op).

    ``kind`` is ``"command"``, ``"noop"`` or ``"config"``. Two replicas that report different
    ``(term, kind, data)`` at one index have diverged.
    """

    index: int
    term: int
    kind: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Note:
    text: str


Action: TypeAlias = SyncStorage | SendMessage | Respond | Applied | Note


class ConsensusServer(Protocol):
    """What every protocol's server offers its host (see the module docstring)."""

    @property
    def id(self) -> int: ...

    def tick(self) -> None: ...

    def receive(self, message: Any) -> None: ...

    def request(self, request: ClientRequest) -> None: ...

    def drain(self) -> list[Action]: ...

    def leadership(self) -> int | None:
        """The term (ballot, epoch) this server currently leads, or ``None``."""
        ...

    def leader_hint(self) -> int | None:
        """The server this one believes leads, if any (itself included)."""
        ...
