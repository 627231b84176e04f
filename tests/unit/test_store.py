"""The SQLite sync history: round trip, pruning, reopening, concurrency and damaged files."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gitopsd.edges.store import FILENAME, MAX_MESSAGE, HistoryEntry, HistoryStore


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[HistoryStore]:
    """A store keeping 5 entries per instance under a fresh state directory."""
    async with HistoryStore(tmp_path / "state", keep=5) as s:
        yield s


async def record(store: HistoryStore, app: str, cluster: str, n: int, **extra: object) -> bool:
    fields: dict[str, object] = {"revision": f"rev{n}", "started": 1000.0 + n, "duration": 0.5 * n,
                                 "result": "succeeded", "message": f"sync {n}", "trace_id": f"{n:032x}"}
    fields.update(extra)
    return await store.record(app, cluster, **fields)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_round_trip(store: HistoryStore) -> None:
    """A recorded sync reads back with every field, changes included, and as a JSON-ready dict."""
    assert await record(store, "web", "prod", 1, changes={"created": 2, "configured": 1})
    [entry] = await store.history("web", "prod")
    assert entry == HistoryEntry(app="web", cluster="prod", revision="rev1", started=1001.0, duration=0.5,
                                 result="succeeded", message="sync 1", trace_id=f"{1:032x}",
                                 changes={"configured": 1, "created": 2}, id=1)
    assert entry.as_dict()["changes"] == {"configured": 1, "created": 2}
    assert (await store.last("web", "prod")) == entry
    assert (await store.entry("web", "prod", 1)) == entry
    assert await store.entry("web", "other", 1) is None


@pytest.mark.asyncio
async def test_history_is_newest_first_and_limited(store: HistoryStore) -> None:
    """history() returns the most recent entries first, at most LIMIT of them, per instance."""
    for n in range(4):
        await record(store, "web", "prod", n)
    await record(store, "web", "staging", 9)
    assert [e.revision for e in await store.history("web", "prod", limit=3)] == ["rev3", "rev2", "rev1"]
    assert [e.revision for e in await store.history("web", "staging")] == ["rev9"]
    assert await store.history("web", "prod", limit=0) == []
    assert await store.history("db", "prod") == []
    assert await store.last("db", "prod") is None


@pytest.mark.asyncio
async def test_pruned_to_keep_per_instance(store: HistoryStore) -> None:
    """Each instance keeps only its last `keep` syncs; other instances are untouched."""
    await record(store, "db", "prod", 100)
    for n in range(12):
        await record(store, "web", "prod", n)
    revisions = [e.revision for e in await store.history("web", "prod", limit=50)]
    assert revisions == ["rev11", "rev10", "rev9", "rev8", "rev7"]
    assert [e.revision for e in await store.history("db", "prod")] == ["rev100"]
    await store.close()  # the daemon's connection holds the file exclusively
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM sync_history").fetchone() == (6,)


@pytest.mark.asyncio
async def test_survives_reopen(tmp_path: Path) -> None:
    """Entries written by one store object are read by a new one on the same state directory."""
    async with HistoryStore(tmp_path) as first:
        await record(first, "web", "prod", 1)
        await record(first, "web", "prod", 2)
    async with HistoryStore(tmp_path) as second:
        assert [e.revision for e in await second.history("web", "prod")] == ["rev2", "rev1"]


@pytest.mark.asyncio
async def test_wal_mode_and_private_file(store: HistoryStore) -> None:
    """The database is in WAL mode with its index in memory (no memory-mapped -shm file, whose
    pages fault when the disk refuses writes), and readable by its owner only."""
    await record(store, "web", "prod", 1)
    assert not store.path.with_name(FILENAME + "-shm").exists()
    await store.close()
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store.path.name == FILENAME
    assert store.path.stat().st_mode & 0o077 == 0


@pytest.mark.asyncio
async def test_concurrent_records(tmp_path: Path) -> None:
    """Many records in flight at once all land, and pruning still leaves exactly `keep` per instance."""
    async with HistoryStore(tmp_path, keep=20) as store:
        results = await asyncio.gather(*(record(store, f"app{n % 3}", "prod", n) for n in range(60)))
        assert all(results)
        for app in ("app0", "app1", "app2"):
            entries = await store.history(app, "prod", limit=100)
            assert len(entries) == 20
            assert {e.app for e in entries} == {app}


@pytest.mark.asyncio
async def test_message_truncated(store: HistoryStore) -> None:
    """Messages are cut to MAX_MESSAGE characters."""
    await record(store, "web", "prod", 1, message="x" * (MAX_MESSAGE + 500))
    [entry] = await store.history("web", "prod")
    assert len(entry.message) == MAX_MESSAGE


@pytest.mark.asyncio
async def test_corrupt_file_is_moved_aside(tmp_path: Path) -> None:
    """A history file that is not a database is set aside and history starts empty."""
    (tmp_path / FILENAME).write_bytes(b"this is not sqlite" * 100)
    async with HistoryStore(tmp_path) as store:
        assert await store.history("web", "prod") == []
        assert await record(store, "web", "prod", 1)
        assert [e.revision for e in await store.history("web", "prod")] == ["rev1"]
    assert [p.name.startswith(f"{FILENAME}.corrupt-") for p in tmp_path.iterdir()].count(True) == 1


@pytest.mark.asyncio
async def test_deleted_file_means_empty_history(tmp_path: Path) -> None:
    """Deleting the file between runs costs only the history."""
    async with HistoryStore(tmp_path) as store:
        await record(store, "web", "prod", 1)
    (tmp_path / FILENAME).unlink()
    async with HistoryStore(tmp_path) as store:
        assert await store.history("web", "prod") == []


@pytest.mark.asyncio
async def test_unwritable_state_dir_keeps_records_in_memory(tmp_path: Path) -> None:
    """When the state directory cannot hold the file, record() reports False and history still
    shows the record, unnumbered, from memory only."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    async with HistoryStore(blocker / "state") as store:
        assert await record(store, "web", "prod", 1) is False
        assert [(e.revision, e.id) for e in await store.history("web", "prod")] == [("rev1", 0)]
        assert await store.history("api", "prod") == []
    async with HistoryStore(blocker / "state") as store:
        assert await store.history("web", "prod") == []


