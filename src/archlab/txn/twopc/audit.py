"""Atomicity of two-phase commit, judged from the durable logs (codex 6.1).

After a run (and a settling period after the faults healed), :func:`audit_logs` reads every
participant's log and every coordinator's decision log from their disks, and
:func:`atomicity_violations` states what atomic commitment forbids:

- a participant that recorded both a commit and an abort of one transaction;
- a transaction committed at one participant and aborted at another;
- a transaction committed anywhere although some participant of it never voted yes (no
  prepare record: it never promised);
- a transaction committed at a participant that its coordinator's log does not know (the
  decision was not durable before it was sent);
- a transaction still in doubt (prepared, no outcome) when the run ended: after the faults
  healed and the world settled, the termination protocol should have decided it.

Each finding is a sentence naming the transaction and the nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archlab.sim.disk import Disk
from archlab.sim.process import Address
from archlab.sim.records import decode, unframe_all
from archlab.txn.twopc import coordinator, participant
from archlab.txn.twopc.messages import TxnId


@dataclass
class ParticipantLog:
    """What one participant's log says: yes votes, commits and aborts, per transaction."""

    prepared: dict[TxnId, tuple[Address, ...]] = field(default_factory=dict)
    committed: dict[TxnId, float] = field(default_factory=dict)
    aborted: set[TxnId] = field(default_factory=set)

    @property
    def in_doubt(self) -> set[TxnId]:
        return set(self.prepared) - set(self.committed) - self.aborted


@dataclass
class Logs:
    participants: dict[Address, ParticipantLog]
    decisions: dict[Address, dict[TxnId, float]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "participants": {
                a: {
                    "prepared": {str(t): list(p) for t, p in log.prepared.items()},
                    "committed": {str(t): ts for t, ts in log.committed.items()},
                    "aborted": sorted(log.aborted),
                }
                for a, log in self.participants.items()
            },
            "decisions": {
                a: {str(t): ts for t, ts in d.items()} for a, d in self.decisions.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Logs:
        participants = {
            a: ParticipantLog(
                {int(t): tuple(p) for t, p in log["prepared"].items()},
                {int(t): float(ts) for t, ts in log["committed"].items()},
                {int(t) for t in log["aborted"]},
            )
            for a, log in data["participants"].items()
        }
        decisions = {
            a: {int(t): float(ts) for t, ts in d.items()} for a, d in data["decisions"].items()
        }
        return cls(participants, decisions)


def _records(disk: Disk, path: str) -> list[dict[str, Any]]:
    if not disk.exists(path):
        return []
    payloads, _, _ = unframe_all(disk.read(path))
    return [decode(p) for p in payloads]


def read_participant_log(disk: Disk) -> ParticipantLog:
    log = ParticipantLog()
    for record in _records(disk, participant.LOG_FILE):
        txn = int(record["txn"])
        if record["t"] == "prepare":
            log.prepared[txn] = tuple(record["participants"])
        elif record["t"] == "commit":
            log.committed[txn] = float(record["ts"])
        elif record["t"] == "abort":
            log.aborted.add(txn)
    return log


def read_decision_log(disk: Disk) -> dict[TxnId, float]:
    return {
        int(r["txn"]): float(r["ts"])
        for r in _records(disk, coordinator.LOG_FILE)
        if r["t"] == "commit"
    }


def audit_logs(
    disks: Mapping[Address, Disk], shards: Iterable[Address], coordinators: Iterable[Address]
) -> Logs:
    return Logs(
        {a: read_participant_log(disks[a]) for a in shards},
        {a: read_decision_log(disks[a]) for a in coordinators},
    )


def atomicity_violations(logs: Logs, *, require_decided: bool = True) -> list[str]:
    """Every breach of atomic commitment the logs show (see the module docstring)."""
    found: list[str] = []
    decided_by: dict[TxnId, dict[Address, str]] = {}
    for address, log in sorted(logs.participants.items()):
        for txn in sorted(set(log.committed) & log.aborted):
            found.append(f"{address} recorded both a commit and an abort of transaction {txn}")
        for txn in log.committed:
            decided_by.setdefault(txn, {})[address] = "commit"
        for txn in log.aborted - set(log.committed):
            decided_by.setdefault(txn, {})[address] = "abort"
    known_commits = {t for d in logs.decisions.values() for t in d}
    decided_by.pop(participant.LOAD_TXN, None)  # the initial load, not a transaction
    for txn, outcomes in sorted(decided_by.items()):
        committed = sorted(a for a, o in outcomes.items() if o == "commit")
        aborted = sorted(a for a, o in outcomes.items() if o == "abort")
        if committed and aborted:
            found.append(
                f"transaction {txn} committed at {', '.join(committed)} "
                f"but aborted at {', '.join(aborted)}"
            )
        if not committed:
            continue
        members = _participants_of(logs, txn)
        unvoted = sorted(a for a in members if txn not in logs.participants[a].prepared)
        if unvoted:
            found.append(
                f"transaction {txn} committed at {', '.join(committed)} although "
                f"{', '.join(unvoted)} never voted yes"
            )
        if txn not in known_commits:
            found.append(
                f"transaction {txn} committed at {', '.join(committed)}, but no coordinator's "
                f"log records that decision"
            )
    if require_decided:
        for address, log in sorted(logs.participants.items()):
            for txn in sorted(log.in_doubt):
                found.append(
                    f"transaction {txn} is still in doubt at {address} after the faults healed"
                )
    return found


def _participants_of(logs: Logs, txn: TxnId) -> set[Address]:
    members: set[Address] = set()
    for log in logs.participants.values():
        members.update(log.prepared.get(txn, ()))
    return {m for m in members if m in logs.participants}


def outcome_counts(logs: Logs) -> dict[str, int]:
    committed = {t for log in logs.participants.values() for t in log.committed}
    aborted = {t for log in logs.participants.values() for t in log.aborted} - committed
    doubt = {t for log in logs.participants.values() for t in log.in_doubt}
    return {"committed": len(committed), "aborted": len(aborted), "in_doubt": len(doubt)}
