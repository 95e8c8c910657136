"""What a review rule is, and what it finds.

A :class:`Rule` is one heuristic of the codex: its id, the section it comes from, a default
severity, why it matters (the trade-off, in archlab's words) and the usual alternative. Its
``check`` looks at a design together with the estimate computed from the design's
requirements and yields a :class:`Hit` for each part of the design that breaks it, saying
what triggered it with the numbers. :func:`rule` registers a check; the review turns each
hit into a :class:`Finding`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from archlab.design.estimate import Estimate
from archlab.design.model import Database, Design

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Hit:
    """One place in the design that breaks a rule."""

    path: str
    trigger: str
    alternative: str | None = None
    severity: Severity | None = None


@dataclass(frozen=True)
class Finding:
    """A hit, with everything a reader needs to act on it."""

    rule: str
    title: str
    severity: Severity
    section: str
    path: str
    trigger: str
    why: str
    alternative: str
    line: int | None = None
    #: the experiments that measure what the rule warns about (``archlab run ID``)
    measured_by: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def where(self) -> str:
        return f"{self.path} (line {self.line})" if self.line is not None else self.path


Check = Callable[[Design, Estimate], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    section: str
    severity: Severity
    why: str
    alternative: str
    check: Check
    measured_by: tuple[str, ...] = ()

    def findings(self, design: Design, est: Estimate) -> list[Finding]:
        return [
            Finding(
                rule=self.id,
                title=self.title,
                severity=hit.severity or self.severity,
                section=self.section,
                path=hit.path,
                trigger=hit.trigger,
                why=self.why,
                alternative=hit.alternative or self.alternative,
                line=design.line_of(hit.path),
                measured_by=self.measured_by,
            )
            for hit in self.check(design, est)
        ]


RULES: dict[str, Rule] = {}


def rule(
    *,
    id: str,
    title: str,
    section: str,
    severity: Severity,
    why: str,
    alternative: str,
    measured_by: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    """Register the decorated check as the rule ``id``; ``measured_by`` names the experiments
    whose measurements back it (a finding tells the reader to run them)."""

    def register(check: Check) -> Check:
        if id in RULES and RULES[id].check is not check:
            raise ValueError(f"review rule {id!r} is registered twice")
        RULES[id] = Rule(
            id, title, section, severity, " ".join(why.split()), " ".join(alternative.split()),
            check, measured_by,
        )  # fmt: skip
        return check

    return register


def db_read_qps(est: Estimate, db: Database) -> float:
    """Peak reads per second that reach ``db`` (its share of the requirement's reads)."""
    return est.read_qps_peak * db.share_of_reads


def db_write_qps(est: Estimate, db: Database) -> float:
    """Peak writes per second that reach ``db``."""
    return est.write_qps_peak * db.share_of_writes


def db_dataset_bytes(est: Estimate, db: Database) -> float:
    """Retained bytes (one copy) that ``db`` holds: its share of the written data."""
    return est.dataset_bytes * db.share_of_writes
