"""Multi-Paxos as a sans-IO state machine (codex 5.3), driven like the Raft core.

Drive a :class:`PaxosNode` with :meth:`~PaxosNode.step`, :meth:`~PaxosNode.tick`,
:meth:`~PaxosNode.propose`; take its effects with :meth:`~PaxosNode.ready` and acknowledge them
with :meth:`~PaxosNode.advance`::

    config = PaxosConfig(id=1, members=frozenset({1, 2, 3}))
    node = PaxosNode(config, MemoryPaxosStorage(), random.Random(7))
    while node.has_ready():
        rd = node.ready()
        storage.persist(rd.promised, rd.slots, rd.snapshot)   # 1. durable first
        network.send_all(rd.messages)                         # 2. then send
        for chosen in rd.committed: apply(chosen)             # 3. apply in slot order
        node.advance(rd)

Modules: :mod:`.types` (ballots, slots, snapshots), :mod:`.messages`, :mod:`.config` (knobs,
flaws), :mod:`.storage`, :mod:`.ready` (the effect batch, persist-before-send), the node's parts
:mod:`.core` (state, learner), :mod:`.acceptor`, :mod:`.proposer`, assembled in :mod:`.node`;
:mod:`.server` (client requests to slots, redirects), :mod:`.simstorage` and :mod:`.simnode`
(storage on the simulated disk, the simulator's node factory) and :mod:`.scenarios`
(``archlab sim paxos``).
"""

from archlab.consensus.paxos.config import Flaws, PaxosConfig
from archlab.consensus.paxos.messages import (
    Accept,
    Accepted,
    InstallSnapshot,
    Learn,
    Learned,
    Message,
    Prepare,
    Probe,
    ProbeReply,
    Promise,
    Reject,
)
from archlab.consensus.paxos.node import PaxosNode, PaxosStatus
from archlab.consensus.paxos.ready import PaxosReady, persist_violations
from archlab.consensus.paxos.storage import MemoryPaxosStorage, PaxosStorage
from archlab.consensus.paxos.types import ZERO, Ballot, Chosen, Role, Slot, Snapshot, SoftState
from archlab.consensus.proposal import ProposalRejected

__all__ = [
    "ZERO",
    "Accept",
    "Accepted",
    "Ballot",
    "Chosen",
    "Flaws",
    "InstallSnapshot",
    "Learn",
    "Learned",
    "MemoryPaxosStorage",
    "Message",
    "PaxosConfig",
    "PaxosNode",
    "PaxosReady",
    "PaxosStatus",
    "PaxosStorage",
    "Prepare",
    "Probe",
    "ProbeReply",
    "Promise",
    "ProposalRejected",
    "Reject",
    "Role",
    "Slot",
    "Snapshot",
    "SoftState",
    "persist_violations",
]
