"""The experiment lab: registry, context, results, report and benchmark harness.

Chapter packages use this API::

    from archlab.lab import Context, Evidence, Outcome, Threshold, experiment, holds, refuted

Each experiment measures into a frozen dataclass of its own and judges that dataclass,
citing its thresholds as :class:`Evidence`; see :mod:`archlab.lab.judging`.

Heavy parts (plot rendering, the HTML report) are imported only where they are used.
"""

from archlab.lab.bench import BenchContext, BenchReport, Ratio, benchmark
from archlab.lab.context import Context
from archlab.lab.judging import Evidence, Threshold
from archlab.lab.registry import Experiment, experiment
from archlab.lab.result import (
    Band,
    Column,
    Figure,
    Heatmap,
    Judgement,
    Outcome,
    RefLine,
    Result,
    Series,
    Table,
    Value,
    holds,
    nuanced,
    refuted,
)

__all__ = [
    "Band",
    "BenchContext",
    "BenchReport",
    "Column",
    "Context",
    "Evidence",
    "Experiment",
    "Figure",
    "Heatmap",
    "Judgement",
    "Outcome",
    "Ratio",
    "RefLine",
    "Result",
    "Series",
    "Table",
    "Threshold",
    "Value",
    "benchmark",
    "experiment",
    "holds",
    "nuanced",
    "refuted",
]
