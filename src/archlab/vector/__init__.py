"""Chapter 8.1: vector search with HNSW, measured against brute force, hnswlib and FAISS.

Modules, from storage up:

* :mod:`~archlab.vector.metrics`: L2, inner-product and cosine distances, batched;
* :mod:`~archlab.vector.graph`: the layered graph's contiguous numpy arrays;
* :mod:`~archlab.vector.reference`: the paper's algorithms 1–5 in readable Python;
* :mod:`~archlab.vector.kernels`: the same algorithms compiled with numba;
* :mod:`~archlab.vector.index`: :class:`HNSWIndex` (add, search with filters, delete);
* :mod:`~archlab.vector.exact`: :class:`BruteForceIndex`, the exact oracle, same interface;
* :mod:`~archlab.vector.persist`: one-file save, memory-mapped load;
* :mod:`~archlab.vector.datasets`: the MiniLM embedding table, synthetic sets, ground truth;
* :mod:`~archlab.vector.sweeps`: the build-and-measure steps the experiments share;
* :mod:`~archlab.vector.experiments`: the chapter's claims as experiments;
* :mod:`~archlab.vector.benchmarks`: ``archlab bench vector`` against hnswlib and FAISS;
* :mod:`~archlab.vector.cli`: ``archlab vector build | query | eval``.
"""
