"""Security (codex 3.4 and 9.4): service identity with mTLS, a token-checking gateway, TLS 1.3.

Every cryptographic primitive comes from a maintained library (``cryptography`` for keys and
certificates, ``joserfc`` for JOSE, :mod:`ssl` for TLS, ``aioquic`` for TLS 1.3 early data);
this package composes them into the mechanisms the codex describes and measures them.
"""
