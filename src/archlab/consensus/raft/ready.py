"""The batch of effects a Raft node hands its caller, and the persist-before-send rule (codex 5.3).

After feeding a node events (``step``, ``tick``, ``propose`` ...), the caller asks for a
:class:`Ready` and must process it **in this order**:

1. **Persist** ``snapshot``, ``entries`` and ``hard_state`` durably (one fsync), e.g.
   :meth:`MemoryStorage.persist(ready.hard_state, ready.entries, ready.snapshot)
   <archlab.consensus.raft.storage.MemoryStorage.persist>`.
2. **Send** ``messages``. They may depend on step 1: a granted vote on the persisted vote, an
   acknowledgement of entries on those entries being on disk. Sending first and crashing before
   the write lets a node vote twice in a term or "forget" entries a leader counted as replicated.
3. **Install** ``snapshot`` into the state machine, if any, then **apply** ``committed_entries``
   in order (they may include entries from ``entries``: persisted in step 1, so safe).
4. **Serve** ``read_states``: each may be answered once the state machine has applied its
   ``index``.
5. Call :meth:`RaftNode.advance(ready) <archlab.consensus.raft.RaftNode.advance>`.

:func:`persist_violations` checks step 2's precondition against a storage: the simulator and the
tests call it to prove that what every message promises is durable when it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.raft.messages import AppendResponse, Message, VoteRequest, VoteResponse
from archlab.consensus.raft.storage import Storage
from archlab.consensus.raft.types import Entry, HardState, ReadState, Snapshot, SoftState


@dataclass(frozen=True, slots=True)
class Ready:
    """Effects to carry out, in the order documented in this module."""

    soft_state: SoftState | None
    hard_state: HardState | None
    entries: tuple[Entry, ...]
    snapshot: Snapshot | None
    messages: tuple[Message, ...]
    committed_entries: tuple[Entry, ...]
    read_states: tuple[ReadState, ...]
    #: Whether step 1 must be made durable (fsync) before step 2. True when there are entries,
    #: a snapshot, or a new term or vote; a hard state that only moves the commit index is
    #: written but need not be synced (as etcd's ``MustSync``): a commit index lost in a crash
    #: is learned again from the leader, and nothing sent depends on it being durable.
    must_sync: bool = True

    def is_empty(self) -> bool:
        return not (
            self.soft_state
            or self.must_sync
            or self.messages
            or self.committed_entries
            or self.read_states
        )


def persist_violations(ready: Ready, storage: Storage) -> list[str]:
    """What ``ready.messages`` promise that ``storage`` does not (yet) hold durably.

    Call it after persisting and before sending. A granted vote must be the durable vote of the
    durable term; an :class:`AppendResponse` acknowledging index *i* needs the durable log to
    reach *i*; every message's term must not exceed the durable term (pre-vote messages, which
    name a term nobody has entered yet, excepted).
    """
    problems: list[str] = []
    hard = storage.hard_state()
    last = storage.last_index()
    for message in ready.messages:
        pre_vote = isinstance(message, VoteRequest | VoteResponse) and message.pre_vote
        if message.term > hard.term and not pre_vote:
            problems.append(f"{message!r} carries term {message.term} > durable {hard.term}")
        granted_vote = isinstance(message, VoteResponse) and message.granted and not pre_vote
        if granted_vote and (hard.term != message.term or hard.vote != message.dst):
            problems.append(
                f"vote for {message.dst} in term {message.term} sent, durable vote is "
                f"{hard.vote} in term {hard.term}"
            )
        if isinstance(message, AppendResponse) and not message.reject and message.index > last:
            problems.append(f"acknowledged index {message.index} > durable last index {last}")
    return problems
