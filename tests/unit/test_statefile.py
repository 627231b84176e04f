"""Small state files: atomic JSON replace, forgiving reads, and the applied sources kept in one."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gitopsd.edges.applied import APPLIED_FILE, AppliedFile
from gitopsd.edges.statefile import read_json, write_json
from gitopsd.engine import applied as applied_module
from gitopsd.engine.applied import Applied


def test_written_json_reads_back_private_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A written document reads back equal, the file is 0600, and nothing else is left beside it."""
    path = tmp_path / "sub" / "doc.json"
    assert write_json(path, {"b": [1, 2], "a": "x"}, event="t.unsaved")
    assert read_json(path, event="t.unreadable") == {"a": "x", "b": [1, 2]}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in path.parent.iterdir()) == ["doc.json"]


def test_missing_and_broken_files_read_as_none_and_a_refused_write_is_logged(tmp_path: Path) -> None:
    """A missing file reads as None silently, a broken one as None with a warning; a write into a
    read-only directory returns False with a warning and keeps the old content."""
    path = tmp_path / "doc.json"
    with capture_logs() as logs:
        assert read_json(path, event="t.unreadable") is None
        assert logs == []
        path.write_text("{not json")
        assert read_json(path, event="t.unreadable") is None
        assert [e["event"] for e in logs] == ["t.unreadable"]
        if os.geteuid() != 0:  # root writes through a read-only mode
            tmp_path.chmod(0o500)
            try:
                assert not write_json(path, {"a": 1}, event="t.unsaved", n=1)
                assert logs[-1]["event"] == "t.unsaved"
                assert logs[-1]["n"] == 1
            finally:
                tmp_path.chmod(0o700)
            assert path.read_text() == "{not json"


def test_applied_sources_survive_a_restart_and_forget_dropped_instances(tmp_path: Path) -> None:
    """Source keys set through one Applied are found by the next one on the same state directory,
    a dropped instance is not, and an unchanged key does not rewrite the file."""
    first = Applied(AppliedFile(tmp_path))
    first.set("web/prod", "k1")
    first.set("db/prod", "k2")
    first.drop("db/prod")
    written = (tmp_path / APPLIED_FILE).stat().st_mtime_ns
    first.set("web/prod", "k1")
    assert (tmp_path / APPLIED_FILE).stat().st_mtime_ns == written
    again = Applied(AppliedFile(tmp_path))
    assert again.get("web/prod") == "k1"
    assert again.get("db/prod") is None
    (tmp_path / APPLIED_FILE).write_text('["not", "a", "map"]')
    assert Applied(AppliedFile(tmp_path)).get("web/prod") is None


class CountingStore:
    """An AppliedPort that keeps what it was last given and how often."""

    def __init__(self) -> None:
        self.saves: list[dict[str, str]] = []

    def load(self) -> dict[str, str]:
        return {}

    def save(self, keys: Mapping[str, str]) -> None:
        self.saves.append(dict(keys))


@pytest.mark.asyncio
async def test_changes_in_a_running_loop_are_written_together_and_flushed_at_stop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Many changes within one save period make one write after it; flush writes at once what a
    later change left waiting."""
    monkeypatch.setattr(applied_module, "SAVE_EVERY", 0.05)
    store = CountingStore()
    applied = Applied(store)
    for i in range(100):
        applied.set(f"app{i}/prod", f"k{i}")
    assert store.saves == []
    await asyncio.sleep(0.2)
    assert len(store.saves) == 1
    assert len(store.saves[0]) == 100
    applied.drop("app0/prod")
    applied.flush()
    assert len(store.saves) == 2
    assert "app0/prod" not in store.saves[1]
    await asyncio.sleep(0.2)
    assert len(store.saves) == 2  # the flushed change is not written again
