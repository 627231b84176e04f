"""Credentials and certificate checks handed to libgit2 for one repository operation.

- SSH: a key pair from ``Repository.ssh_key_file`` (public half from ``<key>.pub``
  when present, else derived by libssh2), or the SSH agent when no key file is
  configured; the user comes from the URL, else ``Repository.username``.
- HTTP(S): ``UserPass(username, token)`` with the token read from
  ``Repository.token_file`` (user from the URL, else ``Repository.username``,
  else ``x-access-token``).
- Local paths need nothing.

Every credential type is offered at most once per operation: libgit2 asks again
after a rejection and would otherwise loop. A rejection raises ``AuthRejected``,
which ``errors`` turns into an "authentication failed" GitError.

``certificate_check`` returns libgit2's own verdict (known_hosts for SSH, the CA
store for HTTPS) and records a rejection; pygit2's default would accept any SSH
host key. The token is kept only in memory and never in any message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
from pygit2.enums import CredentialType

from gitopsd.model import Repository

from .urls import Endpoint

Credential = pygit2.Username | pygit2.UserPass | pygit2.Keypair


class AuthRejected(Exception):
    """The server rejected the offered credentials, or asked for ones we lack."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Callbacks(pygit2.RemoteCallbacks):
    """Remote callbacks for one libgit2 operation on one repository."""

    def __init__(self, repo: Repository, where: Endpoint, token: str = "") -> None:
        super().__init__()
        self.repo = repo
        self.where = where
        self._token = token
        self.offered: set[int] = set()
        self.host_rejected = False

    def __repr__(self) -> str:
        return f"Callbacks({self.repo.name!r})"

    @property
    def user(self) -> str:
        return self.where.user or self.repo.username

    def credentials(self, url: str, username_from_url: str | None,
                    allowed_types: CredentialType) -> Credential:
        if self.where.transport == "ssh":
            return self._ssh(username_from_url or self.user, allowed_types)
        if self.where.transport in ("https", "http"):
            return self._http(username_from_url or self.repo.username, allowed_types)
        raise AuthRejected("the server asked for credentials of a local repository")

    def _once(self, kind: CredentialType, what: str) -> None:
        if int(kind) in self.offered:
            raise AuthRejected(f"the server rejected the {what}")
        self.offered.add(int(kind))

    def _ssh(self, user: str, allowed: CredentialType) -> Credential:
        if allowed & CredentialType.USERNAME and not allowed & CredentialType.SSH_KEY:
            self._once(CredentialType.USERNAME, f"user name {user!r}")
            return pygit2.Username(user)
        if not allowed & CredentialType.SSH_KEY:
            raise AuthRejected("the server offers no public-key authentication")
        key = self.repo.ssh_key_file
        if not key:
            if not os.environ.get("SSH_AUTH_SOCK"):
                raise AuthRejected("no sshKeyFile is configured and no SSH agent is running")
            self._once(CredentialType.SSH_KEY, f"keys of the SSH agent for user {user!r}")
            return pygit2.KeypairFromAgent(user)
        self._once(CredentialType.SSH_KEY, f"key {key} for user {user!r}")
        if not Path(key).is_file():
            raise AuthRejected(f"sshKeyFile {key} does not exist")
        pub = f"{key}.pub"
        return pygit2.Keypair(user, pub if Path(pub).is_file() else None, key, "")

    def _http(self, user: str, allowed: CredentialType) -> Credential:
        if not self._token:
            raise AuthRejected("the server requires authentication and no tokenFile is configured")
        if not allowed & CredentialType.USERPASS_PLAINTEXT:
            raise AuthRejected("the server offers no user/password authentication")
        self._once(CredentialType.USERPASS_PLAINTEXT, "token from tokenFile")
        return pygit2.UserPass(user or "x-access-token", self._token)

    def certificate_check(self, certificate: None, valid: bool, host: bytes) -> bool:
        if not valid:
            self.host_rejected = True
        return bool(valid)


def read_token(repo: Repository) -> str:
    """The token of REPO's tokenFile (first line, stripped), or "" when none is configured."""
    if not repo.token_file:
        return ""
    try:
        text = Path(repo.token_file).read_text()
    except OSError as exc:
        raise AuthRejected(f"tokenFile {repo.token_file} cannot be read ({exc.strerror})") from None
    return text.strip().splitlines()[0].strip() if text.strip() else ""
