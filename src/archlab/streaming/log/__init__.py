"""The Kafka log (codex 7.1): RecordBatch v2, segments with sparse indexes, recovery, retention."""
