"""Chapter 3 claims, measured: L4 vs L7 balancing, HOL blocking, migration, anycast vs DNS."""

from archlab.net.experiments.l4_vs_l7 import L4L7Measurement, judge_l4_vs_l7, l4_vs_l7

__all__ = ["L4L7Measurement", "judge_l4_vs_l7", "l4_vs_l7"]
