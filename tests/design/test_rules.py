"""Every review rule, on a design that breaks it and on one that does not.

Designs are the clean starter with one or two edits. Every registered rule must appear in
TRIGGERS and in QUIET (checked below), so a new rule cannot ship untested either way.
"""

from __future__ import annotations

import pytest

from archlab.design.rules import RULES
from tests.design.designs import Data, db, drop, edited, put, requirement, reviewed, rule_ids

LSM = db(engine="lsm", product="rocksdb", mvcc=False, compaction="leveled", bloom_filters=True)
NO_ESTIMATE = drop("estimation")
BIG = requirement(dau="100M")

# rule id -> designs that must trigger it (each with a label)
TRIGGERS: dict[str, list[tuple[str, Data]]] = {
    "table1.five_nines_single_region": [
        ("one region", edited(requirement(availability="99.999%"))),
        ("active-passive", edited(requirement(availability="5 nines"),
                                  put("architecture.regions", {"count": 2,
                                                               "mode": "active-passive"}))),
    ],
    "table1.high_qps_without_shards_or_cache": [
        ("34.7k reads/s, no cache", edited(BIG, NO_ESTIMATE, put("components.caches", []),
                                           put("components.services", []))),
        ("34.7k writes/s despite a cache", edited(requirement(dau="100M",
                                                              writes_per_user_per_day=10),
                                                  NO_ESTIMATE)),
    ],
    "table1.low_latency_without_memory_cache": [
        ("no cache", edited(requirement(latency_ms=50), put("components.caches", []),
                            put("components.services", []))),
        ("only a CDN", edited(requirement(latency_ms="0.05s"),
                              put("components.caches", [{"name": "c", "kind": "cdn"}]),
                              put("components.services", []))),
    ],
    "table1.large_data_on_one_database": [
        ("182 TB unsharded", edited(BIG, NO_ESTIMATE)),
    ],
    "table1.premature_sharding": [("4 shards at 382 QPS", edited(db(shards=4)))],
    "estimation.hand_estimate_off": [
        ("10x off", edited(put("estimation", {"qps_peak": "4k"}))),
        ("stated zero", edited(put("estimation", {"cache_bytes": 0}))),
    ],
    "ids.random_keys_on_btree": [
        ("uuidv4 at 1.04k writes/s", edited(requirement(dau="30M"), NO_ESTIMATE,
                                            put("design.id_scheme", "uuidv4"))),
        ("per-database random keys", edited(requirement(dau="30M"), NO_ESTIMATE,
                                            db(id_scheme="random"))),
    ],
    "mvcc.long_transactions": [
        ("2 h at 347 writes/s", edited(requirement(dau="10M"), NO_ESTIMATE,
                                       db(longest_transaction="2h"))),
    ],
    "lsm.point_reads_without_bloom_filters": [
        ("bloom off", edited(LSM, db(bloom_filters=False))),
    ],
    "lsm.leveled_compaction_for_writes": [
        ("writes > reads", edited(LSM, requirement(reads_per_user_per_day=1,
                                                   writes_per_user_per_day=5), NO_ESTIMATE)),
        ("product default", edited(db(engine=None, product="leveldb", mvcc=False),
                                   requirement(reads_per_user_per_day=0), NO_ESTIMATE)),
    ],
    "network.l7_for_raw_tcp": [
        ("L7 tcp", edited(put("components.load_balancers.0", {"name": "lb", "layer": "L7",
                                                              "protocol": "tcp"}))),
    ],
    "tls.zero_rtt_not_idempotent": [
        ("POST", edited(put("design.endpoints.1.zero_rtt", True))),
        ("declared not idempotent", edited(put("design.endpoints.0.idempotent", False))),
    ],
    "consistency.eventual_money": [
        ("eventual", edited(db(holds_money=True, consistency="eventual"))),
        ("causal", edited(db(holds_money=True, consistency="causal"))),
    ],
    "transactions.2pc_high_availability": [
        ("2pc at 99.99%", edited(requirement(availability="99.99%"), put(
            "architecture.transactions", [{"name": "t", "services": ["a", "b"],
                                           "protocol": "2pc"}]))),
    ],
    "collaboration.ot_offline_first": [
        ("ot offline", edited(put("design.collaboration", {"algorithm": "ot",
                                                           "offline_first": True}))),
    ],
    "tracing.head_sampling_loses_errors": [
        ("head 1%", edited(requirement(keep_every_error_trace=True),
                           put("scale.tracing", {"sampling": "head", "rate": "1%"}))),
        ("no tracing", edited(requirement(keep_every_error_trace=True),
                              put("scale.tracing", {"sampling": "none"}))),
    ],
    "resilience.shared_thread_pool": [
        ("shared", edited(put("components.services.0.thread_pool", "shared"))),
        ("by default", edited(drop("components.services.0.thread_pool"))),
    ],
    "overload.no_load_shedding": [
        ("bursty, no shedding", edited(requirement(bursty=True),
                                       put("scale.load_shedding", False))),
        ("peak factor 6", edited(requirement(peak_factor=6), NO_ESTIMATE,
                                 put("scale.load_shedding", False))),
        ("no classes", edited(requirement(bursty=True), put("scale.priority_classes", []),
                              drop("design.endpoints.0.priority"),
                              drop("design.endpoints.1.priority"))),
    ],
    "network.dns_failover_long_ttl": [
        ("5 min TTL", edited(put("architecture.regions", {
            "count": 2, "mode": "active-passive", "failover": "dns", "dns_ttl": "5min"}))),
        ("default TTL", edited(put("architecture.regions", {
            "count": 3, "mode": "active-active", "failover": "dns"}))),
    ],
    "security.service_calls_trust_the_network": [
        ("network", edited(put("components.services.0.identity", "network"))),
        ("none", edited(put("components.services.0.identity", "none"))),
    ],
    "streaming.exactly_once_without_idempotence": [
        ("log", edited(put("components.queues", [
            {"name": "events", "kind": "log", "delivery": "exactly-once"}]))),
    ],
    "streaming.queue_without_dead_letter": [
        ("work queue", edited(put("components.queues", [{"name": "jobs", "kind": "queue"}]))),
    ],
    "llm.static_batching": [
        ("static", edited(put("components.model_servers", [
            {"name": "chat", "batching": "static"}]))),
    ],
    "llm.contiguous_kv_cache": [
        ("contiguous", edited(put("components.model_servers", [
            {"name": "chat", "kv_cache": "contiguous"}]))),
    ],
    "cases.hot_key_without_coalescing": [
        ("hot keys", edited(db(hot_keys=True))),
    ],
}  # fmt: skip

