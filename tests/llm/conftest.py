"""Shared fixtures: the real model and tokenizer load once per test session."""

from __future__ import annotations

import pytest

from archlab.llm.gguf_weights import ModelUnavailableError, find_model_file


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread():  # type: ignore[no-untyped-def]
    """One BLAS thread: on a shared, loaded machine spinning OpenBLAS threads cost ~10x."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def smollm():  # type: ignore[no-untyped-def]
    try:
        find_model_file()
    except ModelUnavailableError as exc:
        pytest.fail(f"{exc} (make test installs it)")
    from archlab.llm.model import SmolLM

    return SmolLM()


@pytest.fixture(scope="session")
def tokenizer():  # type: ignore[no-untyped-def]
    from archlab.llm.tokenizer import load_tokenizer

    return load_tokenizer()
