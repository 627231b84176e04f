"""The Git edge against real Git: an SSH server running git upload-pack, and local repos."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pygit2
import pytest
import pytest_asyncio
from aiohttp import web

from gitopsd.edges.git import GitSource
from gitopsd.errors import GitError
from gitopsd.model import Repository
from tests.testenv.git_fixtures import BareRepo, GitServerInfo, RepoFactory
from tests.testenv.gitserver import GitSSHServer, public_key_line, write_client_key


@pytest.fixture
def source(tmp_path: Path) -> GitSource:
    """A GitSource with its own state directory and short libgit2 timeouts."""
    return GitSource(tmp_path / "state", timeout=5)


def ssh_repo(bare: BareRepo, server: GitServerInfo, name: str = "env", **kw: str) -> Repository:
    fields = {"ssh_key_file": str(server.client_key_file),
              "known_hosts_file": str(server.known_hosts_file)} | kw
    return Repository(name=name, url=bare.ssh_url, **fields)


def cached(source: GitSource, repo: Repository) -> pygit2.Repository:
    return pygit2.Repository(str(source.cache_path(repo)))


@pytest.fixture
def env(git_repos: RepoFactory) -> BareRepo:
    """A served repository with two commits on main, a dev branch and two tags."""
    bare = git_repos.new("env")
    first = bare.commit({"apps/a/cm.yaml": "a: 1\n", "base/x.yaml": "x: 1\n"}, message="one")
    bare.tag("v1", first)
    bare.tag("v1-light", first, annotated=False)
    bare.commit({"apps/a/cm.yaml": "a: 2\n", "apps/b/cm.yaml": "b: 1\n"}, message="two")
    bare.commit({"dev.txt": "dev\n"}, branch="dev", message="dev")
    return bare


@pytest.mark.asyncio
async def test_list_heads_over_ssh(source: GitSource, env: BareRepo,
                                   git_server: GitServerInfo) -> None:
    """One listing returns branches, HEAD and tags peeled to commits, and fetches nothing."""
    repo = ssh_repo(env, git_server)
    heads = await source.list_heads(repo)
    first = str(pygit2.Repository(str(env.path)).revparse_single("v1^{commit}").id)
    assert heads["refs/heads/main"] == env.head("main")
    assert heads["HEAD"] == env.head("main")
    assert heads["refs/heads/dev"] == env.head("dev")
    assert heads["refs/tags/v1"] == first
    assert heads["refs/tags/v1-light"] == first
    assert not [k for k in heads if k.endswith("^{}")]
    assert (source.stats(repo).listings, source.stats(repo).fetches) == (1, 0)


@pytest.mark.asyncio
async def test_push_is_noticed_with_one_listing_for_fifty_apps(
        source: GitSource, env: BareRepo, git_server: GitServerInfo) -> None:
    """Fifty apps on one repo cost one listing per poll, and a push costs one fetch."""
    repo = ssh_repo(env, git_server)
    apps = ["main"] * 46 + ["refs/heads/main", "dev", "HEAD", "v1"]
    stats = source.stats(repo)

    seen = await source.poll(repo, apps)
    assert stats.listings == 1
    revs = await asyncio.gather(*(source.ensure(repo, ref, seen[ref]) for ref in apps))
    assert stats.listings == 1
    assert {r.sha for r in revs} == {env.head("main"), env.head("dev"), seen["v1"]}
    fetches_before_push = stats.fetches

    pushed = env.commit({"apps/a/cm.yaml": "a: 3\n"}, message="three")
    seen = await source.poll(repo, apps)
    assert stats.listings == 2
    assert seen["main"] == seen["HEAD"] == seen["refs/heads/main"] == pushed
    revs = await asyncio.gather(*(source.ensure(repo, ref, seen[ref]) for ref in apps))
    assert stats.listings == 2
    assert stats.fetches == fetches_before_push + 1
    assert {r.sha for r in revs if r.ref == "main"} == {pushed}
    files = await source.read_tree(repo, pushed, "apps/a")
    assert files == {"apps/a/cm.yaml": b"a: 3\n"}


@pytest.mark.asyncio
async def test_no_fetch_when_nothing_moved(source: GitSource, env: BareRepo,
                                           git_server: GitServerInfo) -> None:
    """Polling and ensuring an unchanged ref again lists but never fetches."""
    repo = ssh_repo(env, git_server)
    stats = source.stats(repo)
    first = await source.ensure(repo, "main")
    assert (stats.listings, stats.fetches) == (1, 1)
    for _ in range(3):
        seen = await source.poll(repo, ["main"])
        again = await source.ensure(repo, "main", seen["main"])
        assert again == first
    assert (stats.listings, stats.fetches) == (4, 1)
    assert (await source.ensure(repo, "main")).sha == first.sha
    assert (stats.listings, stats.fetches) == (5, 1)


@pytest.mark.asyncio
async def test_fetch_over_ssh_is_shallow(source: GitSource, env: BareRepo,
                                         git_server: GitServerInfo) -> None:
    """A branch fetched over SSH has depth one: the tip is there, its parent is not."""
    repo = ssh_repo(env, git_server)
    rev = await source.ensure(repo, "main")
    cache = cached(source, repo)
    assert cache.is_shallow
    parent = pygit2.Repository(str(env.path))[rev.sha].parents[0].id
    assert parent not in cache


@pytest.mark.asyncio
@pytest.mark.parametrize(("ref", "branch"), [("HEAD", "main"), ("dev", "dev"),
                                             ("refs/heads/dev", "dev"), ("main", "main")])
async def test_branch_and_head_targets(source: GitSource, env: BareRepo,
                                       git_server: GitServerInfo, ref: str, branch: str) -> None:
    """HEAD, short and full branch names each fetch and resolve to the branch tip."""
    repo = ssh_repo(env, git_server)
    rev = await source.ensure(repo, ref)
    assert (rev.repo, rev.ref, rev.sha) == ("env", ref, env.head(branch))
    assert source.stats(repo).fetches == 1
    assert cached(source, repo).get(rev.sha) is not None


@pytest.mark.asyncio
async def test_user_comes_from_repository_when_url_has_none(
        source: GitSource, env: BareRepo, git_server: GitServerInfo) -> None:
    """An ssh:// URL without a user logs in as Repository.username."""
    url = env.ssh_url.replace("git@", "")
    repo = Repository(name="env", url=url, username="git",
                      ssh_key_file=str(git_server.client_key_file),
                      known_hosts_file=str(git_server.known_hosts_file))
    assert (await source.poll(repo, ["main"])) == {"main": env.head("main")}


