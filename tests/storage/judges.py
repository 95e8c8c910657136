"""What every storage judge test checks of a judgement besides its verdict."""

from __future__ import annotations

from archlab.lab import Judgement


def cites_its_thresholds(judgement: Judgement) -> bool:
    """Every verdict lists the numbers it compared, each with a threshold that names a source."""
    return bool(judgement.evidence) and all(
        e.threshold is not None and e.threshold.source for e in judgement.evidence
    )
