"""Chapter 3 claims, measured: L4 vs L7 balancing, HOL blocking, migration, anycast vs DNS."""

from archlab.net.experiments.anycast_dns import (
    AnycastDnsMeasurement,
    DnsPoint,
    anycast_vs_dns,
    judge_anycast_vs_dns,
)
from archlab.net.experiments.hol_blocking import (
    HolMeasurement,
    LossPoint,
    hol_blocking,
    judge_hol_blocking,
)
from archlab.net.experiments.l4_vs_l7 import L4L7Measurement, judge_l4_vs_l7, l4_vs_l7
from archlab.net.experiments.migration import (
    MigrationMeasurement,
    MigrationPoint,
    connection_migration,
    judge_connection_migration,
)

__all__ = [
    "AnycastDnsMeasurement",
    "DnsPoint",
    "HolMeasurement",
    "L4L7Measurement",
    "LossPoint",
    "MigrationMeasurement",
    "MigrationPoint",
    "anycast_vs_dns",
    "connection_migration",
    "hol_blocking",
    "judge_anycast_vs_dns",
    "judge_connection_migration",
    "judge_hol_blocking",
    "judge_l4_vs_l7",
    "l4_vs_l7",
]
