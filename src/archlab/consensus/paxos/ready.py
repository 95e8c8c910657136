"""The batch of effects a Multi-Paxos node hands its caller, and persist-before-send (codex 5.3).

After feeding a node events, the caller takes a :class:`PaxosReady` and processes it **in this
order** (as for Raft, :mod:`archlab.consensus.raft.ready`):

1. **Persist** ``snapshot`` (a snapshot received from the leader, replacing the slots it covers),
   ``slots`` (each replaces the stored record of its index) and ``promised``, in one step:
   :meth:`PaxosStorage.persist <archlab.consensus.paxos.storage.PaxosStorage.persist>`, and
   make it durable (fsync) if ``must_sync``: promises and acceptances must be, values merely
   learned chosen need not (the learner's knowledge can always be learned again).
2. **Send** ``messages``. A Promise reports the promise and the accepted values just persisted,
   an Accepted the acceptances: sending first and crashing before the write would let the
   acceptor break a promise or forget a value a leader counted as accepted.
3. **Install** ``snapshot`` into the state machine, if any, then **apply** ``committed`` in slot
   order (an empty value is a no-op: nothing to apply).
4. Call :meth:`PaxosNode.advance(ready) <archlab.consensus.paxos.PaxosNode.advance>`.

:func:`persist_violations` checks step 2's precondition against a storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.paxos.messages import Accepted, Message, Promise
from archlab.consensus.paxos.storage import PaxosStorage
from archlab.consensus.paxos.types import Ballot, Chosen, Slot, Snapshot, SoftState


@dataclass(frozen=True, slots=True)
class PaxosReady:
    """Effects to carry out, in the order documented in this module."""

    soft_state: SoftState | None
    promised: Ballot | None
    slots: tuple[Slot, ...]
    snapshot: Snapshot | None
    messages: tuple[Message, ...]
    committed: tuple[Chosen, ...]
    #: Whether step 1 holds an acceptor's state (a promise, an acceptance, a snapshot) and so
    #: needs an fsync before step 2. Slots merely learned chosen are written but need none:
    #: a learner that loses them learns them again.
    must_sync: bool = True

    def is_empty(self) -> bool:
        return not (
            self.soft_state
            or self.promised
            or self.slots
            or self.snapshot
            or self.messages
            or self.committed
        )


def persist_violations(ready: PaxosReady, storage: PaxosStorage) -> list[str]:
    """What ``ready.messages`` promise that ``storage`` does not (yet) hold durably.

    A Promise for ballot *b* needs a durable promise of at least *b*; an Accepted for ballot *b*
    needs every slot it names durably accepted in *b* (or chosen, or compacted away).
    """
    problems: list[str] = []
    promised = storage.promised()
    compacted = storage.snapshot().index
    for message in ready.messages:
        if isinstance(message, Promise) and promised < message.ballot:
            problems.append(f"{message.src} promised {message.ballot}, durable promise {promised}")
        if isinstance(message, Accepted):
            for index in message.slots:
                slot = storage.slot(index)
                if index <= compacted or (slot is not None and slot.chosen):
                    continue
                if slot is None or slot.ballot != message.ballot:
                    problems.append(
                        f"{message.src} acknowledged slot {index} in {message.ballot}, durable "
                        f"record {slot}"
                    )
    return problems
