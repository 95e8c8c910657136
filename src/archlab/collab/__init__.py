"""Collaborative editing (codex 5.4): CRDTs and operational transformation, measured.

``crdt``      state-based CRDTs (counters, registers, OR-Set), delta sync, the text CRDT
``ot``        text operations, the Jupiter-style server and client state machine
``simulate``  replicas and clients editing through the simulated network, with faults
``traces``    real keystroke editing traces (packaged, CC BY 4.0) and their replay
``experiments`` the three claims of 5.4

Everything that touches sockets or clocks (the WebSocket server and client, the load model,
the CLI, the pycrdt benchmark) lives in :mod:`archlab.runtime.collab`, so this package stays
sans-IO: the simulator and the runtime hand it time and seeded randomness.
"""