# rule id -> designs close to a trigger that must not trigger it
QUIET: dict[str, list[tuple[str, Data]]] = {
    "table1.five_nines_single_region": [
        ("active-active", edited(requirement(availability="99.999%"), put(
            "architecture.regions", {"count": 2, "mode": "active-active"}))),
        ("four nines, one region", edited(requirement(availability="99.99%"))),
    ],
    "table1.high_qps_without_shards_or_cache": [
        ("reads behind a cache", edited(BIG, NO_ESTIMATE)),
        ("sharded", edited(requirement(dau="100M", writes_per_user_per_day=10), NO_ESTIMATE,
                           db(shards=8))),
        ("most reads elsewhere", edited(BIG, NO_ESTIMATE, put("components.caches", []),
                                        put("components.services", []),
                                        db(share_of_reads="10%"))),
    ],
    "table1.low_latency_without_memory_cache": [
        ("redis", edited(requirement(latency_ms=50))),
        ("100 ms is not under 100", edited(requirement(latency_ms=100),
                                           put("components.caches", []),
                                           put("components.services", []))),
    ],
    "table1.large_data_on_one_database": [
        ("sharded", edited(BIG, NO_ESTIMATE, db(shards=20))),
        ("bulk in S3", edited(BIG, NO_ESTIMATE, db(share_of_writes="1%"), put(
            "components.object_stores", [{"name": "blobs", "kind": "s3"}]))),
    ],
    "table1.premature_sharding": [
        ("unsharded", edited()),
        ("shards that are needed", edited(BIG, NO_ESTIMATE, db(shards=20))),
    ],
    "estimation.hand_estimate_off": [
        ("within 2x", edited(put("estimation", {"qps_peak": 700, "dataset_bytes": "1TB"}))),
    ],
    "ids.random_keys_on_btree": [
        ("uuidv7", edited(requirement(dau="30M"), NO_ESTIMATE)),
        ("low write rate", edited(put("design.id_scheme", "uuidv4"))),
        ("LSM", edited(LSM, requirement(dau="30M"), NO_ESTIMATE,
                       put("design.id_scheme", "uuidv4"))),
    ],
    "mvcc.long_transactions": [
        ("short transactions", edited(requirement(dau="10M"), NO_ESTIMATE)),
        ("not MVCC", edited(requirement(dau="10M"), NO_ESTIMATE,
                            db(longest_transaction="2h", mvcc=False))),
        ("few updates", edited(db(longest_transaction="2h"))),
    ],
    "lsm.point_reads_without_bloom_filters": [
        ("bloom on", edited(LSM)),
        ("range scans", edited(LSM, db(bloom_filters=False, read_pattern="range"))),
    ],
    "lsm.leveled_compaction_for_writes": [
        ("reads dominate", edited(LSM)),
        ("tiered", edited(LSM, db(compaction="tiered"), NO_ESTIMATE,
                          requirement(reads_per_user_per_day=1, writes_per_user_per_day=5))),
        ("cassandra defaults to tiered", edited(db(engine=None, product="cassandra", mvcc=False),
                                                requirement(reads_per_user_per_day=0),
                                                NO_ESTIMATE)),
    ],
    "network.l7_for_raw_tcp": [
        ("L4 tcp", edited(put("components.load_balancers.0", {"name": "lb", "layer": 4,
                                                              "protocol": "tcp"}))),
        ("L7 https", edited()),
    ],
    "tls.zero_rtt_not_idempotent": [
        ("GET", edited()),
        ("POST with an idempotency key", edited(put("design.endpoints.1.zero_rtt", True),
                                                put("design.endpoints.1.idempotent", True))),
    ],
    "consistency.eventual_money": [
        ("serializable money", edited(db(holds_money=True, consistency="serializable"))),
        ("eventual, no money", edited(db(consistency="eventual"))),
    ],
    "transactions.2pc_high_availability": [
        ("saga", edited(requirement(availability="99.99%"), put(
            "architecture.transactions", [{"name": "t", "services": ["a", "b"],
                                           "protocol": "saga"}]))),
        ("99.9%", edited(put("architecture.transactions", [
            {"name": "t", "services": ["a", "b"], "protocol": "2pc"}]))),
        ("one service", edited(requirement(availability="99.99%"), put(
            "architecture.transactions", [{"name": "t", "services": ["a", "a"],
                                           "protocol": "2pc"}]))),
    ],
    "collaboration.ot_offline_first": [
        ("crdt offline", edited(put("design.collaboration", {"algorithm": "crdt",
                                                             "offline_first": True}))),
        ("ot online", edited(put("design.collaboration", {"algorithm": "ot"}))),
    ],
    "tracing.head_sampling_loses_errors": [
        ("tail", edited(requirement(keep_every_error_trace=True))),
        ("head, errors optional", edited(put("scale.tracing", {"sampling": "head"}))),
        ("head at 100%", edited(requirement(keep_every_error_trace=True),
                                put("scale.tracing", {"sampling": "head", "rate": 1}))),
    ],
    "resilience.shared_thread_pool": [
        ("bulkheads", edited()),
        ("one dependency", edited(put("components.services.0", {
            "name": "api", "dependencies": ["main"], "thread_pool": "shared"}))),
    ],
    "overload.no_load_shedding": [
        ("bursty with shedding and classes", edited(requirement(bursty=True))),
        ("steady traffic", edited(put("scale.load_shedding", False))),
    ],
    "network.dns_failover_long_ttl": [
        ("1 min TTL", edited(put("architecture.regions", {
            "count": 2, "mode": "active-passive", "failover": "dns", "dns_ttl": "60s"}))),
        ("anycast", edited(put("architecture.regions", {
            "count": 2, "mode": "active-active", "failover": "anycast"}))),
        ("one region", edited(put("architecture.regions", {
            "count": 1, "mode": "single", "failover": "dns", "dns_ttl": "1h"}))),
    ],
    "security.service_calls_trust_the_network": [
        ("mtls", edited()),
        ("token", edited(put("components.services.0.identity", "token"))),
        ("no dependencies", edited(put("components.services.0", {
            "name": "api", "dependencies": [], "identity": "none"}))),
    ],
    "streaming.exactly_once_without_idempotence": [
        ("idempotent", edited(put("components.queues", [
            {"name": "events", "kind": "log", "delivery": "exactly-once",
             "idempotent_producer": True}]))),
        ("at least once", edited(put("components.queues", [{"name": "events", "kind": "log"}]))),
    ],
    "streaming.queue_without_dead_letter": [
        ("dead letter", edited(put("components.queues", [
            {"name": "jobs", "kind": "queue", "dead_letter": True}]))),
        ("a log", edited(put("components.queues", [{"name": "events", "kind": "log"}]))),
    ],
    "llm.static_batching": [
        ("continuous", edited(put("components.model_servers", [{"name": "chat"}]))),
    ],
    "llm.contiguous_kv_cache": [
        ("paged", edited(put("components.model_servers", [
            {"name": "chat", "kv_cache": "paged", "batching": "static"}]))),
    ],
    "cases.hot_key_without_coalescing": [
        ("coalesced", edited(db(hot_keys=True, coalescing=True))),
        ("no hot keys", edited(db(coalescing=False))),
    ],
}  # fmt: skip


