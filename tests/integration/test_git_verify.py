"""Verified commits on real repositories with real gpg and ssh-keygen signatures.

``GitSource.ensure`` is where a revision is resolved before anything reads its
tree; these tests show it returns only revisions whose signatures satisfy the
repository's ``verify`` policy and raises ``SignatureInvalid`` otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from structlog.testing import capture_logs

from gitopsd.edges.git import GitSource
from gitopsd.errors import SignatureInvalid
from gitopsd.model import Repository
from gitopsd.model.signing import VerifyMode, VerifyPolicy
from tests.testenv.signing import GpgKey, SshKey, annotated_tag, commit, need_gpg

pytestmark = pytest.mark.asyncio


@pytest.fixture
def gpg_key(tmp_path: Path) -> Iterator[GpgKey]:
    need_gpg()
    key = GpgKey(tmp_path / "alice", "Alice Signer <alice@example.test>")
    yield key
    key.close()


@pytest.fixture
def stranger(tmp_path: Path) -> Iterator[GpgKey]:
    need_gpg()
    key = GpgKey(tmp_path / "mallory", "Mallory <mallory@example.test>")
    yield key
    key.close()


@pytest.fixture
def ssh_key(tmp_path: Path) -> SshKey:
    return SshKey(tmp_path / "ssh-bob")


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "env.git"
    pygit2.init_repository(str(path), bare=True, initial_head="main")
    return path


def repository(bare: Path, tmp_path: Path, *, mode: VerifyMode = VerifyMode.HEAD,
               gpg: GpgKey | None = None, ssh: SshKey | None = None, trailer: str = "") -> Repository:
    keys: tuple[str, ...] = ()
    if gpg is not None:
        keys = (str(gpg.export(tmp_path / "allowed.asc")),)
    signers = ""
    if ssh is not None:
        signers = str(tmp_path / "allowed_signers")
        Path(signers).write_text(ssh.allowed_line("bob@example.test") + "\n")
    return Repository(name="env", url=str(bare), verify=VerifyPolicy(
        mode=mode, openpgp_keys=keys, ssh_allowed_signers=signers, start_trailer=trailer))


async def refused(source: GitSource, repo: Repository, ref: str = "main") -> SignatureInvalid:
    with pytest.raises(SignatureInvalid) as info:
        await source.ensure(repo, ref)
    return info.value


async def test_commit_signed_by_an_allowed_openpgp_key_is_returned(tmp_path: Path, bare: Path,
                                                                    gpg_key: GpgKey) -> None:
    """A head signed with an allowed OpenPGP key resolves and its tree can be read."""
    sha = commit(bare, {"a.yaml": "a: 1\n"}, signer=gpg_key)
    source = GitSource(tmp_path / "state")
    revision = await source.ensure(repository(bare, tmp_path, gpg=gpg_key), "main")
    assert revision.sha == sha
    assert await source.read_tree(repository(bare, tmp_path, gpg=gpg_key), sha) == {"a.yaml": b"a: 1\n"}


async def test_commit_signed_by_an_allowed_ssh_key_is_returned(tmp_path: Path, bare: Path,
                                                                ssh_key: SshKey) -> None:
    """A head signed with a key of the allowed_signers file resolves."""
    sha = commit(bare, {"a.yaml": "a: 1\n"}, signer=ssh_key)
    revision = await GitSource(tmp_path / "state").ensure(repository(bare, tmp_path, ssh=ssh_key), "main")
    assert revision.sha == sha


async def test_unknown_openpgp_key_is_refused_and_named(tmp_path: Path, bare: Path, gpg_key: GpgKey,
                                                         stranger: GpgKey) -> None:
    """A signature by a key that is not configured is refused, naming the key found."""
    sha = commit(bare, {"a.yaml": "a: 1\n"}, signer=stranger)
    error = await refused(GitSource(tmp_path / "state"), repository(bare, tmp_path, gpg=gpg_key))
    assert error.commit == sha
    assert "not allowed" in error.reason
    assert stranger.fingerprint[-16:] in error.signer
    assert sha[:12] in str(error)


async def test_unknown_ssh_key_is_refused_and_named(tmp_path: Path, bare: Path, ssh_key: SshKey) -> None:
    """An SSH signature by a key missing from allowed_signers is refused with its fingerprint."""
    other = SshKey(tmp_path / "ssh-eve")
    commit(bare, {"a.yaml": "a: 1\n"}, signer=other)
    error = await refused(GitSource(tmp_path / "state"), repository(bare, tmp_path, ssh=ssh_key))
    assert "not in the allowed signers" in error.reason
    assert error.signer.startswith("ED25519 key SHA256:")


@pytest.mark.parametrize("kind", ["openpgp", "ssh"])
async def test_tampered_commit_is_refused(tmp_path: Path, bare: Path, kind: str) -> None:
    """A commit changed after it was signed (signature kept) is refused as a bad signature."""
    if kind == "openpgp":
        need_gpg()
        key: GpgKey | SshKey = GpgKey(tmp_path / "alice", "Alice <alice@example.test>")
        repo = repository(bare, tmp_path, gpg=key)  # type: ignore[arg-type]
    else:
        key = SshKey(tmp_path / "ssh-bob")
        repo = repository(bare, tmp_path, ssh=key)  # type: ignore[arg-type]
    commit(bare, {"a.yaml": "a: 1\n"}, signer=key, tamper=True)
    error = await refused(GitSource(tmp_path / "state"), repo)
    assert "bad signature" in error.reason


async def test_unsigned_commit_is_refused(tmp_path: Path, bare: Path, ssh_key: SshKey) -> None:
    """An unsigned head is refused and its tree is never handed out."""
    sha = commit(bare, {"a.yaml": "a: 1\n"})
    error = await refused(GitSource(tmp_path / "state"), repository(bare, tmp_path, ssh=ssh_key))
    assert (error.commit, error.reason, error.signer) == (sha, "not signed", "")


async def test_strict_refuses_an_unsigned_ancestor_under_a_signed_head(tmp_path: Path, bare: Path,
                                                                        ssh_key: SshKey) -> None:
    """Strict mode walks from the last verified revision: an unsigned commit under a signed head fails."""
    commit(bare, {"a.yaml": "a: 1\n"}, signer=ssh_key)
    strict = repository(bare, tmp_path, mode=VerifyMode.STRICT, ssh=ssh_key)
    source = GitSource(tmp_path / "state")
    await source.ensure(strict, "main")
    unsigned = commit(bare, {"b.yaml": "b: 1\n"})
    commit(bare, {"c.yaml": "c: 1\n"}, signer=ssh_key)
    error = await refused(source, strict)
    assert error.commit == unsigned
    assert error.reason == "not signed"
    # the same head passes a head-only check: only strict mode looks below it
    head_only = repository(bare, tmp_path, mode=VerifyMode.HEAD, ssh=ssh_key)
    assert (await GitSource(tmp_path / "state2").ensure(head_only, "main")).sha == \
        str(pygit2.Repository(str(bare)).references["refs/heads/main"].target)


async def test_strict_refuses_a_signed_merge_of_unsigned_work(tmp_path: Path, bare: Path,
                                                               ssh_key: SshKey) -> None:
    """A signed merge commit whose second parent is unsigned is refused."""
    base = commit(bare, {"a.yaml": "a: 1\n"}, signer=ssh_key)
    strict = repository(bare, tmp_path, mode=VerifyMode.STRICT, ssh=ssh_key)
    source = GitSource(tmp_path / "state")
    await source.ensure(strict, "main")
    side = commit(bare, {"b.yaml": "b: 1\n"}, branch="side", parents=[base])
    commit(bare, {"b.yaml": "b: 1\n"}, signer=ssh_key, parents=[base, side], message="merge")
    assert (await refused(source, strict)).commit == side


async def test_strict_remembers_the_last_verified_revision_in_the_state_directory(
        tmp_path: Path, bare: Path, ssh_key: SshKey) -> None:
    """A new process on the same state directory walks from the revision verified before it."""
    commit(bare, {"a.yaml": "a: 1\n"}, signer=ssh_key)
    strict = repository(bare, tmp_path, mode=VerifyMode.STRICT, ssh=ssh_key)
    await GitSource(tmp_path / "state").ensure(strict, "main")
    unsigned = commit(bare, {"b.yaml": "b: 1\n"})
    commit(bare, {"c.yaml": "c: 1\n"}, signer=ssh_key)
    assert (await refused(GitSource(tmp_path / "state"), strict)).commit == unsigned
    saved = (tmp_path / "state" / "git" / "verified.json").read_text()
    assert "BEGIN" not in saved
    assert ssh_key.public.split()[1] not in saved


async def test_strict_first_use_without_trailer_checks_the_head_and_says_so(
        tmp_path: Path, bare: Path, ssh_key: SshKey) -> None:
    """With no verified revision and no trailer configured, only the head is checked, and a log says so."""
    commit(bare, {"a.yaml": "a: 1\n"})
    head = commit(bare, {"b.yaml": "b: 1\n"}, signer=ssh_key)
    strict = repository(bare, tmp_path, mode=VerifyMode.STRICT, ssh=ssh_key)
    with capture_logs() as logs:
        assert (await GitSource(tmp_path / "state").ensure(strict, "main")).sha == head
    assert any("only the head was checked" in e["event"] and e["commit"] == head for e in logs)


async def test_strict_first_use_walks_back_to_the_trailer(tmp_path: Path, bare: Path,
                                                           ssh_key: SshKey) -> None:
    """On first use the walk ends at a signed commit with the start trailer; older ones may be unsigned."""
    commit(bare, {"a.yaml": "a: 1\n"})
    commit(bare, {"b.yaml": "b: 1\n"}, signer=ssh_key, message="seal\n\nGitopsd-verified-from: now")
    head = commit(bare, {"c.yaml": "c: 1\n"}, signer=ssh_key)
    strict = repository(bare, tmp_path, mode=VerifyMode.STRICT, ssh=ssh_key, trailer="Gitopsd-verified-from")
    assert (await GitSource(tmp_path / "state").ensure(strict, "main")).sha == head
    unsigned = commit(bare, {"d.yaml": "d: 1\n"})
    commit(bare, {"e.yaml": "e: 1\n"}, signer=ssh_key)
    assert (await refused(GitSource(tmp_path / "state2"), strict)).commit == unsigned


async def test_strict_trailer_on_an_unsigned_commit_does_not_stop_the_walk(
        tmp_path: Path, bare: Path, ssh_key: SshKey) -> None:
    """A start trailer counts only on a signed commit: an unsigned one carrying it is refused."""
    seal = commit(bare, {"a.yaml": "a: 1\n"}, message="seal\n\nGitopsd-verified-from: now")
    commit(bare, {"b.yaml": "b: 1\n"}, signer=ssh_key)
    strict = repository(bare, tmp_path, mode=VerifyMode.STRICT, ssh=ssh_key, trailer="Gitopsd-verified-from")
    assert (await refused(GitSource(tmp_path / "state"), strict)).commit == seal


async def test_tag_mode_verifies_the_annotated_tag(tmp_path: Path, bare: Path, gpg_key: GpgKey,
                                                   stranger: GpgKey) -> None:
    """In tag mode a signed annotated tag resolves; unsigned, foreign, lightweight tags and branches fail."""
    sha = commit(bare, {"a.yaml": "a: 1\n"})
    annotated_tag(bare, "v1.0.0", sha, signer=gpg_key)
    annotated_tag(bare, "v1.0.1", sha, signer=None)
    annotated_tag(bare, "v1.0.2", sha, signer=stranger)
    pygit2.Repository(str(bare)).references.create("refs/tags/light", pygit2.Oid(hex=sha))
    repo = repository(bare, tmp_path, mode=VerifyMode.TAG, gpg=gpg_key)
    source = GitSource(tmp_path / "state")
    assert (await source.ensure(repo, "v1.0.0")).sha == sha
    assert (await refused(source, repo, "v1.0.1")).reason == "not signed"
    assert "not allowed" in (await refused(source, repo, "v1.0.2")).reason
    assert (await refused(source, repo, "light")).reason == "lightweight tag"
    assert (await refused(source, repo, "main")).reason == "not a tag"


async def test_strict_ref_moved_back_still_checks_the_head(tmp_path: Path, bare: Path,
                                                            ssh_key: SshKey) -> None:
    """A ref reset to an older, never-verified unsigned commit is refused, not waved through as history."""
    old = commit(bare, {"a.yaml": "a: 1\n"})
    commit(bare, {"b.yaml": "b: 1\n"}, signer=ssh_key)
    strict = repository(bare, tmp_path, mode=VerifyMode.STRICT, ssh=ssh_key)
    source = GitSource(tmp_path / "state")
    await source.ensure(strict, "main")
    pygit2.Repository(str(bare)).references.create("refs/heads/main", pygit2.Oid(hex=old), force=True)
    assert (await refused(source, strict)).commit == old


async def test_tag_and_strict_modes_over_ssh(tmp_path: Path, git_repos, git_client_key: Path,
                                            git_known_hosts: Path, ssh_key: SshKey) -> None:
    """Over SSH, a signed tag resolves (also from a poll's SHA) and strict mode sees the full history."""
    served = git_repos.new()
    base = commit(served.path, {"a.yaml": "a: 1\n"}, signer=ssh_key)
    annotated_tag(served.path, "v1", base, signer=ssh_key)
    access = {"url": served.ssh_url, "ssh_key_file": str(git_client_key),
              "known_hosts_file": str(git_known_hosts)}
    tagged = dataclasses.replace(repository(served.path, tmp_path, mode=VerifyMode.TAG, ssh=ssh_key),
                                 **access)
    source = GitSource(tmp_path / "state")
    polled = await source.poll(tagged, ["v1"])
    assert (await source.ensure(tagged, "v1", polled["v1"])).sha == base
    assert pygit2.Repository(str(source.cache_path(tagged))).is_shallow
    strict = dataclasses.replace(repository(served.path, tmp_path, mode=VerifyMode.STRICT, ssh=ssh_key),
                                 name="env-strict", **access)
    await source.ensure(strict, "main")
    assert not pygit2.Repository(str(source.cache_path(strict))).is_shallow
    unsigned = commit(served.path, {"b.yaml": "b: 1\n"})
    commit(served.path, {"c.yaml": "c: 1\n"}, signer=ssh_key)
    assert (await refused(source, strict)).commit == unsigned
