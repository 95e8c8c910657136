"""Chapter 8.2: LLM serving, a real model through a paged KV cache, batched and speculated.

Modules, from the model up:

* :mod:`~archlab.llm.gguf_weights`: SmolLM2-135M's GGUF file, found and dequantized in numpy;
* :mod:`~archlab.llm.tokenizer`: its byte-level BPE tokenizer and chat template;
* :mod:`~archlab.llm.kv_cache`: keys and values stored in fixed-size physical blocks;
* :mod:`~archlab.llm.model`: the forward pass, attention reading K/V through block tables;
"""
