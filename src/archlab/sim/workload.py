"""Workload generators: what the simulated clients ask for (codex 5.1).

A workload turns a random stream into the next :class:`~archlab.sim.process.Op` of a client.
Each generator writes the history format of docs/architecture.md directly: ``Op.f``,
``Op.key`` and ``Op.value`` become the invocation's ``f``, ``key`` and ``value``.

- :class:`RegisterWorkload`: ``read`` / ``write v`` / ``cas [old, new]`` on one register (or on
  one of ``keys`` registers: the ``kv`` model), values from a small domain as Jepsen's
  cas-register tests draw them, so that compare-and-sets sometimes succeed.
- :class:`ListAppendWorkload`: transactions of ``["append", k, v]`` and ``["r", k, None]``
  micro-operations with unique appended values (Elle's list-append).
- :class:`RwRegisterWorkload`: transactions of ``["w", k, v]`` and ``["r", k, None]`` with
  unique written values (Elle's rw-register).
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from archlab.sim.process import Op


class Workload(Protocol):
    def next_op(self, rng: random.Random, process: int) -> Op: ...


@dataclass
class RegisterWorkload:
    """Reads, writes and compare-and-sets on registers (see the module docstring)."""

    reads: float = 0.5
    writes: float = 0.25
    cas: float = 0.25
    values: int = 5
    keys: tuple[Hashable, ...] = ()

    def next_op(self, rng: random.Random, process: int) -> Op:
        key: Hashable | None = rng.choice(self.keys) if self.keys else None
        roll = rng.random() * (self.reads + self.writes + self.cas)
        if roll < self.reads:
            return Op("read", key, None)
        if roll < self.reads + self.writes:
            return Op("write", key, rng.randrange(self.values))
        return Op("cas", key, (rng.randrange(self.values), rng.randrange(self.values)))


@dataclass
class ListAppendWorkload:
    """Transactions over ``keys`` lists: appends of unique values and whole-list reads."""

    keys: tuple[Hashable, ...] = ("x", "y", "z")
    min_length: int = 1
    max_length: int = 3
    read_ratio: float = 0.5
    _next_value: int = field(default=0, repr=False)

    def next_op(self, rng: random.Random, process: int) -> Op:
        length = rng.randint(self.min_length, self.max_length)
        micro: list[tuple[str, Hashable, Any]] = []
        for _ in range(length):
            key = rng.choice(self.keys)
            if rng.random() < self.read_ratio:
                micro.append(("r", key, None))
            else:
                self._next_value += 1
                micro.append(("append", key, self._next_value))
        return Op("txn", None, tuple(micro))


@dataclass
class RwRegisterWorkload:
    """Transactions over ``keys`` registers: writes of unique values and reads."""

    keys: tuple[Hashable, ...] = ("x", "y")
    min_length: int = 1
    max_length: int = 3
    read_ratio: float = 0.5
    _next_value: int = field(default=0, repr=False)

    def next_op(self, rng: random.Random, process: int) -> Op:
        length = rng.randint(self.min_length, self.max_length)
        micro: list[tuple[str, Hashable, Any]] = []
        for _ in range(length):
            key = rng.choice(self.keys)
            if rng.random() < self.read_ratio:
                micro.append(("r", key, None))
            else:
                self._next_value += 1
                micro.append(("w", key, self._next_value))
        return Op("txn", None, tuple(micro))


class OpBudget:
    """The operations left to issue, shared by all clients of a run (Jepsen's ``--ops``)."""

    def __init__(self, workload: Workload, ops: int) -> None:
        self.workload = workload
        self.remaining = ops

    def take(self, rng: random.Random, process: int) -> Op | None:
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        return self.workload.next_op(rng, process)
