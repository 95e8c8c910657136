"""``sync="os"``: every write reaches the operating system before it returns (no fsync)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.storage import ENGINES, open_store


def _log_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.suffix == ".log")


@pytest.mark.parametrize("engine", ENGINES)
def test_os_policy_hands_each_write_to_the_os(engine: str, tmp_path: Path) -> None:
    with open_store(engine, tmp_path / "os", sync="os") as store:
        store.put(b"key", b"value")
        assert _log_bytes(tmp_path / "os") > 0  # visible to another process already


@pytest.mark.parametrize("engine", ENGINES)
def test_none_policy_may_keep_a_write_in_user_space(engine: str, tmp_path: Path) -> None:
    with open_store(engine, tmp_path / "none", sync="none") as store:
        store.put(b"key", b"value")
        assert _log_bytes(tmp_path / "none") == 0  # still in the 64 KiB append buffer
