"""Undelivered messages, durable and in order (codex 10.1), in archlab's LSM.

A message for a user is appended under ``inbox/<user>/<sequence>`` (the sequence is the
user's own counter, zero-padded so key order is arrival order) before anything is sent, and
removed only when the recipient's device acknowledges it. A reconnecting device therefore
gets every message it has not acknowledged, in the order the server accepted them, whatever
crashed in between. The payload is opaque bytes (end-to-end encrypted by the clients): the
server stores and forwards it, never reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from archlab.storage import open_store
from archlab.storage.api import SyncPolicy


@dataclass(frozen=True)
class Stored:
    seq: int
    sender: str
    msg_id: int
    payload: bytes


class Inbox:
    def __init__(self, path: Path, sync: SyncPolicy = "batch") -> None:
        self._store = open_store("lsm", path, sync=sync)
        self._next: dict[str, int] = {}

    def append(self, user: str, sender: str, msg_id: int, payload: bytes) -> int:
        seq = self._next_seq(user)
        head = json.dumps({"from": sender, "id": msg_id}).encode()
        self._store.put(_key(user, seq), head + b"\n" + payload)
        self._store.put(f"seq/{user}".encode(), str(seq).encode())
        return seq

    def pending(self, user: str, after: int = 0) -> list[Stored]:
        out = []
        for key, value in self._store.scan(_key(user, after + 1), f"inbox/{user}0".encode()):
            head, payload = value.split(b"\n", 1)
            meta = json.loads(head)
            out.append(Stored(int(key.rsplit(b"/", 1)[1]), meta["from"], meta["id"], payload))
        return out

    def acknowledge(self, user: str, upto: int) -> int:
        """Forget ``user``'s messages up to ``upto``; returns how many went."""
        gone = [s.seq for s in self.pending(user) if s.seq <= upto]
        for seq in gone:
            self._store.delete(_key(user, seq))
        return len(gone)

    def _next_seq(self, user: str) -> int:
        if user not in self._next:
            last = self._store.get(f"seq/{user}".encode())
            self._next[user] = int(last) if last else 0
        self._next[user] += 1
        return self._next[user]

    def close(self) -> None:
        self._store.close()


def _key(user: str, seq: int) -> bytes:
    return f"inbox/{user}/{seq:016d}".encode()