@pytest.mark.asyncio
async def test_a_read_writes_the_records_the_disk_refused_once_it_takes_them(tmp_path: Path) -> None:
    """Records refused by the disk are written by the first read after the directory is usable
    again, with no record after them."""
    blocker = tmp_path / "state"
    blocker.write_text("")  # a file where the directory should be
    async with HistoryStore(blocker, keep=5) as store:
        assert await record(store, "web", "prod", 1) is False
        blocker.unlink()
        assert [(e.revision, e.id > 0) for e in await store.history("web", "prod")] == [("rev1", True)]
    async with HistoryStore(blocker, keep=5) as store:
        assert [e.revision for e in await store.history("web", "prod")] == ["rev1"]


@pytest.mark.asyncio
async def test_records_refused_by_the_disk_are_written_once_it_accepts_them(tmp_path: Path) -> None:
    """Records whose write failed (the state directory in the way) are kept and written, in order,
    with the first record after the directory is usable again."""
    blocker = tmp_path / "state"
    blocker.write_text("")  # a file where the directory should be
    async with HistoryStore(blocker, keep=5) as store:
        assert await record(store, "web", "prod", 1) is False
        assert await record(store, "api", "prod", 2) is False
        blocker.unlink()
        assert await record(store, "web", "prod", 3) is True
        assert [e.revision for e in await store.history("web", "prod")] == ["rev3", "rev1"]
        assert [e.revision for e in await store.history("api", "prod")] == ["rev2"]
