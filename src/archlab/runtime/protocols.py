"""Which server a runtime node runs, built over its files: Raft, Multi-Paxos or Zab (codex 5.3).

:func:`build_server` opens the node's storage in group commit mode (the server writes through
it, the host issues the fsyncs on :class:`~archlab.consensus.server.SyncStorage`) and builds the
protocol's server over it: :class:`~archlab.consensus.raft.server.RaftServer` over a
:class:`~archlab.runtime.filestore.FileStorage` for ``raft``;
:class:`~archlab.consensus.paxos.server.PaxosServer` and
:class:`~archlab.consensus.zab.server.ZabServer` over their record storages on a
:class:`~archlab.runtime.filedisk.FileDisk` for ``paxos`` and ``zab``. All three use the
timing the runtime uses: ticks of 10 ms, heartbeats every 5 ticks, election timeouts of 50–99
ticks (0.5–1 s; a shared two-core machine stalls for tens of milliseconds now and then, and a
timeout close to that makes leaders flap). Randomness for the election timeouts comes from the
OS, so nodes draw different timeouts.

**A node that lost its data** (``expect_state`` and an empty directory) never votes again under
its old identity until re-admitted: Raft's rejoins in recovery and is demoted and promoted
(:mod:`archlab.consensus.raft.recovery`); Multi-Paxos's and Zab's memberships are static, so
their node stays a non-voting learner (Paxos) or observer (Zab), as in the simulator.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archlab.consensus.client import Value
from archlab.consensus.paxos.config import PaxosConfig
from archlab.consensus.paxos.node import PaxosStatus
from archlab.consensus.paxos.server import PaxosServer
from archlab.consensus.paxos.simstorage import DiskPaxosStorage
from archlab.consensus.raft.config import RaftConfig
from archlab.consensus.raft.server import RaftServer, ServerOptions
from archlab.consensus.raft.types import ConfState
from archlab.consensus.replica import ReplicaOptions
from archlab.consensus.server import ConsensusServer
from archlab.consensus.zab.config import ZabConfig
from archlab.consensus.zab.server import ZabServer
from archlab.consensus.zab.simstorage import DiskZabStorage
from archlab.errors import ConfigError
from archlab.runtime.filedisk import FileDisk
from archlab.runtime.filestore import SNAPSHOT_FILE, FileStorage
from archlab.runtime.recoverymark import FileRecoveryMark
from archlab.runtime.wal import Durability

#: Raft timing in ticks (see the module docstring).
HEARTBEAT_TICKS = 5
ELECTION_TICKS = 50
#: Applied entries kept in the log before it is compacted into a snapshot.
COMPACT_AFTER = 20_000
#: Protocols with static membership, kept in records on a FileDisk.
STATIC_PROTOCOLS = ("paxos", "zab")
HOSTED = "raft, paxos, zab"


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
    if protocol in STATIC_PROTOCOLS:
        return _build_static(protocol, node_id, members, data_dir, durability, expect_state)
    if protocol != "raft":
        raise ConfigError(f"unknown protocol {protocol!r}; this runtime hosts: {HOSTED}")
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


def _build_static(
    protocol: str,
    node_id: int,
    members: list[int],
    data_dir: str,
    durability: Durability,
    expect_state: bool,
) -> BuiltServer:
    """A Multi-Paxos or Zab server over its records in ``data_dir``."""
    disk = FileDisk(data_dir, durable=durability == "fsync")
    storage_type = DiskPaxosStorage if protocol == "paxos" else DiskZabStorage
    fresh = not disk.exists(storage_type.member_file)
    if fresh and not expect_state:
        storage_type.bootstrap(disk)  # a founding member: its promises start here
        disk.fsync()
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    options = ReplicaOptions(compact_after=COMPACT_AFTER)
    server: PaxosServer | ZabServer
    if protocol == "paxos":
        paxos_storage = DiskPaxosStorage.open(disk)
        voter = paxos_storage.voter
        paxos = PaxosConfig(
            id=node_id,
            members=frozenset(members),
            election_tick=ELECTION_TICKS,
            heartbeat_tick=HEARTBEAT_TICKS,
            max_batch=512,
            voter=voter,
        )
        server = PaxosServer(paxos, paxos_storage, rng, options)
    else:
        zab_storage = DiskZabStorage.open(disk)
        voter = zab_storage.voter
        zab = ZabConfig(
            id=node_id,
            members=frozenset(members),
            election_tick=ELECTION_TICKS,
            heartbeat_tick=HEARTBEAT_TICKS,
            establish_ticks=3 * ELECTION_TICKS,
            max_batch=512,
            voter=voter,
        )
        server = ZabServer(zab, zab_storage, rng, options)
    recovered = f"{protocol} {'voter' if voter else 'non-voting (its data was lost)'}"

    def status() -> dict[str, Value]:
        fields: dict[str, Value] = {"voter": voter, "fsyncs": disk.syncs}
        s = server.status()
        if isinstance(s, PaxosStatus):
            fields["commit"], fields["term"] = s.commit, s.ballot.round
        else:
            fields["commit"], fields["term"] = s.committed, s.epoch
        fields["applied"] = s.applied
        fields["role"] = "leader" if server.leadership() is not None else "follower"
        fields["durability"] = durability
        return fields

    sync = disk.fsync if durability == "fsync" else None
    return BuiltServer(server, sync, status, disk.close, recovered)