def _cases(table: dict[str, list[tuple[str, Data]]]) -> list[object]:
    return [
        pytest.param(rule, data, id=f"{rule}: {label}")
        for rule, cases in table.items()
        for label, data in cases
    ]


def test_every_rule_is_tested_both_ways() -> None:
    assert set(TRIGGERS) == set(RULES)
    assert set(QUIET) == set(RULES)


def test_the_starter_is_clean() -> None:
    assert reviewed(edited()).findings == ()


@pytest.mark.parametrize(("rule", "data"), _cases(TRIGGERS))
def test_rule_triggers(rule: str, data: Data) -> None:
    found = [f for f in reviewed(data).findings if f.rule == rule]
    assert found, f"{rule} did not fire"
    spec = RULES[rule]
    for finding in found:
        assert finding.section == spec.section
        assert finding.severity in {"error", "warning", "info"}
        assert finding.trigger and finding.why and finding.alternative
        assert finding.path


@pytest.mark.parametrize(("rule", "data"), _cases(QUIET))
def test_rule_stays_quiet(rule: str, data: Data) -> None:
    assert rule not in rule_ids(data)


def test_findings_cite_the_numbers_that_triggered_them() -> None:
    data = edited(requirement(dau="30M"), NO_ESTIMATE, put("design.id_scheme", "uuidv4"))
    finding = next(f for f in reviewed(data).findings if f.rule == "ids.random_keys_on_btree")
    assert "1.04k writes/s" in finding.trigger and finding.path == "components.databases[0]"
    data = edited(requirement(availability="99.999%"))
    finding = next(f for f in reviewed(data).findings if "five_nines" in f.rule)
    assert "5.26 min" in finding.trigger


