"""Chapter 10: the codex's case studies, each a small running system built from archlab's parts.

One subpackage per case, in codex order, each with the experiments that measure its claim:

- :mod:`archlab.cases.whatsapp` (10.1) — an actor per connection under a one-for-one
  supervisor, offline messages durable in the LSM, push as a tickle;
- :mod:`archlab.cases.discord` (10.2) — a coalescing data service in front of the LSM with
  hash routing, and tail latency with and without collector pauses;
- :mod:`archlab.cases.openconnect` (10.3) — an ISP appliance filled by LRU pull or by
  predictive off-peak push, simulated;
- :mod:`archlab.cases.haystack` (10.4) — photos as needles in volume files, an in-memory
  index, HTTP with cookies;
- :mod:`archlab.cases.ringpop` (10.5) — SWIM membership, a consistent-hash ring built from it,
  and request forwarding to the key's owner.

``archlab case ...`` (:mod:`archlab.cases.cli`) starts each of them.
"""
