"""Collaborative editing (codex 5.4): CRDTs and operational transformation, measured.

``crdt``      state-based CRDTs (counters, registers, OR-Set), delta sync, the text CRDT
``ot``        text operations, the Jupiter-style server and client state machine
``simulate``  replicas and clients editing through the simulated network, with faults
``traces``    real keystroke editing traces (packaged, CC BY 4.0) and their replay
``experiments``, ``benchmarks``, ``cli``, ``net`` (WebSocket server and client)
"""
