"""Exclusive key locks held by transactions, granted in arrival order (codex 6.1).

A participant locks every key a transaction touches before executing it and keeps the locks
until the decision arrives: that is what makes two-phase commit serializable (strict
two-phase locking), and what makes it block when the decision does not come.

A transaction asks for all its keys at once (:meth:`LockTable.request`). It gets them all or
waits: it never holds some while waiting for others at the same participant, so waits inside
one participant cannot deadlock. Waiters are granted in arrival order; a waiter is skipped
only while an earlier waiter wants one of its keys (no starvation). Deadlocks across
participants are broken by the lock-wait timeout of the caller, which withdraws the waiter
(:meth:`LockTable.withdraw`) and votes no.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from archlab.txn.twopc.messages import TxnId


class LockTable:
    """Which transaction holds each key, and who is waiting (see the module docstring)."""

    def __init__(self) -> None:
        self.holder: dict[Hashable, TxnId] = {}
        self.held: dict[TxnId, frozenset[Hashable]] = {}
        self.waiting: dict[TxnId, frozenset[Hashable]] = {}

    def request(self, txn: TxnId, keys: Iterable[Hashable]) -> bool:
        """Ask for ``keys``; True if granted now, False if ``txn`` now waits."""
        wanted = frozenset(keys)
        if txn in self.held:
            return True
        if self._free(txn, wanted) and not self._blocked_by_earlier(txn, wanted):
            self._grant(txn, wanted)
            return True
        self.waiting[txn] = wanted
        return False

    def acquire(self, txn: TxnId, keys: Iterable[Hashable]) -> None:
        """Take ``keys`` unconditionally (recovery: re-taking the locks of a prepared txn)."""
        self._grant(txn, frozenset(keys))

    def withdraw(self, txn: TxnId) -> list[TxnId]:
        """``txn`` stops waiting; returns the waiters it no longer holds up, now granted."""
        self.waiting.pop(txn, None)
        return self._grant_waiters()

    def release(self, txn: TxnId) -> list[TxnId]:
        """``txn`` lets go of its keys (or stops waiting); returns the waiters now granted."""
        self.waiting.pop(txn, None)
        for key in self.held.pop(txn, frozenset()):
            if self.holder.get(key) == txn:
                del self.holder[key]
        return self._grant_waiters()

    def _grant_waiters(self) -> list[TxnId]:
        granted: list[TxnId] = []
        claimed: set[Hashable] = set()
        for waiter, keys in list(self.waiting.items()):
            if self._free(waiter, keys) and not keys & claimed:
                del self.waiting[waiter]
                self._grant(waiter, keys)
                granted.append(waiter)
            claimed |= keys
        return granted

    def holds(self, txn: TxnId) -> bool:
        return txn in self.held

    def blocking(self, key: Hashable) -> TxnId | None:
        return self.holder.get(key)

    def _free(self, txn: TxnId, keys: frozenset[Hashable]) -> bool:
        return all(self.holder.get(k, txn) == txn for k in keys)

    def _blocked_by_earlier(self, txn: TxnId, keys: frozenset[Hashable]) -> bool:
        return any(keys & other for t, other in self.waiting.items() if t != txn)

    def _grant(self, txn: TxnId, keys: frozenset[Hashable]) -> None:
        for key in keys:
            self.holder[key] = txn
        self.held[txn] = keys
