"""Two-phase commit (codex 6.1)."""
