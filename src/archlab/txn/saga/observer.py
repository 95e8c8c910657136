"""Reading every service's balances, outside any transaction (codex 6.1).

A saga gives up isolation: between its steps the world is in an intermediate state (money
debited here, not yet credited there), and anyone looking sees it. :class:`BalanceReader`
is how a dashboard looks: it asks every bank for its balances at once
(:class:`~archlab.txn.saga.messages.BalanceQuery`) and answers the client with all of them
together once every bank has replied (or a failure after ``timeout``). Each bank answers with
its state when the query arrives: nothing makes the answers a consistent snapshot, which is
the point.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from archlab.sim.process import Address, CancelTimer, Effect, Reply, Request, Send, SetTimer
from archlab.txn.saga.messages import BalanceQuery, Balances, Rejected


@dataclass
class _Pending:
    request: Request
    replies: dict[Address, tuple[tuple[str, int], ...]] = field(default_factory=dict)


class BalanceReader:
    """Fans a balance query out to ``banks`` and gathers the answers."""

    def __init__(self, banks: tuple[Address, ...], timeout: float = 0.3) -> None:
        self.banks = banks
        self.timeout = timeout
        self.pending: dict[int, _Pending] = {}
        self.seq = 0

    def begin(self, request: Request) -> list[Effect]:
        self.seq += 1
        self.pending[self.seq] = _Pending(request)
        query = BalanceQuery(self.seq)
        return [
            *(Send(bank, query) for bank in self.banks),
            SetTimer(("balances", self.seq), self.timeout),
        ]

    def on_balances(self, src: Address, m: Balances) -> list[Effect]:
        pending = self.pending.get(m.nonce)
        if pending is None or src not in self.banks:
            return []
        pending.replies[src] = m.balances
        if len(pending.replies) < len(self.banks):
            return []
        del self.pending[m.nonce]
        merged = tuple(sorted(b for reply in pending.replies.values() for b in reply))
        return [
            Reply(pending.request, Balances(m.nonce, merged)),
            CancelTimer(("balances", m.nonce)),
        ]

    def on_timer(self, key: Hashable) -> list[Effect]:
        assert isinstance(key, tuple)
        pending = self.pending.pop(key[1], None)
        if pending is None:
            return []
        return [Reply(pending.request, Rejected("a bank did not answer the balance query"))]
