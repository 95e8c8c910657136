"""``streaming.routing``: the judge reaches each verdict; a broken exchange is refuted."""

from __future__ import annotations

from random import Random

import pytest

from archlab.streaming.routing import exchanges, measure_routing
from archlab.streaming.routing.measure_routing import (
    RoutingMeasurement,
    exchange_capabilities,
    judge_routing,
    messages_for,
)


def measurement(exact: dict[str, float], growth: float) -> RoutingMeasurement:
    return RoutingMeasurement(
        exchange_exact=exact,
        log_reads_per_wanted={"exact": 1000.0, "wildcard": 11.0, "headers": 6.3, "fanout": 1.0},
        exchange_key_affinity=0.0,
        log_key_affinity=1.0,
        bindings=[100, 1000, 10000],
        trie_decisions_per_s=[1.4e6, 2.0e5, 2.0e5 / growth],
        linear_decisions_per_s=[3000.0, 260.0, 24.0],
        matches_per_message=[0.0, 0.01, 0.06],
        trie_nodes_per_decision=[1.5, 5.0, 5.0 * growth],
        trie_work_growth=growth,
        linear_work_growth=10.0,
    )


ALL_EXACT = {"exact": 1.0, "wildcard": 1.0, "headers": 1.0, "fanout": 1.0}


@pytest.mark.parametrize(
    ("exact", "growth", "verdict"),
    [
        (ALL_EXACT, 1.2, "holds"),
        (ALL_EXACT, 6.0, "nuanced"),  # a trie whose work grew almost like a scan's
        ({**ALL_EXACT, "headers": 0.0}, 1.2, "refuted"),
    ],
)
def test_the_judge_reaches_each_verdict(
    exact: dict[str, float], growth: float, verdict: str
) -> None:
    judgement = judge_routing(measurement(exact, growth))
    assert judgement.verdict == verdict
    assert all(e.threshold is None or e.threshold.source for e in judgement.evidence)


def test_the_real_exchange_is_exact_and_spreads_keys_over_consumers() -> None:
    exact, affinity = exchange_capabilities(messages_for(Random(4), 400))
    assert exact == ALL_EXACT
    assert affinity < 0.5  # competing consumers: a key's messages reach several consumers


def test_a_broken_headers_rule_is_measured_and_refuted(monkeypatch: pytest.MonkeyPatch) -> None:
    def any_instead_of_all(arguments: exchanges.Headers, headers: exchanges.Headers) -> bool:
        return any(headers.get(k) == v for k, v in arguments.items() if k != "x-match")

    monkeypatch.setattr(exchanges, "headers_match", any_instead_of_all)
    exact, _ = exchange_capabilities(messages_for(Random(4), 400))
    assert exact["headers"] == 0.0
    m = measurement(exact, 1.2)
    assert judge_routing(m).verdict == "refuted"
    assert tuple(exact) == measure_routing.ROUTED
