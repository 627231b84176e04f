"""Commit-signature policy values and the ``allowed_signers`` file format.

A repository's ``verify`` block becomes a ``VerifyPolicy``; the Git edge
enforces it. The ``allowed_signers`` parser lives here, as pure text handling,
so that the fleet-file check (``gitopsd check-config``) and the Git edge read
the file the same way. Nothing here runs a verifier or opens a file.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["AllowedSigner", "SignersProblem", "VerifyMode", "VerifyPolicy",
           "has_trailer", "parse_allowed_signers"]


class VerifyMode(enum.StrEnum):
    """What must be signed: the resolved commit, every new commit, or the annotated tag."""

    HEAD = "head"
    STRICT = "strict"
    TAG = "tag"


@dataclass(frozen=True)
class VerifyPolicy:
    """Which keys may sign a repository's revisions, and how much history is checked.

    ``openpgp_keys`` are armored public key files and ``ssh_allowed_signers`` an
    OpenSSH ``allowed_signers`` file, both as resolved paths; ``start_trailer``
    is the trailer key (without ``:``) whose presence on a signed commit ends a
    strict walk.
    """

    mode: VerifyMode = VerifyMode.HEAD
    openpgp_keys: tuple[str, ...] = ()
    ssh_allowed_signers: str = ""
    start_trailer: str = ""


@dataclass(frozen=True)
class AllowedSigner:
    """One line of an ``allowed_signers`` file."""

    line: int
    principals: tuple[str, ...]
    options: tuple[str, ...]
    key_type: str
    key: str


class SignersProblem(ValueError):
    """A malformed ``allowed_signers`` line; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss")
_OPTION = re.compile(r'[A-Za-z-]+(="(?:[^"\\]|\\.)*")?')
_TYPE_LIKE = re.compile(r"(ssh|ecdsa|sk)-[a-z0-9@.-]+$")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _split(text: str) -> list[str]:
    """Whitespace-separated words, double-quoted spans kept whole (ssh's own rule)."""
    words: list[str] = []
    word, quoted = "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch.isspace() and not quoted:
            if word:
                words.append(word)
            word = ""
        else:
            word += ch
    if quoted:
        raise ValueError("unterminated quote")
    if word:
        words.append(word)
    return words


def parse_allowed_signers(text: str) -> tuple[AllowedSigner, ...]:
    """The entries of an ``allowed_signers`` file; raises ``SignersProblem`` at the first bad line.

    Format (ssh-keygen(1), ALLOWED SIGNERS): ``principals [options] keytype base64-key [comment]``,
    principals comma-separated (patterns allowed), options comma-separated; ``#`` starts a
    comment line.
    """
    out: list[AllowedSigner] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = _split(line)
        except ValueError as exc:
            raise SignersProblem(number, str(exc)) from None
        if len(words) < 3:
            raise SignersProblem(number, "expected principals, optional options, key type and key")
        principals = tuple(p for p in words[0].strip('"').split(",") if p)
        if not principals:
            raise SignersProblem(number, "no principal named")
        at = 1
        options: tuple[str, ...] = ()
        if words[1] not in KEY_TYPES and not _TYPE_LIKE.match(words[1]):
            options = tuple(o for o in words[1].split(",") if o)
            bad = [o for o in options if not _OPTION.fullmatch(o)]
            if bad:
                raise SignersProblem(number, f"malformed option {bad[0]!r}")
            at = 2
        if len(words) <= at + 1:
            raise SignersProblem(number, "missing key type or key")
        key_type, key = words[at], words[at + 1]
        if key_type not in KEY_TYPES:
            raise SignersProblem(number, f"unknown key type {key_type!r}")
        if not _BASE64.fullmatch(key):
            raise SignersProblem(number, "the key is not base64")
        out.append(AllowedSigner(number, principals, options, key_type, key))
    return tuple(out)


def has_trailer(message: str, key: str) -> bool:
    """Whether commit MESSAGE's last paragraph holds a ``KEY:`` trailer (key case-insensitive)."""
    if not key:
        return False
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return False
    want = key.lower() + ":"
    return any(line.strip().lower().startswith(want) for line in paragraphs[-1].splitlines())
