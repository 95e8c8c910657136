"""What the broker's request handlers share: nodes, messages, replies that must wait."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archlab.streaming.broker.groups import Ticket

Message = dict[str, Any]


@dataclass(frozen=True)
class Node:
    node_id: int
    host: str
    port: int


@dataclass
class Pending:
    """A response that is not ready: ``poll(now_ms)`` returns it once it is."""

    poll: Callable[[int], Message | None]
    deadline_ms: int


def pending_reply(ticket: Ticket) -> Message | Pending:
    if ticket.response is not None:
        return ticket.response
    return Pending(lambda now: ticket.response, ticket.deadline_ms)
