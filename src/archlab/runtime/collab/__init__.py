"""Collaborative editing over real sockets and clocks (codex 5.4): the I/O around the cores.

The CRDT and OT cores in :mod:`archlab.collab` are sans-IO; this package hosts them:

- :mod:`.net` — the WebSocket server and clients (`archlab collab serve` / `client`);
- :mod:`.load` — the server-bottleneck load model, timed on this machine's CPU;
- :mod:`.cli` — the `archlab collab` commands;
- :mod:`.benchmarks` — `archlab bench collab`, archlab's text CRDT against pycrdt.
"""
