"""Checkers for histories: linearizability and transactional isolation (codex 5.1).

:mod:`archlab.check.history` is the shared history format every writer (simulator, runtime,
engines under test) and every checker use.
"""
