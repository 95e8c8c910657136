"""Machine-id leases: the two state machines, and the safety properties under faults.

The properties (no two live holders of one machine id; no duplicate Snowflake) are checked by
the interleaving harness in ``lease_world.py`` over many seeds and, with hypothesis choosing
the pauses, delays and run lengths, by a stateful test. Two broken variants show the checks
bite: a holder that trusts the full ttl from when the grant *arrived*, and a new holder that
ignores the floor it was handed.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from archlab.errors import ConfigError
from archlab.ids.errors import ClockMovedBackwardsError, NoMachineIdError
from archlab.ids.lease import (
    LeasedSnowflake,
    LeaseGrant,
    LeaseHolder,
    LeaseRefusal,
    LeaseRequest,
    LeaseService,
)
from archlab.ids.snowflake import parse_snowflake
from tests.ids.lease_world import World, WorldConfig, run_seed


class TrustingHolder(LeaseHolder):
    """Broken: uses the lease for the whole ttl, counted from when the grant arrived."""

    def valid_until(self, sent_at: int, received_at: int) -> int:
        return received_at + self.ttl_ms


class TestService:
    def test_grants_distinct_ids_then_refuses(self) -> None:
        service = LeaseService(machine_ids=2, ttl_ms=100)
        a = service.handle(LeaseRequest("a", 1, 150), now=0)
        b = service.handle(LeaseRequest("b", 1, 150), now=0)
        c = service.handle(LeaseRequest("c", 1, 150), now=0)
        assert isinstance(a, LeaseGrant) and isinstance(b, LeaseGrant)
        assert {a.machine, b.machine} == {0, 1} and a.token != b.token
        assert isinstance(c, LeaseRefusal)

    def test_expired_id_goes_to_the_next_holder_with_the_old_ceiling_as_floor(self) -> None:
        service = LeaseService(machine_ids=1, ttl_ms=100)
        first = service.handle(LeaseRequest("a", 1, stamp_ceiling=5_000), now=0)
        assert isinstance(first, LeaseGrant) and first.floor_ms == -1
        assert isinstance(service.handle(LeaseRequest("b", 1, 9_000), now=99), LeaseRefusal)
        second = service.handle(LeaseRequest("b", 2, 9_000), now=100)
        assert isinstance(second, LeaseGrant)
        assert second.machine == 0 and second.floor_ms == 5_000 and second.token != first.token
        assert service.holder_of(0, 150) == "b"

    def test_renewal_extends_only_the_holders_own_live_lease(self) -> None:
        service = LeaseService(machine_ids=1, ttl_ms=100)
        grant = service.handle(LeaseRequest("a", 1, 10), now=0)
        assert isinstance(grant, LeaseGrant)
        renew = LeaseRequest("a", 2, 20, machine=0, token=grant.token)
        assert isinstance(service.handle(renew, now=90), LeaseGrant)
        assert service.holder_of(0, 185) == "a"  # extended to 190
        stolen = LeaseRequest("b", 1, 20, machine=0, token=grant.token)
        assert isinstance(service.handle(stolen, now=100), LeaseRefusal)
        late = LeaseRequest("a", 3, 20, machine=0, token=grant.token)
        assert isinstance(service.handle(late, now=190), LeaseRefusal)
        wrong = LeaseRequest("a", 4, 20, machine=7, token=grant.token)
        assert isinstance(service.handle(wrong, now=0), LeaseRefusal)

    def test_a_retried_acquire_returns_the_lease_already_held(self) -> None:
        service = LeaseService(machine_ids=3, ttl_ms=100)
        one = service.handle(LeaseRequest("a", 1, 10), now=0)
        two = service.handle(LeaseRequest("a", 2, 30), now=20)
        assert isinstance(one, LeaseGrant) and isinstance(two, LeaseGrant)
        assert (one.machine, one.token) == (two.machine, two.token)
        assert two.floor_ms == 10  # its own earlier ceiling: a new tenure waits past it


class TestHolder:
    def test_safe_time_allows_for_drift_and_rounding(self) -> None:
        holder = LeaseHolder("h", ttl_ms=10_000, max_drift=1e-3)
        assert holder.safe_ms == int(10_000 * 0.999 / 1.001) - 2 == 9_978
        with pytest.raises(ConfigError):
            LeaseHolder("h", ttl_ms=3, max_drift=0.5)
        with pytest.raises(ConfigError):
            LeaseHolder("h", ttl_ms=100, margin_ms=1)

    def test_lease_counts_from_the_send_not_the_arrival(self) -> None:
        holder = LeaseHolder("h", ttl_ms=1_000, max_drift=0.0)
        request = holder.poll(now=100)
        assert request is not None and request.machine is None
        assert request.stamp_ceiling == 100 + holder.safe_ms - 1
        holder.on_response(LeaseGrant("h", request.request_id, 4, 1, -1), now=700)
        assert holder.machine(now=100 + holder.safe_ms - 1) == 4
        assert holder.machine(now=100 + holder.safe_ms) is None

    def test_a_grant_arriving_after_its_lease_ended_is_discarded(self) -> None:
        holder = LeaseHolder("h", ttl_ms=1_000, max_drift=0.0)
        request = holder.poll(now=0)
        assert request is not None
        holder.on_response(LeaseGrant("h", request.request_id, 4, 1, -1), now=holder.safe_ms)
        assert holder.lease is None and holder.machine(holder.safe_ms) is None

    def test_stale_answers_are_ignored_and_requests_retried(self) -> None:
        holder = LeaseHolder("h", ttl_ms=1_000, max_drift=0.0, retry_ms=50)
        first = holder.poll(now=0)
        assert first is not None and holder.poll(now=49) is None
        second = holder.poll(now=50)
        assert second is not None and second.request_id != first.request_id
        holder.on_response(LeaseGrant("h", first.request_id, 1, 1, -1), now=60)
        assert holder.lease is None  # answer to the superseded request
        holder.on_response(LeaseGrant("h", second.request_id, 2, 2, -1), now=60)
        assert holder.machine(60) == 2

    def test_renewal_keeps_the_tenure_and_a_refusal_drops_the_lease(self) -> None:
        holder = LeaseHolder("h", ttl_ms=900, max_drift=0.0, renew_fraction=1 / 3)
        req = holder.poll(now=0)
        assert req is not None
        holder.on_response(LeaseGrant("h", req.request_id, 3, 7, floor_ms=42), now=5)
        lease = holder.lease
        assert lease is not None and holder.poll(now=lease.renew_at - 1) is None
        renew = holder.poll(now=lease.renew_at)
        assert renew is not None and (renew.machine, renew.token) == (3, 7)
        holder.on_response(
            LeaseGrant("h", renew.request_id, 3, 7, floor_ms=999), now=lease.renew_at
        )
        assert holder.lease is not None and holder.lease.tenure == lease.tenure
        assert holder.lease.floor_ms == 42  # a continuing tenure keeps its sequencer
        again = holder.poll(now=holder.lease.renew_at)
        assert again is not None
        holder.on_response(
            LeaseRefusal("h", again.request_id, "lease expired"), now=again.stamp_ceiling - 800
        )
        assert holder.lease is None

    def test_a_clock_stepping_back_drops_the_lease(self) -> None:
        holder = LeaseHolder("h", ttl_ms=1_000, max_drift=0.0)
        req = holder.poll(now=500)
        assert req is not None
        holder.on_response(LeaseGrant("h", req.request_id, 1, 1, -1), now=510)
        assert holder.machine(520) == 1
        assert holder.machine(400) is None and holder.lease is None


class TestLeasedSnowflake:
    def test_stamps_only_under_a_lease_and_from_the_floor(self) -> None:
        holder = LeaseHolder("h", ttl_ms=1_000, max_drift=0.0)
        gen = LeasedSnowflake(holder)
        base = 1_700_000_000_000
        with pytest.raises(NoMachineIdError):
            gen.issue(base)
        req = holder.poll(base)
        assert req is not None
        holder.on_response(LeaseGrant("h", req.request_id, 9, 1, floor_ms=base + 5), now=base)
        with pytest.raises(ClockMovedBackwardsError):
            gen.issue(base + 4)  # at or below the floor: an earlier holder may have used it
        assert gen.issue(base + 5) is None
        first = gen.issue(base + 6)
        assert first is not None and parse_snowflake(first).machine == 9
        renew = holder.poll(base + holder.renew_after)
        assert renew is not None
        holder.on_response(LeaseGrant("h", renew.request_id, 9, 1, floor_ms=base + 900), base + 400)
        # Same tenure: the same sequencer goes on; the renewal's higher floor is not applied.
        second = gen.issue(base + 401)
        assert second is not None and second > first
        assert parse_snowflake(second).timestamp_ms == base + 401
        with pytest.raises(NoMachineIdError):
            gen.issue(base + renew.stamp_ceiling + 1 - base)


SEEDS = range(120)


class TestSafetyUnderFaults:
    @pytest.mark.parametrize("seed", SEEDS)
    def test_no_shared_machine_id_and_no_duplicate_id(self, seed: int) -> None:
        world = run_seed(seed)
        assert world.violations() == []

    def test_the_runs_are_not_vacuous(self) -> None:
        worlds = [run_seed(seed) for seed in range(10)]
        assert sum(w.handovers() for w in worlds) >= 10
        assert sum(len(w.issued) for w in worlds) >= 5_000

    def test_broken_holder_trusting_the_full_ttl_is_caught(self) -> None:
        caught = any(run_seed(s, holder_class=TrustingHolder).overlaps() for s in SEEDS)
        assert caught, "the overlap check should catch a holder that trusts its lease too long"

    def test_regression_seed_for_the_trusting_holder(self) -> None:
        # Found by the sweep above; kept so the exact interleaving stays covered.
        world = run_seed(REGRESSION_SEED, holder_class=TrustingHolder)
        assert world.overlaps()

    def test_broken_handover_without_the_floor_is_caught(self) -> None:
        caught = any(run_seed(s, ignore_floor=True).duplicates for s in SEEDS)
        assert caught, "the uniqueness check should catch a new holder ignoring the floor"

    def test_holders_told_a_drift_below_the_real_one_are_caught(self) -> None:
        config = WorldConfig(true_drift=0.2, assumed_drift=0.0, delay_ms=(0.1, 2.0), loss=0.3)
        assert any(run_seed(s, config=config).overlaps() for s in SEEDS)


REGRESSION_SEED = 14


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(20))
def test_soak_many_seeds(chunk: int) -> None:
    for seed in range(1_000 + chunk * 250, 1_000 + (chunk + 1) * 250):
        assert run_seed(seed, 6_000).violations() == [], seed


class LeaseFaults(RuleBasedStateMachine):
    """Hypothesis picks the clocks' seed, the pauses, the network and how long to run."""

    world: World

    @initialize(
        seed=st.integers(0, 2**32 - 1),
        drift=st.sampled_from([0.0, 1e-4, 1e-3]),
        offset=st.sampled_from([0.0, 50.0, 5_000.0]),
    )
    def start(self, seed: int, drift: float, offset: float) -> None:
        config = WorldConfig(
            true_drift=drift, max_offset_ms=offset, pause_chance=0.0, service_pause_chance=0.0
        )
        self.world = World(random.Random(seed), config)

    @rule(ms=st.floats(1, 400))
    def run(self, ms: float) -> None:
        self.world.run(ms)

    @rule(index=st.integers(0, 3), ms=st.floats(0, 1_000))
    def pause_holder(self, index: int, ms: float) -> None:
        self.world.pause(f"g{index}", ms)

    @rule(ms=st.floats(0, 600))
    def pause_service(self, ms: float) -> None:
        self.world.pause_service(ms)

    @rule(lo=st.floats(0, 50), spread=st.floats(0, 150), loss=st.floats(0, 0.6))
    def network(self, lo: float, spread: float, loss: float) -> None:
        self.world.config.delay_ms = (lo, lo + spread)
        self.world.config.loss = loss

    @invariant()
    def safe(self) -> None:
        if hasattr(self, "world"):
            assert self.world.violations() == []


TestLeaseFaults = LeaseFaults.TestCase
TestLeaseFaults.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_protocol_cores_import_no_clock_thread_or_randomness() -> None:
    """The lease machines and the sequencer they use are sans-IO, transitively."""
    import ast
    import importlib.util

    forbidden = {"time", "threading", "random", "asyncio", "socket"}
    seen: set[str] = set()
    todo = ["archlab.ids.lease", "archlab.ids.snowflake"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        with open(spec.origin, encoding="utf-8") as source:
            tree = ast.parse(source.read())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for imported in names:
                assert imported.split(".")[0] not in forbidden, f"{name} imports {imported}"
                if imported.startswith("archlab."):
                    todo.append(imported)
    assert "archlab.ids.errors" in seen
