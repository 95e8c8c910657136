"""Sagas: orchestrated and choreographed, with idempotent steps and compensations (6.1)."""
