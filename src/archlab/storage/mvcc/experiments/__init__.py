"""Chapter 4.3 claims measured on archlab's MVCC engine, one module per experiment.

- :mod:`~archlab.storage.mvcc.experiments.bloat`: an old snapshot holds vacuum back;
- :mod:`~archlab.storage.mvcc.experiments.freezing`: freezing, anti-wraparound vacuum and
  XID exhaustion;
- :mod:`~archlab.storage.mvcc.experiments.isolation`: the anomalies each isolation level lets
  through (with 5.1).

Importing this package registers the three experiments.
"""

from archlab.storage.mvcc.experiments.bloat import BloatMeasurement, judge_bloat
from archlab.storage.mvcc.experiments.freezing import FreezingMeasurement, judge_freezing
from archlab.storage.mvcc.experiments.isolation import IsolationMeasurement, judge_isolation

__all__ = [
    "BloatMeasurement",
    "FreezingMeasurement",
    "IsolationMeasurement",
    "judge_bloat",
    "judge_freezing",
    "judge_isolation",
]
