"""The Git edge on local repositories (no network): size limits and missing paths.

A bare repository made in a temporary directory is read through ``GitSource``
as a daemon reads a ``file://`` repository.
"""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitopsd.edges.git import GitSource
from gitopsd.errors import GitError, SourceTooLarge
from gitopsd.model import Repository
from tests.testenv.git_fixtures import BareRepo

LIMIT = 1024


@pytest.fixture
def bare(tmp_path: Path) -> BareRepo:
    path = tmp_path / "env.git"
    pygit2.init_repository(str(path), bare=True)
    return BareRepo("env", path, "")


@pytest.fixture
def source(tmp_path: Path) -> GitSource:
    return GitSource(tmp_path / "state", timeout=5)


@pytest.mark.asyncio
async def test_a_manifest_past_the_limit_fails_naming_repo_revision_path_and_limit(
        bare: BareRepo, source: GitSource) -> None:
    """A limited file larger than the limit raises SourceTooLarge that names where it is."""
    sha = bare.commit({"apps/a/small.yaml": "a: 1\n", "apps/a/huge.yaml": "x" * (LIMIT + 1)})
    repo = Repository("env", bare.file_url)
    with pytest.raises(SourceTooLarge) as info:
        await source.read_tree(repo, sha, "apps/a", max_file_size=LIMIT,
                               limited_suffixes=(".yaml",))
    assert str(info.value) == (
        f"env@{sha[:12]}:apps/a/huge.yaml: the file is {LIMIT + 1} bytes, over the limit "
        f"of {LIMIT} bytes per manifest file; it was not read")


@pytest.mark.asyncio
async def test_files_at_the_limit_or_not_limited_are_read(bare: BareRepo,
                                                          source: GitSource) -> None:
    """A file exactly at the limit, and a large file of another suffix, are read whole."""
    sha = bare.commit({"apps/a/edge.yaml": "y" * LIMIT, "apps/a/chart.tgz": b"\0" * (4 * LIMIT)})
    repo = Repository("env", bare.file_url)
    files = await source.read_tree(repo, sha, "apps/a", max_file_size=LIMIT,
                                   limited_suffixes=(".yaml",))
    assert {name: len(data) for name, data in files.items()} == {
        "apps/a/edge.yaml": LIMIT, "apps/a/chart.tgz": 4 * LIMIT}


@pytest.mark.asyncio
async def test_a_link_to_a_huge_file_is_refused_too(bare: BareRepo, source: GitSource) -> None:
    """A symbolic link is held to the limit by the size of the file it points to."""
    sha = bare.commit({"big/data.yaml": "z" * (LIMIT + 10)},
                      links={"apps/a/linked.yaml": "../../big/data.yaml"})
    repo = Repository("env", bare.file_url)
    with pytest.raises(SourceTooLarge, match=r"apps/a/linked\.yaml: the file is 1034 bytes"):
        await source.read_tree(repo, sha, "apps/a", max_file_size=LIMIT)


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["path", "file-url"])
async def test_a_missing_local_repository_is_named_as_missing(tmp_path: Path, source: GitSource,
                                                              form: str) -> None:
    """A local repository path that does not exist is reported as such, not as a bad URL."""
    missing = tmp_path / "nowhere" / "env.git"
    repo = Repository("env", str(missing) if form == "path" else f"file://{missing}")
    with pytest.raises(GitError) as info:
        await source.poll(repo, ["main"])
    assert str(info.value) == f"cannot list env: repository path {missing} does not exist"
