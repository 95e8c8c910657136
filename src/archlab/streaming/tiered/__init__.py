"""Pulsar's model (codex 7.2): bookies, quorum ledgers, stateless brokers, tiered storage."""
