"""Zab (ZooKeeper Atomic Broadcast) as a sans-IO state machine (codex 5.3).

Driven like the Raft and Multi-Paxos cores::

    config = ZabConfig(id=1, members=frozenset({1, 2, 3}))
    node = ZabNode(config, MemoryZabStorage(), random.Random(7))   # starts looking
    while node.has_ready():
        rd = node.ready()
        storage.persist(rd.hard_state, rd.snapshot, rd.history_from, rd.txns)  # 1. durable
        network.send_all(rd.messages)                                        # 2. send
        for txn in rd.committed: apply(txn.position, txn.data)               # 3. deliver
        node.advance(rd)

Modules: :mod:`.types` (zxids, votes, phases), :mod:`.history` (histories and their common
prefix), :mod:`.messages`, :mod:`.config` (knobs, flaws), :mod:`.storage`, :mod:`.ready`, the
node's parts :mod:`.core`, :mod:`.election` (Fast Leader Election), :mod:`.follower` and
:mod:`.leader` (discovery, synchronization, broadcast), assembled in :mod:`.node`;
:mod:`.order` (the primary-order checker), :mod:`.server`, :mod:`.simstorage`, :mod:`.simnode`
and :mod:`.scenarios` (``archlab sim zab``); :mod:`.primary_order` and :mod:`.experiments`
(the primary-order experiment).
"""

from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.zab.config import Flaws, ZabConfig
from archlab.consensus.zab.core import ZabSafetyError
from archlab.consensus.zab.history import History, common_point
from archlab.consensus.zab.messages import (
    Ack,
    AckEpoch,
    Commit,
    FollowerInfo,
    Message,
    NewEpoch,
    NewLeader,
    Notification,
    Ping,
    Proposal,
)
from archlab.consensus.zab.node import ZabNode, ZabStatus
from archlab.consensus.zab.ready import ZabReady, persist_violations
from archlab.consensus.zab.storage import MemoryZabStorage, ZabStorage
from archlab.consensus.zab.types import (
    ZERO,
    Delivered,
    HardState,
    Phase,
    ServerState,
    Snapshot,
    SoftState,
    Txn,
    Vote,
    Zxid,
)

__all__ = [
    "ZERO",
    "Ack",
    "AckEpoch",
    "Commit",
    "Delivered",
    "Flaws",
    "FollowerInfo",
    "HardState",
    "History",
    "MemoryZabStorage",
    "Message",
    "NewEpoch",
    "NewLeader",
    "Notification",
    "Phase",
    "Ping",
    "Proposal",
    "ProposalRejected",
    "ServerState",
    "Snapshot",
    "SoftState",
    "Txn",
    "Vote",
    "ZabConfig",
    "ZabNode",
    "ZabReady",
    "ZabSafetyError",
    "ZabStatus",
    "ZabStorage",
    "Zxid",
    "common_point",
    "persist_violations",
]
