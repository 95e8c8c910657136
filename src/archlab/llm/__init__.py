"""Chapter 8.2: LLM serving, a real model through a paged KV cache, batched and speculated.

Modules, from the model up:

* :mod:`~archlab.llm.gguf_weights`: SmolLM2-135M's GGUF file, found and dequantized in numpy;
* :mod:`~archlab.llm.tokenizer`: its byte-level BPE tokenizer and chat template;
* :mod:`~archlab.llm.kv_cache`: keys and values stored in fixed-size physical blocks;
* :mod:`~archlab.llm.model`: the forward pass, attention reading K/V through block tables;
* :mod:`~archlab.llm.blocks`: the allocator (refcounts, copy-on-write, prefix cache, swap);
* :mod:`~archlab.llm.scheduler`: continuous (iteration-level) and static batching;
* :mod:`~archlab.llm.sampling`: greedy, temperature and top-p sampling;
* :mod:`~archlab.llm.engine`: scheduler + model + sampling, one iteration per ``step()``;
* :mod:`~archlab.llm.speculative`: draft-and-verify decoding with exact rejection sampling;
* :mod:`~archlab.llm.api`, :mod:`~archlab.llm.serve`: the OpenAI-compatible HTTP server;
* :mod:`~archlab.llm.workloads`: request lengths and arrivals for the experiments;
* :mod:`~archlab.llm.experiments`: the chapter's claims; :mod:`~archlab.llm.benchmarks`:
  ``archlab bench llm``; :mod:`~archlab.llm.cli`: ``archlab llm generate | serve``.
"""
