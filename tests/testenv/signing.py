"""Throwaway signing keys and signed Git objects for tests.

``GpgKey`` makes an OpenPGP key with ``gpg --batch --quick-gen-key`` in its own
temporary GNUPGHOME; ``SshKey`` an ed25519 key with ``ssh-keygen``. Both sign
bytes the way Git does (``gpg --detach-sign --armor``, ``ssh-keygen -Y sign
-n git``). ``commit`` writes a commit, signed or not, straight into a
repository with pygit2; ``annotated_tag`` an annotated tag with its signature
appended to the message, as ``git tag -s`` does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pygit2
import pytest
from pygit2.enums import ObjectType

_SIG = pygit2.Signature("gitopsd tests", "tests@gitopsd.invalid", 1_700_000_000, 0)


def need_gpg() -> None:
    """Skip the calling test when gpg is not installed (``make test`` installs it)."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed")


class Signer(Protocol):
    def sign(self, payload: bytes) -> bytes: ...


class GpgKey:
    """An OpenPGP signing key in a private GNUPGHOME under DIRECTORY."""

    def __init__(self, directory: Path, uid: str) -> None:
        self.home = directory / "gnupg"
        self.home.mkdir(mode=0o700, parents=True)
        self.uid = uid
        self._gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
        listing = self._gpg("--with-colons", "--list-keys", uid).stdout.decode()
        self.fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                                if line.startswith("fpr:"))

    def _gpg(self, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        return subprocess.run(["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback", *args],
                              input=stdin, capture_output=True, env=env, check=True, timeout=60)

    def export(self, path: Path) -> Path:
        """Write the armored public key to PATH."""
        path.write_bytes(self._gpg("--armor", "--export", self.fingerprint).stdout)
        return path

    def sign(self, payload: bytes) -> bytes:
        return self._gpg("--armor", "--detach-sign", "--local-user", self.fingerprint,
                         "--passphrase", "", stdin=payload).stdout

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": str(self.home)},
                       capture_output=True, check=False)


class SshKey:
    """An ed25519 SSH key under DIRECTORY."""

    def __init__(self, directory: Path, name: str = "id_ed25519") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.key = directory / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(self.key)],
                       check=True, capture_output=True, timeout=30)
        self.public = (directory / f"{name}.pub").read_text().strip()

    def allowed_line(self, principal: str) -> str:
        """This key's line for an allowed_signers file."""
        key_type, key = self.public.split()[:2]
        return f'{principal} namespaces="git" {key_type} {key}'

    def sign(self, payload: bytes) -> bytes:
        data = self.directory / "payload"
        data.write_bytes(payload)
        subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(self.key), str(data)],
                       check=True, capture_output=True, timeout=30)
        sig = self.directory / "payload.sig"
        out = sig.read_bytes()
        sig.unlink()
        return out


def commit(path: Path, files: Mapping[str, str], *, signer: Signer | None = None,
           message: str = "update", branch: str = "main", parents: list[str] | None = None,
           tamper: bool = False) -> str:
    """Commit FILES (added to BRANCH's tree) onto BRANCH of the repository at PATH; return its SHA.

    ``tamper`` signs the commit and then changes its message, keeping the signature.
    """
    repo = pygit2.Repository(str(path))
    ref = repo.references.get(f"refs/heads/{branch}")
    if parents is None:
        parents = [str(ref.target)] if ref is not None else []
    base = repo[pygit2.Oid(hex=parents[0])].peel(pygit2.Commit).tree if parents else None
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    for name, text in files.items():
        assert "/" not in name, "top-level files only"
        builder.insert(name, repo.create_blob(text.encode()), pygit2.GIT_FILEMODE_BLOB)
    tree = builder.write()
    content = repo.create_commit_string(_SIG, _SIG, message + "\n", tree,
                                        [pygit2.Oid(hex=p) for p in parents])
    if signer is None:
        oid = repo.odb.write(ObjectType.COMMIT, content.encode())
    else:
        signature = signer.sign(content.encode()).decode()
        if tamper:
            content = content.replace(message, message + " (changed after signing)")
        oid = repo.create_commit_with_signature(content, signature, "gpgsig")
    repo.references.create(f"refs/heads/{branch}", oid, force=True)
    return str(oid)


def annotated_tag(path: Path, name: str, target: str, *, signer: Signer | None) -> str:
    """Create annotated tag NAME at commit TARGET, signed by SIGNER when given; return its id."""
    repo = pygit2.Repository(str(path))
    body = (f"object {target}\ntype commit\ntag {name}\n"
            f"tagger {_SIG.name} <{_SIG.email}> {_SIG.time} +0000\n\nrelease {name}\n").encode()
    if signer is not None:
        body += signer.sign(body)
    oid = repo.odb.write(ObjectType.TAG, body)
    repo.references.create(f"refs/tags/{name}", oid, force=True)
    return str(oid)
