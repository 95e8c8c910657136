"""Multi-Paxos's safety properties, checked on a test cluster after every step.

- **At most one value chosen per slot**, from the acceptors' side: a value is chosen at a slot
  once a majority of acceptors has durably accepted it in one ballot (whatever any learner
  believes). Every acceptance ever persisted is recorded, so a value chosen and then overwritten
  still counts.
- **Learners learn only chosen values**: a slot a node marks chosen holds the value a majority
  accepted (once one is), and no two nodes mark different values chosen at one slot.
- **Acceptors keep their promises**: a node's durable promised ballot never goes back (across
  crashes too), and no durable acceptance is in a ballot below the promise in force when it was
  made.
- **State machine safety**: every node applies the same value at a slot, and in slot order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from archlab.consensus.paxos import Ballot, Chosen, MemoryPaxosStorage, Slot


class InvariantViolation(AssertionError):
    """A Multi-Paxos safety property does not hold."""


@dataclass
class PaxosInvariants:
    members: frozenset[int]
    #: (slot, ballot, value) -> acceptors that durably accepted it.
    acceptances: dict[tuple[int, Ballot, bytes], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )
    #: slot -> the value a majority accepted (the chosen value).
    chosen: dict[int, bytes] = field(default_factory=dict)
    #: slot -> (node, value) that some learner marked chosen first.
    learned: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    #: slot -> (node, value) applied first.
    applied: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    last_applied: dict[int, int] = field(default_factory=dict)
    promised: dict[int, Ballot] = field(default_factory=dict)
    checks: int = 0

    @property
    def quorum(self) -> int:
        return len(self.members) // 2 + 1

    # -- observations (from what each Ready persists and applies) ---------------------------

    def observe_persist(self, node: int, promised: Ballot | None, slots: tuple[Slot, ...]) -> None:
        before = self.promised.get(node, Ballot())
        if promised is not None:
            if promised < before:
                raise InvariantViolation(f"node {node} promise went back: {before} -> {promised}")
            self.promised[node] = promised
        current = self.promised.get(node, Ballot())
        for slot in slots:
            if slot.chosen:
                self._observe_learned(node, slot.index, slot.value)
                continue
            if slot.ballot < current:
                raise InvariantViolation(
                    f"node {node} accepted {slot.ballot} at slot {slot.index} after promising "
                    f"{current}"
                )
            key = (slot.index, slot.ballot, slot.value)
            voters = self.acceptances[key]
            voters.add(node)
            if len(voters) >= self.quorum:
                self._observe_chosen(slot.index, slot.value)

    def _observe_chosen(self, index: int, value: bytes) -> None:
        known = self.chosen.setdefault(index, value)
        if known != value:
            raise InvariantViolation(
                f"two values chosen at slot {index}: {known!r} and {value!r} "
                "(each accepted by a majority in one ballot)"
            )
        learned = self.learned.get(index)
        if learned is not None and learned[1] != value:
            raise InvariantViolation(
                f"node {learned[0]} learned {learned[1]!r} at slot {index}, chosen is {value!r}"
            )

    def _observe_learned(self, node: int, index: int, value: bytes) -> None:
        first = self.learned.setdefault(index, (node, value))
        if first[1] != value:
            raise InvariantViolation(
                f"nodes {first[0]} and {node} learned different values at slot {index}: "
                f"{first[1]!r} and {value!r}"
            )
        chosen = self.chosen.get(index)
        if chosen is not None and chosen != value:
            raise InvariantViolation(
                f"node {node} learned {value!r} at slot {index}, chosen is {chosen!r}"
            )

    def observe_apply(self, node: int, entry: Chosen) -> None:
        last = self.last_applied.get(node, 0)
        if entry.slot <= last:
            raise InvariantViolation(f"node {node} applied slot {entry.slot} after {last}")
        self.last_applied[node] = entry.slot
        first = self.applied.setdefault(entry.slot, (node, entry.value))
        if first[1] != entry.value:
            raise InvariantViolation(
                f"nodes {first[0]} and {node} applied different values at slot {entry.slot}"
            )
        self._observe_learned(node, entry.slot, entry.value)

    def restarted(self, node: int, snapshot_index: int) -> None:
        """A restarted node re-applies its chosen prefix from after its snapshot."""
        self.last_applied[node] = snapshot_index

    # -- checks on the whole state --------------------------------------------------------

    def check(self, storages: dict[int, MemoryPaxosStorage]) -> None:
        self.checks += 1
        for node, storage in storages.items():
            promised = storage.promised()
            if promised < self.promised.get(node, Ballot()):
                raise InvariantViolation(f"node {node}'s durable promise went back to {promised}")
            for slot in storage.slots():
                if not slot.chosen and slot.ballot > promised:
                    raise InvariantViolation(
                        f"node {node} holds an acceptance in {slot.ballot} above its promise "
                        f"{promised}"
                    )
