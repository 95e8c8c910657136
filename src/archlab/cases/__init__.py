"""Chapter 10: the codex's case studies, each a small running system built from archlab's parts.

One subpackage per case, in codex order:

- :mod:`archlab.cases.ringpop` (10.5) — SWIM membership, a consistent-hash ring built from it,
  and request forwarding to the key's owner;
"""
