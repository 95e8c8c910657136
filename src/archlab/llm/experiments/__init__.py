"""Chapter 8.2's claims as experiments, one module each; importing this registers them all.

* :mod:`.kv_waste`: ``llm.kv_waste``, reserved KV memory holding tokens, contiguous vs paged;
"""

from archlab.llm.experiments import batching, kv_waste, prefix, speculation

__all__ = ["batching", "kv_waste", "prefix", "speculation"]
