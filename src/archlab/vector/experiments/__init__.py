"""Chapter 8.1's claims as experiments, one module each; importing this registers them all.

* :mod:`.scaling`: ``vector.search_scaling``, cost per query vs N, brute force and HNSW;
* :mod:`.memory`: ``vector.memory_cost``, bytes per vector for vectors and links, vs M;
* :mod:`.heuristic`: ``vector.heuristic``, algorithm 4 vs algorithm 3 on clustered/uniform data;
* :mod:`.curves`: ``vector.recall_vs_ef``, recall–QPS curves of archlab, hnswlib and FAISS.
"""

from archlab.vector.experiments import curves, heuristic, memory, scaling

__all__ = ["curves", "heuristic", "memory", "scaling"]
