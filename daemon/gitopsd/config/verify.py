"""A repository's ``verify`` block: which keys may sign the revisions gitopsd deploys.

```yaml
verify:
  mode: strict                     # head (default) | strict | tag
  openpgpKeys: [keys/release.asc]  # armored OpenPGP public keys
  sshAllowedSigners: keys/allowed_signers
  startTrailer: Gitopsd-verified-from   # strict only: a signed commit with it ends the walk
```

File names are relative to the fleet file. The key files are read here (they
are public keys) so that a missing, unreadable or malformed one is a fleet-file
error; a bad ``allowed_signers`` line is reported at its own file and line.
This module never runs a verifier and never reads a private key.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from yaml.nodes import Node

from gitopsd.config.reader import Reader
from gitopsd.errors import ConfigIssue
from gitopsd.model.signing import SignersProblem, VerifyMode, VerifyPolicy, parse_allowed_signers

__all__ = ["VERIFY_FIELDS", "read_verify"]

VERIFY_FIELDS = ("mode", "openpgpKeys", "sshAllowedSigners", "startTrailer")
PGP_ARMOR = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
_TRAILER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def _resolve(base: Path, name: str) -> str:
    path = Path(name).expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def _read(r: Reader, node: Node, path: str, file: str, what: str) -> str | None:
    try:
        return Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        r.issue(node, path, f"cannot read {what} '{file}': {exc.strerror or type(exc).__name__}")
    except UnicodeDecodeError:
        r.issue(node, path, f"{what} '{file}' is not UTF-8 text")
    return None


def read_verify(r: Reader, node: Node, p: str, base: Path, *, check: bool = True) -> VerifyPolicy | None:
    """The policy of the ``verify`` block NODE at field path P (``base``: the fleet file's directory).

    With ``check`` unset, the key files are not opened.
    """
    f = r.mapping(node, p, VERIFY_FIELDS)
    if f is None:
        return None
    mode = VerifyMode.HEAD
    if "mode" in f:
        word = r.string(f["mode"], f"{p}.mode")
        if word is not None:
            try:
                mode = VerifyMode(word)
            except ValueError:
                r.issue(f["mode"], f"{p}.mode", "must be one of " + ", ".join(m.value for m in VerifyMode))
    keys: list[str] = []
    if "openpgpKeys" in f:
        for i, item in enumerate(r.sequence(f["openpgpKeys"], f"{p}.openpgpKeys") or []):
            name = r.string(item, f"{p}.openpgpKeys[{i}]")
            if not name:
                continue
            file = _resolve(base, name)
            keys.append(file)
            if not check:
                continue
            text = _read(r, item, f"{p}.openpgpKeys[{i}]", file, "OpenPGP key file")
            if text is not None and PGP_ARMOR not in text:
                r.issue(item, f"{p}.openpgpKeys[{i}]",
                        f"'{file}' holds no armored OpenPGP public key ({PGP_ARMOR})")
    signers = ""
    if "sshAllowedSigners" in f:
        name = r.string(f["sshAllowedSigners"], f"{p}.sshAllowedSigners")
        if name:
            signers = _resolve(base, name)
            text = None if not check else _read(r, f["sshAllowedSigners"], f"{p}.sshAllowedSigners", signers,
                         "allowed signers file")
            if text is not None:
                _check_signers(r, f["sshAllowedSigners"], f"{p}.sshAllowedSigners", signers, text)
    trailer = ""
    if "startTrailer" in f:
        trailer = (r.string(f["startTrailer"], f"{p}.startTrailer") or "").strip().rstrip(":")
        if trailer and not _TRAILER.fullmatch(trailer):
            r.issue(f["startTrailer"], f"{p}.startTrailer",
                    "must be a trailer key such as Gitopsd-verified-from (letters, digits, '-')")
        if mode is not VerifyMode.STRICT:
            r.issue(f["startTrailer"], f"{p}.startTrailer", "applies to mode strict only")
    if keys and check and shutil.which("gpg") is None:
        r.issue(f["openpgpKeys"], f"{p}.openpgpKeys",
                "gpg is not installed on this host (Debian package gpg): OpenPGP signatures cannot be "
                "verified, so every revision would be refused")
    if not keys and not signers:
        r.issue(node, p, "names no keys: give openpgpKeys, sshAllowedSigners or both")
    return VerifyPolicy(mode=mode, openpgp_keys=tuple(keys), ssh_allowed_signers=signers,
                        start_trailer=trailer)


def _check_signers(r: Reader, node: Node, path: str, file: str, text: str) -> None:
    try:
        entries = parse_allowed_signers(text)
    except SignersProblem as exc:
        r.log.add(ConfigIssue(file, exc.line, "", str(exc)))
        r.issue(node, path, f"'{file}' has a malformed line {exc.line}")
        return
    if not entries:
        r.issue(node, path, f"'{file}' names no signer")
