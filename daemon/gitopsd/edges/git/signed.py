"""A repository's signature policy applied to a resolved revision, before its tree is read.

``head`` checks the resolved commit, ``tag`` the annotated tag the target
revision names, ``strict`` every commit between the last verified revision of
the (repository, ref) and the new head: a signed merge on top of unsigned
commits is refused. A signed commit carrying the configured start trailer ends
the walk along its line of history. The last verified revision is kept in
memory and in ``<state>/git/verified.json`` (commit ids and a digest of the
policy and its public keys, nothing secret); when it is unknown, the walk goes
back to the trailer, or, with no trailer configured, checks only the head and
logs that it did.

Everything here blocks and runs in a worker thread. It raises
``SignatureInvalid`` and never reads a tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pygit2
import structlog

from gitopsd.errors import SignatureInvalid
from gitopsd.model.signing import VerifyMode, VerifyPolicy, has_trailer

from .verify import PGP_START, SSH_START, Checker, Verdict

__all__ = ["MAX_WALK", "Enforcer", "Ledger", "tag_signature"]

log = structlog.get_logger("gitopsd.git")

MAX_WALK = 10_000  # commits one strict check may verify


def tag_signature(raw: bytes) -> tuple[bytes | None, bytes]:
    """(signature, signed payload) of a raw annotated tag object; the signature ends its message."""
    starts = [i for marker in (PGP_START, SSH_START)
              if (i := raw.rfind(marker)) >= 0 and (i == 0 or raw[i - 1:i] == b"\n")]
    if not starts:
        return None, raw
    at = max(starts)
    return raw[at:], raw[:at]


def fingerprint(policy: VerifyPolicy) -> str:
    """Digest of the policy and the content of its key files: a new key set is a new policy."""
    h = hashlib.sha256(f"{policy.mode}\0{policy.start_trailer}\0".encode())
    for name in (*policy.openpgp_keys, policy.ssh_allowed_signers):
        if not name:
            continue
        try:
            h.update(Path(name).read_bytes())
        except OSError as exc:
            h.update(f"unreadable {exc.errno}".encode())
        h.update(b"\0")
    return h.hexdigest()


class Ledger:
    """The last revision verified in strict mode, per (repository, ref), under a policy digest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, dict[str, str]]] | None = None

    def _load(self) -> dict[str, dict[str, dict[str, str]]]:
        if self._data is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._data = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._data = {}
        return self._data

    def get(self, repo: str, ref: str, policy: str) -> str | None:
        with self._lock:
            entry = self._load().get(repo, {}).get(ref)
        if isinstance(entry, dict) and entry.get("policy") == policy:
            commit = entry.get("commit")
            return commit if isinstance(commit, str) else None
        return None

    def put(self, repo: str, ref: str, policy: str, commit: str) -> None:
        with self._lock:
            data = self._load()
            data.setdefault(repo, {})[ref] = {"commit": commit, "policy": policy}
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
                os.replace(tmp, self.path)
            except OSError as exc:
                log.warning("cannot save the last verified revisions", file=str(self.path),
                            error=exc.strerror or type(exc).__name__)