@pytest.mark.asyncio
@pytest.mark.parametrize("tag", ["v1", "v1-light", "refs/tags/v1"])
async def test_tag_targets_resolve_to_the_tagged_commit(
        source: GitSource, env: BareRepo, git_server: GitServerInfo, tag: str) -> None:
    """Annotated and lightweight tags resolve to the commit they mark, with its files."""
    repo = ssh_repo(env, git_server)
    want = str(pygit2.Repository(str(env.path)).revparse_single("v1^{commit}").id)
    rev = await source.ensure(repo, tag)
    assert (rev.ref, rev.sha) == (tag, want)
    assert await source.read_tree(repo, rev.sha, "apps") == {"apps/a/cm.yaml": b"a: 1\n"}


@pytest.mark.asyncio
@pytest.mark.parametrize(("server_allows_sha", "shallow_after"), [(False, False), (True, True)])
async def test_full_sha_target_needs_no_listing(
        source: GitSource, env: BareRepo, git_server: GitServerInfo,
        server_allows_sha: bool, shallow_after: bool) -> None:
    """An old commit named by SHA is fetched without any listing, shallow if the server allows."""
    if server_allows_sha:
        env.set_config("uploadpack.allowAnySHA1InWant", "true")
    repo = ssh_repo(env, git_server)
    await source.ensure(repo, "main")  # the cache is shallow and lacks the older commit
    old = str(pygit2.Repository(str(env.path)).revparse_single("main~1").id)
    listings = source.stats(repo).listings

    assert await source.poll(repo, [old]) == {old: old}
    rev = await source.ensure(repo, old)
    assert rev.sha == old
    assert source.stats(repo).listings == listings
    assert cached(source, repo).is_shallow is shallow_after
    assert await source.read_tree(repo, old, "apps/a") == {"apps/a/cm.yaml": b"a: 1\n"}


