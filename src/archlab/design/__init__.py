"""Codex chapters 1–2: back-of-the-envelope estimation, Table 1 and design review.

* :mod:`~archlab.design.units`: numbers with units (``10M``, ``1KB``, ``5y``, ``99.99%``).
* :mod:`~archlab.design.requirements` and :mod:`~archlab.design.estimate`: from requirements
  to QPS, bandwidth, storage, cache memory, servers and allowed downtime (2.2).
* :mod:`~archlab.design.table1`: the codex's Table 1 thresholds and regimes.
* :mod:`~archlab.design.model`, :mod:`~archlab.design.parse`: a design file, PEDALS-shaped.
* :mod:`~archlab.design.rules`, :mod:`~archlab.design.review`: the review against the codex.
* :mod:`~archlab.design.starter`: ``archlab design new``; :mod:`~archlab.design.cli`: commands.
"""
