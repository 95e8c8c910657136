"""The codex's chapter and section titles, for the report's contents and headings."""

from __future__ import annotations

CHAPTERS: dict[int, str] = {
    1: "The senior engineering rubric",
    2: "Structural frameworks and estimation",
    3: "Networking and traffic management",
    4: "Database internals and storage engines",
    5: "Distributed systems theory and consistency",
    6: "Distributed transactions and data integrity",
    7: "High-throughput messaging and streaming",
    8: "Vector databases and GenAI serving",
    9: "Resilience, security and operations",
    10: "Architectural case studies",
}

SECTIONS: dict[str, str] = {
    "1.1": "L5 vs L6",
    "2.1": "Requirement clarification",
    "2.2": "Back-of-the-envelope estimation",
    "3.1": "Layer 4 vs layer 7 load balancing",
    "3.2": "Anycast vs unicast",
    "3.3": "HTTP/3 and QUIC",
    "3.4": "TLS 1.3 and 0-RTT",
    "4.1": "B-trees vs LSM trees",
    "4.2": "LSM compaction and write stalls",
    "4.3": "PostgreSQL MVCC and vacuum",
    "5.1": "Linearizability, serializability, strict serializability",
    "5.2": "Spanner and TrueTime",
    "5.3": "Paxos, Raft and Zab",
    "5.4": "CRDTs vs operational transformation",
    "6.1": "Two-phase commit vs sagas",
    "6.2": "Distributed ID generation",
    "7.1": "Kafka: zero copy and sequential I/O",
    "7.2": "Kafka vs RabbitMQ vs Pulsar",
    "8.1": "HNSW vector indexing",
    "8.2": "LLM serving",
    "9.1": "Observability and sampling",
    "9.2": "Bulkheads and shuffle sharding",
    "9.3": "Rate limiting and load shedding",
    "9.4": "Zero trust and OAuth",
    "10.1": "WhatsApp",
    "10.2": "Discord",
    "10.3": "Netflix Open Connect",
    "10.4": "Facebook Haystack",
    "10.5": "Uber Ringpop",
}


def chapter_title(chapter: int) -> str:
    return CHAPTERS.get(chapter, f"Chapter {chapter}")


def section_title(section: str) -> str:
    return SECTIONS.get(section, "")
