"""Chapter 9.2-9.3 claims: atomic rate limiting and shuffle sharding, measured.

Each experiment lives in its own ``measure_*`` module, with its measurement type and its judge;
this module registers them with their claims, rules and profiles.
"""

from __future__ import annotations

from archlab.lab import experiment
from archlab.resilience import (
    measure_atomicity,
    measure_bulkhead,
    measure_federation,
    measure_sharding,
    measure_shedding,
)

experiment(
    id="resilience.rate_limit_atomicity",
    section="9.3",
    title="A shared rate limiter must decide atomically",
    claim="""A rate limit shared by many servers holds only if each decision reads, decides and
    writes in one atomic step in the shared store: a limiter that reads the count, decides in
    the client and writes it back admits more than the limit as soon as clients run
    concurrently.""",
    method="""Several load processes, each with several threads, fire at one key of a limit
    whose burst refills too slowly to matter. The five rules (token bucket, GCRA, fixed window,
    sliding-window log and counter) run as one Lua script per decision on a real redis-server
    (the in-memory store served over sockets where Redis is not installed); the token bucket
    also runs as a naive GET, decide, SET client. Admissions are counted and compared with the
    most the limit allows over the run's duration.""",
    judge=measure_atomicity.judge_atomicity,
    rule="""refuted if any atomic script admits one request past burst + refill × elapsed (the
    limit's definition); holds if none does and the naive limiter admits at least one request
    past it; nuanced if the naive limiter happened to stay within the limit (the race was not
    reached at this concurrency).""",
    profiles={
        "quick": {"processes": 4, "threads": 4, "requests": 40, "burst": 50, "naive_rounds": 2},
        "full": {"processes": 8, "threads": 8, "requests": 200, "burst": 500, "naive_rounds": 5},
    },
    references=[
        "Stripe's four limiters and their Redis token buckets: P. Tarjan, 'Scaling your API with "
        "rate limiters', https://stripe.com/blog/rate-limiters (docs/references.md §9).",
        "GCRA as redis-cell implements it (CL.THROTTLE's five replies): "
        "https://github.com/brandur/redis-cell",
    ],
)(measure_atomicity.measure)

experiment(
    id="resilience.shuffle_sharding",
    section="9.2",
    title="Shuffle sharding shrinks a noisy neighbour's blast radius",
    claim="""Giving each tenant its own combination of k of the n workers, instead of one of
    n/k fixed shards, means a tenant that takes down its workers cuts off only the tenants with
    exactly the same combination, about 1 in C(n, k), instead of k/n of everyone.""",
    method="""Thousands of tenants are placed by plain sharding and by stateless shuffle
    sharding (workers ranked by a keyed hash of the tenant); for several poison tenants in turn
    all of its workers are taken down, and the other tenants left with no healthy worker are
    counted, along with those that lost at least one. Configurations: 8 workers in shards of 2
    (28 combinations) and 100 in shards of 5 (75,287,520).""",
    judge=measure_sharding.judge_sharding,
    rule="""refuted if shuffle sharding cuts off no fewer tenants than plain sharding in some
    configuration; holds if in every configuration its count is within the 99.95% quantile of
    the binomial count 1/C(n, k) predicts (the combinatorics); nuanced if it is lower than plain
    sharding's but above that quantile (the placement clusters). The share that lost at least
    one worker is reported beside it.""",
    profiles={
        "quick": {"workers": [8, 100], "shard_sizes": [2, 5], "tenants": 3000, "poisons": 10},
        "full": {"workers": [8, 100], "shard_sizes": [2, 5], "tenants": 30000, "poisons": 50},
    },
    references=[
        "AWS Builders' Library, 'Workload isolation using shuffle-sharding': 8 workers in shards "
        "of 2 give 28 combinations, 100 in shards of 5 give 75,287,520 "
        "(https://aws.amazon.com/builders-library/workload-isolation-using-shuffle-sharding/).",
    ],
)(measure_sharding.measure)

