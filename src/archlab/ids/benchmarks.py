"""``archlab bench ids``: ID generation rate against python-ulid, uuid6, svix-ksuid, stdlib uuid4.

Each scheme is measured in two forms, because applications want one or the other: the value
object each library returns (archlab's ``new()``; ``ULID()``, ``uuid6.uuid7()``, ``Ksuid()``,
``uuid.uuid4()``) and the canonical text (archlab's ``new_str()``; ``str()`` of the peer's
object). Every trial calls the generator ``calls`` times in a plain loop; archlab and the peer
alternate for several rounds (:func:`~archlab.lab.bench.interleaved`) and the medians are
compared. Where archlab is faster it is for the reasons in its modules: pooled kernel
randomness, integer arithmetic and table lookups, cached text of the timestamp part. Both
sides draw from the kernel's CSPRNG; python-ulid and archlab's ULID are both monotonic with a
lock, uuid6's uuid7 is not monotonic within a millisecond (it bumps the timestamp instead).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from archlab.ids.generators import make_generator
from archlab.lab import BenchContext, BenchReport, Column, Ratio, benchmark
from archlab.lab.bench import interleaved, median, peer_available, ratio


def _python_ulid() -> tuple[Callable[[], object], Callable[[], object]]:
    from ulid import ULID

    return ULID, lambda: str(ULID())


def _uuid6() -> tuple[Callable[[], object], Callable[[], object]]:
    from uuid6 import uuid7

    return uuid7, lambda: str(uuid7())


def _svix_ksuid() -> tuple[Callable[[], object], Callable[[], object]]:
    from ksuid import Ksuid

    return Ksuid, lambda: str(Ksuid())


def _stdlib_uuid4() -> tuple[Callable[[], object], Callable[[], object]]:
    return uuid.uuid4, lambda: str(uuid.uuid4())


#: (calls per trial, rounds) for --quick and for the full run.
QUICK = (20_000, 5)
FULL = (100_000, 11)

SCHEMES: list[tuple[str, str, str, Callable[[], tuple[Callable[[], object], ...]]]] = [
    ("ulid", "python-ulid", "ulid", _python_ulid),
    ("uuid7", "uuid6", "uuid6", _uuid6),
    ("ksuid", "svix-ksuid", "ksuid", _svix_ksuid),
    ("uuid4", "stdlib uuid", "uuid", _stdlib_uuid4),
]


def _rate(fn: Callable[[], object], calls: int) -> Callable[[], float]:
    def trial() -> float:
        loop = range(calls)
        started = time.perf_counter()
        for _ in loop:
            fn()
        return calls / (time.perf_counter() - started)

    return trial


@benchmark(
    name="ids",
    title="ID generation rate (codex 6.2)",
    description="""IDs per second, archlab vs python-ulid (ULID), uuid6 (UUIDv7), svix-ksuid
    (KSUID) and the standard library (UUIDv4), as value objects and as canonical text, same
    process, interleaved rounds, medians; Snowflake (no peer) for reference.""",
)
def bench_ids(ctx: BenchContext) -> BenchReport:
    calls, rounds = QUICK if ctx.quick else FULL
    report = BenchReport(
        columns=[
            Column("scheme"),
            Column("form"),
            Column("peer"),
            Column("archlab", "IDs/s"),
            Column("peer rate", "IDs/s"),
            Column("archlab / peer", "x"),
        ],
        rows=[],
        notes=[
            f"{calls:,} calls per trial, {rounds} interleaved rounds, medians. Goal ≥ 1x every "
            "peer (the issue's aim: 2x). Text = the 26/27/36-character canonical form."
        ],
    )
    for scheme, peer_name, module, load in SCHEMES:
        ours = make_generator(scheme)
        available = peer_available(module)
        if not available:
            report.missing_peers.append(peer_name)
        peer_fns = load() if available else (None, None)
        for form, our_fn, peer_fn in (
            ("object", ours.new, peer_fns[0]),
            ("text", ours.new_str, peer_fns[1]),
        ):
            systems = {"archlab": _rate(our_fn, calls)}
            if peer_fn is not None:
                systems["peer"] = _rate(peer_fn, calls)
            samples = interleaved(systems, rounds, ctx.progress, description=f"{scheme} {form}")
            a = median(samples["archlab"])
            p = median(samples["peer"]) if "peer" in samples else None
            r = ratio(a, p)
            report.rows.append(
                {
                    "scheme": scheme,
                    "form": form,
                    "peer": peer_name if available else f"{peer_name} (missing)",
                    "archlab": round(a),
                    "peer rate": None if p is None else round(p),
                    "archlab / peer": None if r is None else round(r, 2),
                }
            )
            report.ratios.append(
                Ratio.of_rounds(
                    f"{scheme} {form} vs {peer_name}",
                    samples["archlab"],
                    samples.get("peer"),
                    goal=1.0,
                )
            )
    flake = make_generator("snowflake", machine=1)
    for form, fn in (("object", flake.new), ("text", flake.new_str)):
        rate = median(interleaved({"archlab": _rate(fn, calls)}, rounds)["archlab"])
        report.rows.append(
            {
                "scheme": "snowflake",
                "form": form,
                "peer": "none",
                "archlab": round(rate),
                "peer rate": None,
                "archlab / peer": None,
            }
        )
    return report