def test_findings_come_most_severe_first() -> None:
    data = edited(db(shards=4), put("design.endpoints.1.zero_rtt", True),
                  put("components.services.0.thread_pool", "shared"))  # fmt: skip
    severities = [f.severity for f in reviewed(data).findings]
    assert severities == ["error", "warning", "info"]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_broken_rules_are_caught_by_the_cases(rule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that never fires fails a TRIGGERS case; one that always fires fails a QUIET one."""
    from dataclasses import replace

    from archlab.design.rules.base import RULES as registry, Hit

    original = registry[rule]
    monkeypatch.setitem(registry, rule, replace(original, check=lambda design, est: []))
    assert any(rule not in rule_ids(data) for _, data in TRIGGERS[rule])
    always = replace(original, check=lambda design, est: [Hit("name", "always")])
    monkeypatch.setitem(registry, rule, always)
    assert any(rule in rule_ids(data) for _, data in QUIET[rule])


def test_a_finding_tells_the_reader_how_to_reproduce_the_measurement() -> None:
    from archlab.design.render import review_markdown

    data = edited(requirement(dau="10M"), NO_ESTIMATE, db(longest_transaction="2h"))
    review = reviewed(data)
    finding = next(f for f in review.findings if f.rule == "mvcc.long_transactions")
    assert finding.measured_by == ("storage.mvcc.bloat", "storage.mvcc.freezing")
    assert "**measured by:** `archlab run storage.mvcc.bloat`" in review_markdown(review)


def test_every_rule_cites_the_experiments_that_measure_it() -> None:
    from archlab.lab.registry import all_experiments

    registered = {e.id for e in all_experiments()}

    for rule_id, spec in RULES.items():
        assert spec.measured_by, f"{rule_id} names no experiment"
        missing = [e for e in spec.measured_by if e not in registered]
        assert not missing, f"{rule_id} cites experiments that do not exist: {missing}"
