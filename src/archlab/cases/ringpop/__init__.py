"""Uber Ringpop (codex 10.5): SWIM membership, a consistent-hash ring, request forwarding.

- :mod:`.swim` — the SWIM failure detector and membership protocol as a sans-IO core;
- :mod:`.ring` — the consistent-hash ring (murmur3, 100 points per member) and its checksum;
- :mod:`.simulate` — many SWIM members driven in archlab's discrete-event simulator;
- :mod:`.node` — one member over real UDP (SWIM) and TCP (forwarding) on asyncio;
- :mod:`.experiments` — ``cases.ringpop_membership``.
"""
