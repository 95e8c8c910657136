"""The Kafka wire protocol, sans-IO (codex 7.1): schemas, framing and the version table."""
