"""Review rules about operating the system (codex 9.1–9.3).

Head-based trace sampling when every error trace must be kept (9.1), services whose calls
to several dependencies share one thread pool (9.2), and bursty traffic with no load
shedding or no priority classes to shed by (9.3).
"""

from __future__ import annotations

from collections.abc import Iterator

from archlab.design import units
from archlab.design.estimate import Estimate
from archlab.design.model import Design
from archlab.design.rules.base import Hit, rule

BURSTY_PEAK_FACTOR = 5.0


@rule(
    id="tracing.head_sampling_loses_errors",
    title="Head-based sampling when every error trace must be kept",
    section="9.1",
    severity="warning",
    why="""Head-based sampling decides whether to keep a trace when the request starts,
    before anyone knows it will fail, so at rate r it keeps only a fraction r of the error
    traces. It is cheap and simple. Tail-based sampling decides after the request completes
    and can keep every error and every slow trace, at the cost of buffering all spans until
    the decision (memory and a collector tier to run).""",
    alternative="""Tail-based sampling in a collector: keep every trace with an error status
    or high latency, sample the rest probabilistically.""",
    measured_by=("observability.sampling",),
)
def head_sampling_loses_errors(design: Design, est: Estimate) -> Iterator[Hit]:
    tracing = design.tracing
    if not design.keep_every_error_trace:
        return
    if tracing.sampling == "head" and tracing.rate < 1:
        yield Hit(
            tracing.path,
            f"head-based sampling at {units.format_fraction(tracing.rate)} discards about "
            f"{units.format_fraction(round(1 - tracing.rate, 6))} of error traces; the "
            "requirements ask to keep every one",
        )
    elif tracing.sampling == "none":
        yield Hit(
            tracing.path,
            "no tracing (sampling: none) although the requirements ask to keep every error trace",
        )


@rule(
    id="resilience.shared_thread_pool",
    title="One thread pool shared across dependencies, no bulkheads",
    section="9.2",
    severity="warning",
    why="""When the calls to every downstream dependency share one pool of threads, a single
    slow dependency ties up all of them while its calls wait, and requests that need only
    healthy dependencies queue behind: one failure cascades into a full outage. Bulkheads
    give each dependency its own bounded pool (or concurrency limit), so a failure exhausts
    only its own compartment.""",
    alternative="""A bounded pool or concurrency limit per dependency (thread_pool:
    per_dependency), with timeouts and circuit breakers, each sized from that dependency's
    call rate and latency.""",
    measured_by=("resilience.bulkhead",),
)
def shared_thread_pool(design: Design, est: Estimate) -> Iterator[Hit]:
    for service in design.services:
        deps = sorted(set(service.dependencies))
        if service.thread_pool != "shared" or len(deps) < 2:
            continue
        default = "" if service.thread_pool_given else " (the default when none is given)"
        yield Hit(
            service.path,
            f"{service.name}: one shared thread pool{default} for calls to {len(deps)} "
            f"dependencies ({', '.join(deps)})",
        )


@rule(
    id="overload.no_load_shedding",
    title="Bursty load with no load shedding or no priority classes",
    section="9.3",
    severity="warning",
    why="""Rate limits cap what each client may send, but a burst of legitimate traffic can
    still exceed capacity. Without load shedding an overloaded service slows down for
    everyone until it collapses; without priority classes shedding cannot tell critical
    work (payments) from work that can wait (analytics). Stripe's tiers shed low-priority
    traffic first to keep capacity for critical operations.""",
    alternative="""Give endpoints priority classes (for example critical, normal, background)
    and, under congestion, shed from the lowest class first, reserving a share of capacity
    (such as 20%) for critical requests; keep per-client rate limits in front.""",
    measured_by=("resilience.load_shedding",),
)
def no_load_shedding(design: Design, est: Estimate) -> Iterator[Hit]:
    peak = design.requirements.peak_factor
    if not design.bursty and peak < BURSTY_PEAK_FACTOR:
        return
    burst = "bursty: true" if design.bursty else f"peak factor {peak:g} (≥ {BURSTY_PEAK_FACTOR:g})"
    limits = (
        f"; {len(design.rate_limits)} rate limit(s) cap clients, not aggregate overload"
        if design.rate_limits
        else ""
    )
    if not design.load_shedding:
        yield Hit("scale.load_shedding", f"{burst} and no load shedding{limits}")
    elif not design.priority_classes:
        yield Hit(
            "scale.priority_classes",
            f"{burst}; load shedding is on but there are no priority classes, so it drops "
            "critical and background requests alike",
        )