class Enforcer:
    """Applies policies; remembers objects already verified under a policy digest."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._good: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def enforce(self, repo: str, policy: VerifyPolicy, git: pygit2.Repository, ref: str,
                commit: str, tag: str | None = None) -> None:
        """Raise ``SignatureInvalid`` unless COMMIT (REF of REPO) satisfies POLICY.

        TAG is the object REF names when REF is a tag (mode ``tag`` needs it).
        """
        digest = fingerprint(policy)
        with Checker(policy.openpgp_keys, policy.ssh_allowed_signers) as checker:
            if policy.mode is VerifyMode.TAG:
                self._tag(checker, digest, git, repo, ref, commit, tag)
            elif policy.mode is VerifyMode.HEAD:
                self._commit(checker, digest, git[commit].peel(pygit2.Commit), repo, ref)
            else:
                self._strict(checker, digest, policy, git, repo, ref, commit)

    def _check(self, checker: Checker, digest: str, oid: str, signature: bytes | None,
               payload: bytes) -> Verdict:
        with self._lock:
            if (digest, oid) in self._good:
                return Verdict(True)
        verdict = checker.check(signature, payload)
        if verdict.ok:
            with self._lock:
                self._good.add((digest, oid))
        return verdict

    def _commit(self, checker: Checker, digest: str, c: pygit2.Commit, repo: str, ref: str,
                *, under: str = "") -> None:
        signature, payload = c.gpg_signature
        verdict = self._check(checker, digest, str(c.id), signature, payload or b"")
        if not verdict.ok:
            raise _refused(f"commit {str(c.id)[:12]}", str(c.id), verdict, repo, ref, under)

    def _tag(self, checker: Checker, digest: str, git: pygit2.Repository, repo: str, ref: str,
             commit: str, tag: str | None) -> None:
        if tag is None:
            raise SignatureInvalid(
                f"repository {repo} verifies tags, but targetRevision {ref} is not a tag "
                f"(commit {commit[:12]} refused)", commit=commit, reason="not a tag")
        obj = git.get(tag)
        if not isinstance(obj, pygit2.Tag):
            raise SignatureInvalid(
                f"tag {ref} of repository {repo} is a lightweight tag and carries no signature "
                f"(commit {commit[:12]} refused)", commit=commit, reason="lightweight tag")
        _kind, raw = git.odb.read(obj.id)
        signature, payload = tag_signature(bytes(raw))
        verdict = self._check(checker, digest, str(obj.id), signature, payload)
        if not verdict.ok:
            raise _refused(f"tag {ref} ({str(obj.id)[:12]}, commit {commit[:12]})", str(obj.id),
                           verdict, repo, ref, "")

    def _strict(self, checker: Checker, digest: str, policy: VerifyPolicy, git: pygit2.Repository,
                repo: str, ref: str, commit: str) -> None:
        head = git[commit].peel(pygit2.Commit)
        last = self.ledger.get(repo, ref, digest)
        if last == str(head.id):
            self._commit(checker, digest, head, repo, ref)
            return
        known = last is not None and git.get(last) is not None
        if known and last is not None and git.descendant_of(last, head.id):
            # the ref moved back inside verified history: check the head, keep the mark where it is
            self._commit(checker, digest, head, repo, ref)
            return
        if not known and not policy.start_trailer:
            self._commit(checker, digest, head, repo, ref)
            log.info("strict verification has no earlier verified revision: only the head was checked",
                     repo=repo, ref=ref, commit=str(head.id))
            self.ledger.put(repo, ref, digest, str(head.id))
            return
        stack, seen = [head.id], set()
        while stack:
            oid = stack.pop()
            if oid in seen:
                continue
            seen.add(oid)
            if known and last is not None and (str(oid) == last or git.descendant_of(last, oid)):
                continue
            if len(seen) > MAX_WALK:
                raise SignatureInvalid(
                    f"strict verification of {ref} in repository {repo} would check more than "
                    f"{MAX_WALK} commits; sign a recent commit carrying the "
                    f"{policy.start_trailer or 'start'} trailer",
                    commit=str(head.id), reason="history too long")
            c = git.get(oid)
            if not isinstance(c, pygit2.Commit):
                raise SignatureInvalid(
                    f"strict verification of {ref} in repository {repo} cannot see commit "
                    f"{str(oid)[:12]} (history incomplete)", commit=str(oid), reason="history incomplete")
            self._commit(checker, digest, c, repo, ref,
                         under="" if c.id == head.id else f" under head {str(head.id)[:12]}")
            if not has_trailer(c.message, policy.start_trailer):
                stack.extend(c.parent_ids)
        self.ledger.put(repo, ref, digest, str(head.id))


def _refused(what: str, oid: str, verdict: Verdict, repo: str, ref: str, under: str) -> SignatureInvalid:
    signer = f" (signer: {verdict.signer})" if verdict.signer else ""
    return SignatureInvalid(f"{what} of repository {repo} ({ref}){under} is refused: "
                            f"{verdict.reason}{signer}", commit=oid, signer=verdict.signer,
                            reason=verdict.reason)
