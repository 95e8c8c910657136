"""Which server a runtime node runs, built over its files: ``raft`` for now (codex 5.3).

:func:`build_server` opens the node's :class:`~archlab.runtime.filestore.FileStorage` in group
commit mode (the server writes through it, the host issues the fsyncs on
:class:`~archlab.consensus.server.SyncStorage`) and builds the protocol's server over it —
:class:`~archlab.consensus.raft.server.RaftServer` for ``raft`` — with the timing the runtime
uses: ticks of 10 ms, heartbeats every 5 ticks, election timeouts of 50–99 ticks (0.5–1 s; a
shared two-core machine stalls for tens of milliseconds now and then, and a timeout close to
that makes leaders flap). Randomness for the election timeouts comes from the OS, so nodes
draw different timeouts.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archlab.consensus.client import Value
from archlab.consensus.raft.config import RaftConfig
from archlab.consensus.raft.server import RaftServer, ServerOptions
from archlab.consensus.raft.types import ConfState
from archlab.consensus.server import ConsensusServer
from archlab.errors import ConfigError
from archlab.runtime.filestore import SNAPSHOT_FILE, FileStorage
from archlab.runtime.recoverymark import FileRecoveryMark
from archlab.runtime.wal import Durability

#: Raft timing in ticks (see the module docstring).
HEARTBEAT_TICKS = 5
ELECTION_TICKS = 50
#: Applied entries kept in the log before it is compacted into a snapshot.
COMPACT_AFTER = 20_000


@dataclass
class BuiltServer:
    """A server ready to host, with what the host needs from its storage."""

    server: ConsensusServer
    sync: Callable[[], None] | None
    status: Callable[[], dict[str, Value]]
    close: Callable[[], None]
    recovered: str


def build_server(
    protocol: str,
    node_id: int,
    members: list[int],
    data_dir: str,
    durability: Durability,
    *,
    expect_state: bool = False,
) -> BuiltServer:
    """``expect_state``: the node ran before, so an empty ``data_dir`` means it lost its data
    (it then rejoins in recovery, :mod:`archlab.runtime.recoverymark`)."""
    if protocol != "raft":
        raise ConfigError(f"unknown protocol {protocol!r}; this runtime hosts: raft")
    lost = expect_state and not (Path(data_dir) / SNAPSHOT_FILE).exists()
    storage = FileStorage.open(data_dir, ConfState.of(members), durability, group_commit=True)
    mark = FileRecoveryMark.open(data_dir, lost=lost)
    config = RaftConfig(
        id=node_id,
        election_tick=ELECTION_TICKS,
        heartbeat_tick=HEARTBEAT_TICKS,
        max_entries_per_msg=512,
        max_inflight=256,
    )
    server = RaftServer(
        config,
        storage,
        random.Random(int.from_bytes(os.urandom(8), "big")),
        ServerOptions(compact_after=COMPACT_AFTER),
        mark,
    )
    hard = storage.hard_state()
    recovered = (
        f"term {hard.term}, commit {hard.commit}, "
        f"log {storage.first_index()}..{storage.last_index()}, "
        f"snapshot at {storage.snapshot().index}, torn tail {storage.torn_bytes} bytes"
    )

    def status() -> dict[str, Value]:
        s = server.status()
        return {
            "term": s.term,
            "role": s.role.value,
            "commit": s.commit,
            "applied": s.applied,
            "last_index": s.last_index,
            "snapshot_index": storage.snapshot().index,
            "fsyncs": storage.syncs,
            "durability": durability,
            "recovering": server.node.recovering,
            "voters": ",".join(str(v) for v in sorted(s.conf.voters)),
        }

    sync = storage.sync if durability == "fsync" else None
    return BuiltServer(server, sync, status, storage.close, recovered)
