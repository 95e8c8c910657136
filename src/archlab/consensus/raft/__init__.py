"""Raft as a sans-IO state machine (codex 5.3), modelled on etcd's raft library.

Drive a :class:`RaftNode` with :meth:`~RaftNode.step`, :meth:`~RaftNode.tick`,
:meth:`~RaftNode.propose`, :meth:`~RaftNode.propose_conf_change`, :meth:`~RaftNode.read_index`;
take its effects with :meth:`~RaftNode.ready` and acknowledge them with
:meth:`~RaftNode.advance`::

    node = RaftNode(RaftConfig(id=1), MemoryStorage(ConfState.of([1, 2, 3])), random.Random(7))
    node.tick()                               # ... until it campaigns, or node.campaign()
    while node.has_ready():
        rd = node.ready()
        storage.persist(rd.hard_state, rd.entries, rd.snapshot)   # 1. durable first
        network.send_all(rd.messages)                             # 2. then send
        for entry in rd.committed_entries: apply(entry)           # 3. apply
        node.advance(rd)

Modules: :mod:`.types` (entries, hard state, configurations, snapshots), :mod:`.messages`,
:mod:`.storage` (the interface and :class:`MemoryStorage`), :mod:`.log` (stable + unstable
log), :mod:`.progress` (per-follower flow control, quorums), :mod:`.membership`
(single-server changes), :mod:`.readonly` (read rounds and leases), :mod:`.ready` (the effect
batch, the persist-before-send check), :mod:`.config` (knobs, lease assumption, flaws), and the
node itself: :mod:`.core` (state, role transitions), :mod:`.election`, :mod:`.replication`,
:mod:`.reads`, assembled in :mod:`.node`.

Around the node (import them from their modules): :mod:`.server` (:class:`RaftServer`, a
replica of the kv store), :mod:`.simstorage` (storage on the simulator's disk),
:mod:`.simnode` (a simulated Raft cluster), :mod:`.failover` and :mod:`.availability` (the
trials behind the Raft experiments).
"""

from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.raft.config import Flaws, RaftConfig, ReadMode
from archlab.consensus.raft.membership import (
    ConfChange,
    ConfChangeError,
    ConfChangeKind,
    apply_change,
)
from archlab.consensus.raft.messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    VoteRequest,
    VoteResponse,
)
from archlab.consensus.raft.node import PeerStatus, RaftNode, Status
from archlab.consensus.raft.progress import ProgressState
from archlab.consensus.raft.ready import Ready, persist_violations
from archlab.consensus.raft.storage import (
    CompactedError,
    DurableStorage,
    MemoryStorage,
    Storage,
    UnavailableError,
)
from archlab.consensus.raft.types import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    ReadState,
    Role,
    Snapshot,
    SnapshotMetadata,
    SoftState,
)

__all__ = [
    "AppendEntries",
    "AppendResponse",
    "CompactedError",
    "ConfChange",
    "ConfChangeError",
    "ConfChangeKind",
    "ConfState",
    "DurableStorage",
    "Entry",
    "EntryKind",
    "Flaws",
    "HardState",
    "Heartbeat",
    "HeartbeatResponse",
    "InstallSnapshot",
    "MemoryStorage",
    "Message",
    "PeerStatus",
    "ProgressState",
    "ProposalRejected",
    "RaftConfig",
    "RaftNode",
    "ReadIndexRequest",
    "ReadIndexResponse",
    "ReadMode",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotMetadata",
    "SoftState",
    "Status",
    "Storage",
    "UnavailableError",
    "VoteRequest",
    "VoteResponse",
    "apply_change",
    "persist_violations",
]
