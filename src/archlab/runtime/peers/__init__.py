"""Peer systems hosted behind archlab's client protocol, for like-for-like benchmarks."""