experiment(
    id="resilience.federation",
    section="9.3",
    title="Federated limits: fewer store calls for some accuracy",
    claim="""Letting each client take tokens from the shared limiter in bulk and spend them
    locally, syncing periodically instead of on every request, cuts the calls to the shared
    store by an order of magnitude, at the price of strict accuracy: a fleet can briefly admit
    more than the limit, and tokens held by idle clients are refused to busy ones.""",
    method="""Eight clients, each bursting 10% of the time (0.2 s bursts) and silent otherwise,
    offer 0.6x and 1.5x what a shared token bucket allows, in simulated time. The same
    arrivals are decided by a strict limiter (one store call a request) and by lease clients
    for each lease size and sync period, against the same in-memory store rule the Redis lease
    script runs. Store calls per 1,000 decisions,
    the worst one-second window's admissions beyond burst + rate × 1 s, and the requests the
    strict limiter admitted but the fleet refused are counted.""",
    judge=measure_federation.judge_federation,
    rule="""Each configuration is taken at its worst over the workloads. refuted if none saves
    2x of the store calls; otherwise, among those saving at least 10x (issue 16's goal), the one
    over-admitting least: holds if it over-admits at most 1% (issue 16's goal), nuanced if more
    (or if none saves 10x).
    Under-admission is reported beside it.""",
    profiles={
        "quick": {
            "clients": 8,
            "rate": 100,
            "offered": [0.6, 1.5],
            "duty": 0.1,
            "seconds": 20.0,
            "lease_sizes": [1, 5, 10, 25, 50],
            "sync_periods": [0.1, 1.0, 5.0],
        },
        "full": {
            "clients": 32,
            "rate": 1000,
            "offered": [0.3, 0.6, 1.0, 1.5, 3.0],
            "duty": 0.1,
            "seconds": 60.0,
            "lease_sizes": [1, 2, 5, 10, 25, 50, 100],
            "sync_periods": [0.05, 0.1, 0.5, 1.0, 5.0],
        },
    },
    references=[
        "Stripe's limiters sync token counts with Redis periodically rather than per request "
        "(codex 9.3; docs/references.md §9).",
    ],
)(measure_federation.measure)

experiment(
    id="resilience.load_shedding",
    section="9.3",
    title="Load shedding keeps critical traffic served",
    claim="""Under severe congestion, dropping low-priority traffic early preserves capacity for
    critical operations: with shedding, critical requests keep being served while, without it,
    they queue behind everything else and time out with it.""",
    method="""A simulated service (20 workers, 50 ms mean service time, a FIFO queue, clients
    that give up after 1 s) is offered twice its capacity: critical 10%, POST 20%, GET 50%, test
    20%. The same arrivals run without shedding, with a fleet-usage shedder keeping 20% of
    capacity for critical requests, with a worker-utilization shedder dropping classes lowest
    first (high/low watermarks 0.9/0.6, a 1 s hold), and with that shedder without hysteresis.""",
    judge=measure_shedding.judge_shedding,
    rule="""nuanced if at least 90% of critical requests are served without shedding (the
    overload was not severe, a regime check); refuted if a shedder serves no more critical
    requests than no shedding; holds if both shedders serve at least 99% of them (Stripe's aim:
    critical traffic is not shed); nuanced otherwise. Level changes with and without hysteresis
    are reported beside it.""",
    profiles={
        "quick": {
            "workers": 20,
            "service_ms": 50.0,
            "offered": 2.0,
            "seconds": 20.0,
            "deadline_s": 1.0,
        },
        "full": {
            "workers": 100,
            "service_ms": 50.0,
            "offered": 2.0,
            "seconds": 120.0,
            "deadline_s": 1.0,
        },
    },
    references=[
        "Stripe's fleet-usage and worker-utilization load shedders: P. Tarjan, 'Scaling your API "
        "with rate limiters', https://stripe.com/blog/rate-limiters (docs/references.md §9).",
    ],
)(measure_shedding.measure)

experiment(
    id="resilience.bulkhead",
    section="9.2",
    title="Bulkheads stop a slow dependency from failing healthy endpoints",
    claim="""Isolating the resources each dependency may use (a pool per dependency) keeps one
    failing dependency from exhausting the resources of the whole service: without isolation a
    slow dependency holds every shared slot and healthy endpoints fail with it; with bulkheads
    only its own endpoint degrades.""",
    method="""A real gateway (an ASGI app under uvicorn, on loopback) has three endpoints, each
    calling its own dependency server over TCP; one dependency answers after 2 s, the others in
    2 ms. Clients keep every endpoint busy, with a 1 s gateway timeout. The gateway runs with
    one pool of 12 slots (and a bounded queue) shared by all dependencies, then with the same
    12 slots split into a bulkhead of 4 per dependency. Each endpoint's success rate is
    counted.""",
    judge=measure_bulkhead.judge_bulkhead,
    rule="""refuted if the healthy endpoints do no better behind bulkheads than on the shared
    pool; nuanced if on the shared pool they still serve over 80% (the failure did not spread:
    a regime check); holds if behind bulkheads they serve at least 95% (room for a loaded
    machine's scheduling noise); nuanced otherwise.""",
    profiles={
        "quick": {
            "pool": 12,
            "slow_clients": 16,
            "fast_clients": 4,
            "seconds": 3.0,
            "slow_s": 2.0,
            "timeout_s": 1.0,
        },
        "full": {
            "pool": 30,
            "slow_clients": 60,
            "fast_clients": 10,
            "seconds": 20.0,
            "slow_s": 2.0,
            "timeout_s": 1.0,
        },
    },
    references=[
        "The bulkhead pattern: M. Nygard, 'Release It!', 2nd ed., 2018, ch. 5 (docs/references.md "
        "§9).",
    ],
)(measure_bulkhead.measure)
