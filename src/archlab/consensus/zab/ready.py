"""The batch of effects a Zab node hands its caller, and persist-before-send (codex 5.3).

After feeding a node events, the caller takes a :class:`ZabReady` and processes it **in this
order** (as for Raft, :mod:`archlab.consensus.raft.ready`):

1. **Persist** ``snapshot`` (replacing the whole history), the history from ``history_from``
   on (``txns``: keep the first ``history_from - 1`` transactions, append these) and
   ``hard_state`` (the accepted and current epochs), durably, in one step.
2. **Send** ``messages``: an ACKEPOCH promises the accepted epoch, an Ack the history up to its
   zxid; sending before the write and crashing would let a follower take back a promise or lose
   a transaction a leader counted for a quorum.
3. **Install** ``snapshot`` into the state machine, if any, then **deliver** ``committed`` in
   order, each at its ``position``.
4. Call :meth:`ZabNode.advance(ready) <archlab.consensus.zab.ZabNode.advance>`.

:func:`persist_violations` checks step 2's precondition against a storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.zab.messages import Ack, AckEpoch, Message
from archlab.consensus.zab.storage import ZabStorage
from archlab.consensus.zab.types import Delivered, HardState, Snapshot, SoftState, Txn


@dataclass(frozen=True, slots=True)
class ZabReady:
    soft_state: SoftState | None
    hard_state: HardState | None
    snapshot: Snapshot | None
    history_from: int | None
    txns: tuple[Txn, ...]
    messages: tuple[Message, ...]
    committed: tuple[Delivered, ...]

    @property
    def must_sync(self) -> bool:
        return (
            self.hard_state is not None
            or self.snapshot is not None
            or self.history_from is not None
        )


def persist_violations(ready: ZabReady, storage: ZabStorage) -> list[str]:
    """What ``ready.messages`` promise that ``storage`` does not (yet) hold durably."""
    problems: list[str] = []
    hard = storage.hard_state()
    txns = storage.txns()
    snapshot = storage.snapshot()
    held = {t.zxid for t in txns} | {snapshot.zxid}
    for message in ready.messages:
        if isinstance(message, AckEpoch) and hard.accepted_epoch < message.epoch:
            problems.append(
                f"{message.src} acknowledged epoch {message.epoch}, durable accepted epoch "
                f"{hard.accepted_epoch}"
            )
        if isinstance(message, Ack) and message.zxid not in held:
            problems.append(
                f"{message.src} acknowledged {message.zxid}, not in its durable history"
            )
    return problems
