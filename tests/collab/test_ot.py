"""OT: apply/compose/invert, TP1 (property-tested), the Jupiter server and client, undo, cursors."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from archlab.collab.ot import ops
from archlab.collab.ot.jupiter import OTClient, OTServer, Submit


def random_op(rng: random.Random, length: int) -> ops.Op:
    parts: list[ops.Component] = []
    left = length
    while left or rng.random() < 0.3:
        roll = rng.random()
        if roll < 0.3:
            parts.append(rng.choice(["a", "bc", "xyz"]))
        elif left and roll < 0.65:
            n = rng.randint(1, left)
            parts.append(n)
            left -= n
        elif left:
            n = rng.randint(1, left)
            parts.append(-n)
            left -= n
        if not left and rng.random() < 0.7:
            break
    return ops.make(parts)


docs = st.text(alphabet="abcdef", max_size=12)


@settings(max_examples=300, deadline=None)
@given(docs, st.integers(0, 10**9))
def test_tp1_holds_for_concurrent_operations(doc: str, seed: int) -> None:
    rng = random.Random(seed)
    a, b = random_op(rng, len(doc)), random_op(rng, len(doc))
    a2, b2 = ops.transform(a, b)
    assert ops.apply(ops.apply(doc, a), b2) == ops.apply(ops.apply(doc, b), a2)


@settings(max_examples=200, deadline=None)
@given(docs, st.integers(0, 10**9))
def test_compose_and_invert(doc: str, seed: int) -> None:
    rng = random.Random(seed)
    a = random_op(rng, len(doc))
    mid = ops.apply(doc, a)
    b = random_op(rng, len(mid))
    assert ops.apply(doc, ops.compose(a, b)) == ops.apply(mid, b)
    assert ops.apply(mid, ops.invert(a, doc)) == doc


def test_the_broken_transform_violates_tp1_on_a_tie() -> None:
    doc = "ab"
    a, b = ops.edit(2, 1, 0, "X"), ops.edit(2, 1, 0, "Y")
    a2, b2 = ops.transform_tie_broken(a, b)
    assert ops.apply(ops.apply(doc, a), b2) != ops.apply(ops.apply(doc, b), a2)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ops.OperationError, match="document has 2"):
        ops.apply("ab", ops.make([3]))


def test_client_moves_through_its_three_states() -> None:
    server = OTServer("abc")
    alice, bob = OTClient("alice", "abc"), OTClient("bob", "abc")
    first = alice.edit(0, 0, "1")
    assert alice.state == "awaiting ack" and first is not None
    assert alice.edit(1, 0, "2") is None and alice.state == "awaiting ack with buffer"
    from_bob = bob.edit(3, 0, "!")
    assert from_bob is not None
    queue = [server.receive(from_bob), server.receive(first)]
    for message in queue:
        for client in (alice, bob):
            reply = client.receive(message)
            if reply is not None:
                queue.append(server.receive(reply))
    assert alice.state == bob.state == "synchronized"
    assert alice.doc == bob.doc == server.doc == "12abc!"


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10**9))
def test_random_sessions_converge_through_the_server(seed: int) -> None:  # noqa: PLR0912 - a random session drives every client action in one loop
    rng = random.Random(seed)
    server = OTServer("hello")
    clients = [OTClient(f"c{i}", "hello") for i in range(3)]
    to_server: list[Submit] = []
    to_client: list[list[object]] = [[] for _ in clients]
    for _ in range(60):
        roll = rng.random()
        if roll < 0.5:
            c = rng.choice(clients)
            msg = c.undo() if rng.random() < 0.1 else c.local(random_op(rng, len(c.doc)))
            if msg is not None:
                to_server.append(msg)
        elif roll < 0.75 and to_server:
            b = server.receive(to_server.pop(0))
            for box in to_client:
                box.append(b)
        else:
            i = rng.randrange(len(clients))
            if to_client[i]:
                reply = clients[i].receive(to_client[i].pop(0))  # type: ignore[arg-type]
                if reply is not None:
                    to_server.append(reply)
    while to_server or any(to_client):
        while to_server:
            b = server.receive(to_server.pop(0))
            for box in to_client:
                box.append(b)
        for i, c in enumerate(clients):
            while to_client[i]:
                reply = c.receive(to_client[i].pop(0))  # type: ignore[arg-type]
                if reply is not None:
                    to_server.append(reply)
    assert all(c.doc == server.doc for c in clients)


def test_undo_after_a_concurrent_remote_edit_removes_only_our_text() -> None:
    server = OTServer("world")
    alice, bob = OTClient("alice", "world"), OTClient("bob", "world")
    mine = alice.edit(0, 0, "hello ")
    theirs = bob.edit(5, 0, "!")
    assert mine and theirs
    for b in (server.receive(theirs), server.receive(mine)):
        alice.receive(b)
        bob.receive(b)
    undo = alice.undo()
    assert undo is not None
    b = server.receive(undo)
    alice.receive(b)
    bob.receive(b)
    assert alice.doc == bob.doc == server.doc == "world!"


def test_cursor_follows_remote_edits() -> None:
    alice = OTClient("alice", "abcdef")
    alice.cursor = 4
    alice.receive(OTServer("abcdef").receive(Submit("bob", 0, ops.edit(6, 0, 2, "XYZ"))))
    assert alice.doc == "XYZcdef" and alice.cursor == 5
    assert ops.transform_index(3, ops.edit(6, 3, 0, "Q")) == 3
    assert ops.transform_index(3, ops.edit(6, 3, 0, "Q"), own=True) == 4