@pytest.mark.asyncio
async def test_read_tree_of_a_path(source: GitSource, env: BareRepo,
                                   git_server: GitServerInfo) -> None:
    """read_tree returns every blob under a path, recursively, keyed by repo-relative path."""
    repo = ssh_repo(env, git_server)
    rev = await source.ensure(repo, "main")
    assert await source.read_tree(repo, rev.sha, "apps") == {
        "apps/a/cm.yaml": b"a: 2\n", "apps/b/cm.yaml": b"b: 1\n"}
    assert await source.read_tree(repo, rev.sha, "./apps/b/") == {"apps/b/cm.yaml": b"b: 1\n"}
    assert set(await source.read_tree(repo, rev.sha, ".")) == {
        "apps/a/cm.yaml", "apps/b/cm.yaml", "base/x.yaml"}
    assert await source.show_file(repo, rev.sha, "base/x.yaml") == b"x: 1\n"


@pytest.mark.asyncio
async def test_nonexistent_path_is_an_error(source: GitSource, env: BareRepo,
                                            git_server: GitServerInfo) -> None:
    """A path missing at the commit is reported with the repo name and short SHA."""
    repo = ssh_repo(env, git_server)
    rev = await source.ensure(repo, "main")
    with pytest.raises(GitError) as err:
        await source.read_tree(repo, rev.sha, "apps/missing")
    assert str(err.value) == f"path apps/missing does not exist in env at {rev.sha[:12]}"
    with pytest.raises(GitError, match="leaves the repository"):
        await source.read_tree(repo, rev.sha, "apps/../../etc")


@pytest.mark.asyncio
async def test_materialise_writes_the_whole_tree_and_cleans_up(
        source: GitSource, git_repos: RepoFactory, git_server: GitServerInfo) -> None:
    """materialise yields the app directory inside a full copy of the tree, then removes it."""
    bare = git_repos.new("kustomize")
    sha = bare.commit(
        {"base/kustomization.yaml": "resources: [cm.yaml]\n", "base/cm.yaml": "kind: ConfigMap\n",
         "overlays/prod/kustomization.yaml": "resources: [../../base]\n",
         "overlays/prod/hook.sh": "#!/bin/sh\n"},
        links={"overlays/prod/cm-link.yaml": "../../base/cm.yaml"},
        executable=("overlays/prod/hook.sh",))
    repo = ssh_repo(bare, git_server)
    async with source.materialise(repo, sha, "overlays/prod") as app_dir:
        assert (app_dir / "kustomization.yaml").read_text() == "resources: [../../base]\n"
        assert (app_dir / "../../base/cm.yaml").read_text() == "kind: ConfigMap\n"
        assert (app_dir / "cm-link.yaml").read_text() == "kind: ConfigMap\n"
        assert os.access(app_dir / "hook.sh", os.X_OK)
        assert not os.access(app_dir / "kustomization.yaml", os.X_OK)
        root = app_dir.parent.parent
    assert not root.exists()
    files = await source.read_tree(repo, sha, "overlays/prod")
    assert files["overlays/prod/cm-link.yaml"] == b"kind: ConfigMap\n"


@pytest.mark.asyncio
async def test_symlink_out_of_the_repository_is_refused(
        source: GitSource, git_repos: RepoFactory, git_server: GitServerInfo) -> None:
    """A symbolic link pointing outside the tree makes reading and materialising fail."""
    bare = git_repos.new("evil")
    sha = bare.commit({"app/cm.yaml": "a: 1\n"}, links={"app/passwd": "../../../etc/passwd"})
    repo = ssh_repo(bare, git_server)
    with pytest.raises(GitError, match="points outside the repository"):
        await source.read_tree(repo, sha, "app")
    with pytest.raises(GitError, match="points outside the repository"):
        async with source.materialise(repo, sha, "app"):
            pass
    assert list((source.root / "work").iterdir()) == []


@pytest.mark.asyncio
async def test_nonexistent_branch(source: GitSource, env: BareRepo,
                                  git_server: GitServerInfo) -> None:
    """A ref the remote lacks is absent from a poll and an error naming repo and URL on ensure."""
    repo = ssh_repo(env, git_server)
    assert await source.poll(repo, ["nope", "main"]) == {"main": env.head("main")}
    with pytest.raises(GitError) as err:
        await source.ensure(repo, "nope")
    assert str(err.value) == f"revision 'nope' not found in env ({env.ssh_url})"
    missing = "0" * 40
    with pytest.raises(GitError, match=f"revision '{missing}' not found in env"):
        await source.ensure(repo, missing)


