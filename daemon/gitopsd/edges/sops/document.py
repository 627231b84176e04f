"""Whole SOPS files: recognising one, decrypting it to text, and the engine-facing Decryptor.

A file is SOPS-encrypted when one of its documents (YAML, or one JSON object)
has a top-level ``sops`` mapping with ``mac`` and ``lastmodified``. Decryption
takes the file's text and the age identities and returns the clear text in
the same format (YAML documents or one JSON object), without the ``sops``
key, after checking the MAC. Files whose data key is split across key groups
(Shamir), that have no age recipient, or that select leaves by comments are
refused with a one-line reason.

Nothing here writes clear text to disk except ``Decryptor.decrypt_tree``,
which rewrites files inside a temporary tree that the caller is about to
render and then delete. Messages name files and key paths, never values.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import yaml

from gitopsd.edges.sops import goyaml
from gitopsd.edges.sops.keys import Identity, identities_from_env, key_file_from_env, open_data_key
from gitopsd.edges.sops.tree import Filters, check_mac, decrypt_documents
from gitopsd.edges.telemetry.logging import get_logger
from gitopsd.errors import DecryptError

log = get_logger("gitopsd.edges.sops")

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_OTHER_KEY_TYPES = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "huawei_kms")


def _load(text: str) -> tuple[list[Any], bool] | None:
    """The documents of TEXT and whether it is JSON; None when it is neither YAML nor JSON."""
    if text.lstrip().startswith("{"):
        try:
            return [json.loads(text)], True
        except ValueError:
            pass
    try:
        return [d for d in goyaml.load_all(text) if d is not None], False
    except (yaml.YAMLError, ValueError, RecursionError):
        return None


def _metadata(document: object) -> Mapping[str, Any] | None:
    if isinstance(document, Mapping):
        meta = document.get("sops")
        if isinstance(meta, Mapping) and "mac" in meta and "lastmodified" in meta:
            return meta
    return None


def is_encrypted(text: str) -> bool:
    """Whether TEXT is a SOPS-encrypted YAML or JSON file."""
    if "sops" not in text or "lastmodified" not in text or "mac" not in text:
        return False
    loaded = _load(text)
    return loaded is not None and any(_metadata(d) is not None for d in loaded[0])


def _regex(meta: Mapping[str, Any], field: str, where: str) -> re.Pattern[str] | None:
    value = meta.get(field)
    if not value:
        return None
    try:
        return re.compile(str(value))
    except re.error:
        raise DecryptError(f"{where}: sops metadata {field} is not a regular expression "
                           "gitopsd can evaluate") from None


def _filters(meta: Mapping[str, Any], where: str) -> Filters:
    if meta.get("key_groups") or meta.get("shamir_threshold"):
        raise DecryptError(f"{where}: uses SOPS key groups (Shamir secret sharing), "
                           "which gitopsd does not support; encrypt it for age recipients directly")
    if meta.get("unencrypted_comment_regex") or meta.get("encrypted_comment_regex"):
        raise DecryptError(f"{where}: selects values by comments (encrypted_comment_regex / "
                           "unencrypted_comment_regex), which gitopsd does not support")
    if not meta.get("age"):
        others = [t for t in _OTHER_KEY_TYPES if meta.get(t)]
        what = ", ".join(others) if others else "no key at all"
        raise DecryptError(f"{where}: is encrypted for {what}; gitopsd decrypts age recipients only")
    return Filters(
        unencrypted_suffix=str(meta.get("unencrypted_suffix") or ""),
        encrypted_suffix=str(meta.get("encrypted_suffix") or ""),
        unencrypted_regex=_regex(meta, "unencrypted_regex", where),
        encrypted_regex=_regex(meta, "encrypted_regex", where),
        mac_only_encrypted=meta.get("mac_only_encrypted") is True,
    )


def decrypt(data: bytes | str, identities: Sequence[Identity], *, name: str = "file") -> str:
    """The clear text of the SOPS file DATA, its MAC verified.

    NAME is how errors refer to the file. Raises ``DecryptError`` when the file
    is not SOPS-encrypted, is of an unsupported kind, no identity opens it, or
    its MAC does not match.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptError(f"{name}: not UTF-8 text") from None
    loaded = _load(data)
    if loaded is None:
        raise DecryptError(f"{name}: not valid YAML or JSON")
    documents, is_json = loaded
    meta = next((m for m in map(_metadata, documents) if m is not None), None)
    if meta is None:
        raise DecryptError(f"{name}: not a SOPS-encrypted file")
    filters = _filters(meta, name)
    key = open_data_key(meta.get("age"), identities, where=name)
    bodies: list[dict[str, object]] = []
    for number, document in enumerate(documents, start=1):
        if not isinstance(document, Mapping):
            raise DecryptError(f"{name}: document {number} is not a mapping")
        bodies.append({k: v for k, v in document.items() if k != "sops"})
    clear, mac = decrypt_documents(bodies, key, filters, where=name)
    check_mac(meta.get("mac"), mac, key, meta.get("lastmodified"), where=name)
    if is_json:
        return json.dumps(clear[0], indent=2) + "\n"
    return goyaml.dump_all(clear)


class Decryptor:
    """The engine's DecryptPort: SOPS files decrypted with the management host's age identities.

    Built with ``from_env``, a broken key file does not stop the daemon: the
    problem is logged once and reported for each encrypted file instead, so
    applications without secrets keep syncing.
    """

    def __init__(self, identities: Sequence[Identity] = (), *, problem: str = "") -> None:
        self._identities = tuple(identities)
        self._problem = problem

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Decryptor:
        """Identities from ``$GITOPSD_AGE_KEY_FILE`` or ``$CREDENTIALS_DIRECTORY/age.key``."""
        try:
            identities = identities_from_env(environ)
        except DecryptError as e:
            log.warning("sops.key_file_unusable", reason=str(e))
            return cls(problem=str(e))
        if identities:
            log.info("sops.identities_loaded", count=len(identities),
                     key_file=str(key_file_from_env(environ)))
        return cls(identities)

    @property
    def identity_count(self) -> int:
        return len(self._identities)

    def is_encrypted(self, text: str) -> bool:
        return is_encrypted(text)

    def decrypt(self, text: str, *, name: str) -> str:
        if self._problem:
            raise DecryptError(f"{name}: cannot be decrypted: {self._problem}")
        return decrypt(text, self._identities, name=name)

    async def decrypt_tree(self, root: Path, *, name: str, required: str = ".") -> int:
        """Decrypt in place every SOPS-encrypted manifest file under ROOT; return how many.

        ROOT is a temporary materialised tree that the caller renders and then
        deletes. Files under REQUIRED (relative to ROOT) must decrypt; files
        elsewhere may belong to other applications and other keys, so those
        this host cannot open are left as they are. NAME prefixes file names
        in errors.
        """
        return await anyio.to_thread.run_sync(self._decrypt_tree, root, name, required)

    def _decrypt_tree(self, root: Path, name: str, required: str) -> int:
        inside = (root / required).resolve() if required not in ("", ".") else root.resolve()
        count = 0
        for directory, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                path = Path(directory) / filename
                if not filename.lower().endswith(MANIFEST_SUFFIXES) or path.is_symlink():
                    continue
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if not is_encrypted(text):
                    continue
                relative = path.relative_to(root).as_posix()
                try:
                    clear = self.decrypt(text, name=f"{name}:{relative}")
                except DecryptError:
                    if path.resolve().is_relative_to(inside):
                        raise
                    continue
                path.chmod(0o600)
                path.write_text(clear, encoding="utf-8")
                count += 1
        return count
