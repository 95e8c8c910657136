"""Time and distributed transactions: TrueTime, two-phase commit, sagas (codex 5.2, 6.1)."""