@pytest.mark.asyncio
async def test_nonexistent_repository(source: GitSource, git_server: GitServerInfo) -> None:
    """A URL the server does not serve is reported as a missing repository."""
    url = git_server.url("no-such-repo")
    repo = Repository(name="ghost", url=url, ssh_key_file=str(git_server.client_key_file),
                      known_hosts_file=str(git_server.known_hosts_file))
    with pytest.raises(GitError, match=r"^repository ghost \(.*no-such-repo.git\) not found"):
        await source.list_heads(repo)


@pytest.mark.asyncio
async def test_wrong_client_key_is_an_auth_error(
        source: GitSource, env: BareRepo, git_server: GitServerInfo, tmp_path: Path) -> None:
    """A key the server does not accept gives an authentication error, not a hang or retry loop."""
    other = write_client_key(tmp_path, "other")
    repo = ssh_repo(env, git_server, ssh_key_file=str(other))
    with pytest.raises(GitError) as err:
        await source.list_heads(repo)
    assert str(err.value).startswith(f"authentication failed for env ({env.ssh_url}): ")
    assert str(other) in str(err.value)


@pytest.mark.asyncio
async def test_unknown_host_key_is_refused(
        source: GitSource, env: BareRepo, git_server: GitServerInfo, tmp_path: Path) -> None:
    """A server missing from known_hosts is refused before any credentials are sent."""
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:1 {public_key_line(git_server.server.host_key)}\n")
    repo = ssh_repo(env, git_server, known_hosts_file=str(kh))
    with pytest.raises(GitError) as err:
        await source.list_heads(repo)
    assert str(err.value).startswith(
        f"host key for 127.0.0.1:{git_server.port} is not in known_hosts {kh}; ")


