"""The knobs every node of a static-membership cluster has: Multi-Paxos's and Zab's (codex 5.3).

Both protocols here run on a fixed set of ``members`` (positive ids; no reconfiguration), count
time in ticks (the host decides how long one is), and draw each election timeout uniformly from
``[election_tick, election_tick_max]`` (``[T, 2T)`` by default) with the injected
``random.Random``. :class:`StaticClusterConfig` is what their configuration dataclasses
(:class:`~archlab.consensus.paxos.PaxosConfig`, :class:`~archlab.consensus.zab.ZabConfig`)
share: the validation of those fields, the majority ``quorum`` and the ``timeout_range``. Each
protocol's dataclass declares the fields itself (so it keeps its own field order and defaults).
"""

from __future__ import annotations


class StaticClusterConfig:
    """A mixin for a frozen configuration dataclass with the fields annotated below."""

    __slots__ = ()

    id: int
    members: frozenset[int]
    election_tick: int
    #: Upper bound (inclusive) of the randomized election timeout; ``None``: 2·election_tick − 1.
    election_tick_max: int | None
    heartbeat_tick: int

    def _check_cluster(self) -> None:
        """Raise ``ValueError`` unless the id, members and timing fields make sense."""
        if self.id <= 0:
            raise ValueError(f"node ids are positive integers, got {self.id}")
        if self.id not in self.members or any(m <= 0 for m in self.members):
            raise ValueError(f"node {self.id} must be one of the members {sorted(self.members)}")
        if self.heartbeat_tick < 1:
            raise ValueError("heartbeat_tick must be at least 1")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election_tick must be greater than heartbeat_tick")
        if self.election_tick_max is not None and self.election_tick_max < self.election_tick:
            raise ValueError("election_tick_max must be at least election_tick")

    @property
    def quorum(self) -> int:
        """A majority of the members."""
        return len(self.members) // 2 + 1

    @property
    def timeout_range(self) -> tuple[int, int]:
        """``(low, high)``, inclusive, of the randomized election timeout in ticks."""
        high = self.election_tick_max
        return self.election_tick, (2 * self.election_tick - 1 if high is None else high)
