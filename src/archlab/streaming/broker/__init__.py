"""A Kafka-compatible broker (codex 7.1): partitions, groups, idempotence and transactions.

The state machines here are sans-IO: the clock comes in as ``now_ms`` arguments and the
network lives in :mod:`archlab.streaming.broker.server`.
"""