@pytest.fixture
def impostor(git_server: GitServerInfo) -> Iterator[GitSSHServer]:
    """A second server for the same repositories with a different host key."""
    key = (git_server.client_key_file.with_suffix(".pub")).read_text().strip()
    server = GitSSHServer(git_server.root, [key]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.asyncio
async def test_changed_host_key_is_refused(
        source: GitSource, env: BareRepo, git_server: GitServerInfo,
        impostor: GitSSHServer, tmp_path: Path) -> None:
    """A host whose key differs from the known_hosts entry is refused and the message says so."""
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{impostor.port} {public_key_line(git_server.server.host_key)}\n")
    repo = Repository(name="env", url=impostor.url(env.name),
                      ssh_key_file=str(git_server.client_key_file), known_hosts_file=str(kh))
    before = len(impostor.commands)
    with pytest.raises(GitError) as err:
        await source.list_heads(repo)
    assert str(err.value).startswith(
        f"host key for 127.0.0.1:{impostor.port} does not match the key in known_hosts {kh} ")
    assert len(impostor.commands) == before


@pytest.mark.asyncio
async def test_each_repository_is_checked_against_its_own_known_hosts(
        source: GitSource, env: BareRepo, git_server: GitServerInfo, tmp_path: Path) -> None:
    """Concurrent operations with different known_hosts files never borrow each other's keys."""
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("# nothing trusted\n")
    good = ssh_repo(env, git_server, name="good")
    bad = ssh_repo(env, git_server, name="bad", known_hosts_file=str(empty))
    results = await asyncio.gather(*(source.list_heads(r) for r in [good, bad] * 6),
                                   return_exceptions=True)
    assert all(isinstance(r, dict) for r in results[0::2])
    assert all(isinstance(r, GitError) and "is not in known_hosts" in str(r)
               for r in results[1::2])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.asyncio
async def test_refused_port_is_unreachable(source: GitSource, git_server: GitServerInfo) -> None:
    """Nothing listening on the port gives a 'cannot reach' error at once."""
    url = f"ssh://git@127.0.0.1:{free_port()}/env.git"
    repo = Repository(name="env", url=url, ssh_key_file=str(git_server.client_key_file),
                      known_hosts_file=str(git_server.known_hosts_file))
    with pytest.raises(GitError, match=r"^cannot reach env \(ssh://git@127\.0\.0\.1:\d+/env\.git\)"):
        await source.list_heads(repo)


@pytest.mark.asyncio
async def test_silent_server_times_out(tmp_path: Path, git_server: GitServerInfo) -> None:
    """A server that accepts but never answers fails within the configured timeout."""
    source = GitSource(tmp_path / "state", timeout=1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"ssh://git@127.0.0.1:{silent.getsockname()[1]}/env.git"
        repo = Repository(name="env", url=url, ssh_key_file=str(git_server.client_key_file),
                          known_hosts_file=str(git_server.known_hosts_file))
        start = time.monotonic()
        with pytest.raises(GitError, match=r"^cannot reach env .*[Tt]imed out"):
            await source.list_heads(repo)
        assert time.monotonic() - start < 4


@pytest_asyncio.fixture
async def http_git() -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTP server that answers every Git request with the status in the path's first part."""
    seen_auth: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen_auth.append(request.headers.get("Authorization", ""))
        status = int(request.match_info["status"])
        headers = {"WWW-Authenticate": 'Basic realm="git"'} if status == 401 else {}
        return web.Response(status=status, text="no\n", headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{status}/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen_auth
    finally:
        await runner.cleanup()


SECRET = "ghp_S3cr3tT0kenValue0123456789"
URL_PASSWORD = "hunter2-url-password"


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "kind"), [(401, "authentication failed"),
                                              (403, "authentication failed"),
                                              (404, "not found"),
                                              (500, "cannot list")])
async def test_tokens_never_appear_in_errors(
        source: GitSource, http_git: tuple[str, list[str]], tmp_path: Path,
        status: int, kind: str) -> None:
    """HTTP failures name the repo and cause but never the token or a URL password."""
    base, seen_auth = http_git
    token_file = tmp_path / "token"
    token_file.write_text(SECRET + "\n")
    for url in (f"{base}/{status}/org/env.git",
                f"{base.replace('://', f'://deploy:{URL_PASSWORD}@')}/{status}/org/env.git"):
        repo = Repository(name="env", url=url, token_file=str(token_file))
        with pytest.raises(GitError) as err:
            await source.list_heads(repo)
        text = "".join(traceback.format_exception(err.value)) + repr(err.value)
        assert kind in str(err.value)
        assert "env (http://" in str(err.value)
        assert SECRET not in text
        assert URL_PASSWORD not in text
    if status == 401:
        assert any(a.startswith("Basic ") for a in seen_auth)


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["path", "file-url"])
async def test_local_repositories_work(source: GitSource, env: BareRepo, form: str) -> None:
    """Local paths and file:// URLs are polled, fetched in full and read like remote ones."""
    url = str(env.path) if form == "path" else env.file_url
    repo = Repository(name="local", url=url)
    seen = await source.poll(repo, ["main", "v1"])
    assert seen["main"] == env.head("main")
    rev = await source.ensure(repo, "main", seen["main"])
    assert not cached(source, repo).is_shallow
    assert await source.read_tree(repo, rev.sha, "apps/b") == {"apps/b/cm.yaml": b"b: 1\n"}
    pushed = env.commit({"apps/b/cm.yaml": "b: 2\n"})
    assert (await source.ensure(repo, "main")).sha == pushed
    assert source.stats(repo).fetches == 2


@pytest.mark.asyncio
async def test_corrupt_cache_is_rebuilt(source: GitSource, env: BareRepo,
                                        git_server: GitServerInfo) -> None:
    """A cache directory that is not a repository is replaced, since it holds nothing needed."""
    repo = ssh_repo(env, git_server)
    path = source.cache_path(repo)
    path.mkdir(parents=True)
    (path / "HEAD").write_text("garbage")
    rev = await source.ensure(repo, "main")
    assert rev.sha == env.head("main")


def test_ssh_server_rejects_unknown_keys(git_server: GitServerInfo, tmp_path: Path) -> None:
    """The test server itself refuses clients whose key it was not given."""
    other = write_client_key(tmp_path, "stranger")

    async def attempt() -> None:
        await asyncssh.connect("127.0.0.1", git_server.port, username="git",
                               client_keys=[str(other)],
                               known_hosts=str(git_server.known_hosts_file), config=[])

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(attempt())
