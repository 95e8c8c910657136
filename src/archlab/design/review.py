"""Reviewing a design against the codex's heuristics (codex 2.2 and the sections each rule
cites).

:func:`review` first estimates the design's requirements (:mod:`archlab.design.estimate`),
applies Table 1 to the estimate, then runs every registered rule
(:mod:`archlab.design.rules`) with those numbers. Findings come most severe first, then in
codex order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.design.estimate import Estimate, estimate
from archlab.design.model import Design
from archlab.design.parse import load_design
from archlab.design.rules import RULES, SEVERITIES, Finding
from archlab.design.table1 import Implication, implications


@dataclass(frozen=True)
class Review:
    design: Design
    estimate: Estimate
    implications: tuple[Implication, ...]
    findings: tuple[Finding, ...]

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": self.design.name,
            "source": self.design.source,
            "estimate": self.estimate.to_dict(),
            "implications": [i.to_dict() for i in self.implications],
            "findings": [f.to_dict() for f in self.findings],
            "counts": {s: self.count(s) for s in SEVERITIES},
            "rules_checked": sorted(RULES),
        }


def section_key(section: str) -> tuple[int, ...]:
    first = section.split(",", maxsplit=1)[0].strip()
    return tuple(int(p) for p in first.split("."))


def review(design: Design) -> Review:
    """Estimate ``design``'s requirements and check every rule against it."""
    est = estimate(design.requirements)
    found = [f for rule in RULES.values() for f in rule.findings(design, est)]
    found.sort(key=lambda f: (SEVERITIES.index(f.severity), section_key(f.section), f.path))
    return Review(design, est, tuple(implications(est)), tuple(found))


def review_file(path: Path) -> Review:
    """Load, validate and review the design file at ``path``."""
    return review(load_design(path))
