"""The path-vector protocol, the anycast/DNS failover model and the judge of net.anycast_vs_dns."""

from __future__ import annotations

import dataclasses
import random

from archlab.lab.judging import flatten, rejudge
from archlab.net.anycast import (
    STUBS,
    DnsBehaviour,
    anycast_failover,
    dns_failover_times,
    flap_damage,
)
from archlab.net.bgp import PathVector
from archlab.net.experiments import AnycastDnsMeasurement, DnsPoint, judge_anycast_vs_dns
from archlab.sim.kernel import Simulation


def test_path_vector_picks_shortest_paths_and_reroutes_after_a_withdrawal() -> None:
    sim = Simulation(0)
    #   1 - 2 - 3(pop)      1 - 4(pop) via a longer chain 1-5-4
    pv = PathVector(sim, [(1, 2), (2, 3), (1, 5), (5, 6), (6, 4)], mrai=30.0)
    pv.announce(3)
    pv.announce(4)
    sim.run()
    assert pv.routers[1].best == (2, 3)
    assert pv.delivers_to(1, {3, 4}) == 3
    pv.withdraw(3)
    sim.run()
    assert pv.routers[1].best == (5, 6, 4)
    assert pv.delivers_to(1, {4}) == 4


def test_a_failed_link_is_routed_around() -> None:
    sim = Simulation(0)
    pv = PathVector(sim, [(1, 2), (2, 3), (1, 3)], mrai=30.0)
    pv.announce(3)
    sim.run()
    assert pv.routers[1].best == (3,)
    pv.link_down(1, 3)
    sim.run()
    assert pv.routers[1].best == (2, 3)
    pv.link_up(1, 3)
    sim.run()
    assert pv.routers[1].best == (3,)


def test_anycast_failover_is_detection_plus_at_most_a_few_mrai_rounds() -> None:
    run = anycast_failover(0, rate_limit_withdrawals=True)
    assert run.per_region_s and set(run.per_region_s) <= set(STUBS)
    assert all(10.0 <= t < 10.0 + 4 * 30.0 for t in run.per_region_s.values())


def test_dns_failover_is_bounded_by_the_ttl_except_for_the_long_tail() -> None:
    times = dns_failover_times(random.Random(1), 5000, 300.0, 10.0, DnsBehaviour())
    within = sum(1 for t in times if t <= 310.0) / len(times)
    assert 0.92 < within < 0.98  # ~95% within the TTL, stragglers beyond (§3)
    assert max(times) > 3600


def test_edge_hashing_breaks_fewer_connections_than_state_at_the_pop() -> None:
    damage = flap_damage(0)
    assert damage.moved_pop > 0
    assert damage.broken_edge_hashing < damage.broken_pop_state


#: The quick profile's measurement.
MEASURED = AnycastDnsMeasurement(
    detect_s=10.0,
    anycast_p50_s={"rfc": 10.1, "wrate": 10.1},
    anycast_p99_s={"rfc": 10.2, "wrate": 39.4},
    dns=[
        DnsPoint(30.0, 25.9, 22695.0, 0.0461),
        DnsPoint(300.0, 171.0, 33877.0, 0.0506),
        DnsPoint(3600.0, 1861.0, 22507.0, 0.0243),
    ],
    connections=4800,
    broken_pop_state=135,
    broken_edge_hashing=30,
    moved_pop=120,
)


def test_measured_is_nuanced_and_round_trips() -> None:
    judgement = judge_anycast_vs_dns(MEASURED)
    assert judgement.verdict == "nuanced" and "not immediate" in judgement.reason
    assert rejudge(judge_anycast_vs_dns, flatten(MEASURED)) == judgement


def test_immediate_failover_holds() -> None:
    m = dataclasses.replace(MEASURED, anycast_p99_s={"rfc": 10.2, "wrate": 12.0})
    assert judge_anycast_vs_dns(m).verdict == "holds"


def test_slow_anycast_or_useless_hashing_is_refuted() -> None:
    slow = dataclasses.replace(MEASURED, anycast_p99_s={"rfc": 10.2, "wrate": 30000.0})
    assert judge_anycast_vs_dns(slow).verdict == "refuted"
    useless = dataclasses.replace(MEASURED, broken_edge_hashing=130)
    assert judge_anycast_vs_dns(useless).verdict == "refuted"
