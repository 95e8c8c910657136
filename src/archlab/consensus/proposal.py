"""A consensus node's refusal of a proposal, shared by Raft, Multi-Paxos and Zab (codex 5.3).

Every protocol's node takes proposals only where it can order them (Raft's and Multi-Paxos's
leader, Zab's established leader) and only while it has room; elsewhere it raises
:class:`ProposalRejected` with its best guess of the node that can, which the server turns into a
``not-leader`` reply carrying that hint (or ``busy`` when the guess is the node itself).
"""

from __future__ import annotations


class ProposalRejected(Exception):
    """A proposal, configuration change or read this node cannot take now.

    ``leader`` is the node's best guess of the leader (``None`` if it knows none): the client
    should retry there.
    """

    def __init__(self, reason: str, leader: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.leader = leader
