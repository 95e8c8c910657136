"""Chapter 7: messaging and streaming internals (sequential I/O, zero copy, the log)."""
