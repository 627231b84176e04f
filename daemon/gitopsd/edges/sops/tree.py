"""Decrypting the values of a SOPS tree and recomputing its MAC.

SOPS keeps keys in clear text and replaces each selected leaf by
``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]``: AES-256-GCM under the file's
data key, with a 32-byte IV and the leaf's mapping-key path joined by ``:``
plus a trailing ``:`` as additional data (list indices are not part of the
path). Which leaves are encrypted follows the file's own filters
(``unencrypted_suffix``, ``encrypted_suffix``, ``unencrypted_regex``,
``encrypted_regex``), evaluated exactly as sops does, so a clear-text value
where the filters demand a ciphertext is refused rather than accepted.

The MAC is SHA-512 over every leaf's clear bytes in document order (nulls
skipped; only encrypted leaves, after a fixed prefix, when
``mac_only_encrypted``), rendered as uppercase hex, and stored encrypted with
``lastmodified`` as additional data.

This module works on plain values and bytes; it reads no files and holds no
keys beyond the call. Error messages name paths (whose keys are clear text in
Git anyway), never values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gitopsd.edges.sops.goyaml import go_timestamp
from gitopsd.errors import DecryptError

# sha256("sops"): hashed first when only encrypted values are covered by the MAC.
MAC_ONLY_ENCRYPTED_PREFIX = hashlib.sha256(b"sops").digest()

_ENC = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]", re.DOTALL)
_GO_ATOI = re.compile(r"[-+]?[0-9]+")
_GO_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_GO_FLOAT_SPECIAL = {"+inf": math.inf, "inf": math.inf, "+infinity": math.inf, "infinity": math.inf,
                     "-inf": -math.inf, "-infinity": -math.inf, "nan": math.nan}
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass(frozen=True)
class Filters:
    """The leaf-selection settings of a SOPS file (comment-based filters are refused upstream)."""

    unencrypted_suffix: str = ""
    encrypted_suffix: str = ""
    unencrypted_regex: re.Pattern[str] | None = None
    encrypted_regex: re.Pattern[str] | None = None
    mac_only_encrypted: bool = False

    def encrypted(self, path: tuple[str, ...]) -> bool:
        """Whether sops encrypts a leaf at PATH (mapping keys from the document root)."""
        result = True
        if self.unencrypted_suffix and any(p.endswith(self.unencrypted_suffix) for p in path):
            result = False
        if self.encrypted_suffix:
            result = any(p.endswith(self.encrypted_suffix) for p in path)
        if self.unencrypted_regex is not None and any(self.unencrypted_regex.search(p) for p in path):
            result = False
        if self.encrypted_regex is not None:
            result = any(self.encrypted_regex.search(p) for p in path)
        return result


def go_format_float(value: float) -> str:
    """``strconv.FormatFloat(value, 'f', -1, 64)``: shortest round-trip digits, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def mac_bytes(value: object) -> bytes:
    """The bytes sops hashes for a clear leaf (its ``ToBytes``)."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return go_format_float(value).encode()
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogatepass")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"no byte form for {type(value).__name__}")


def _b64(text: str, what: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError(f"{where}: {what} is not valid base64") from None


def open_value(token: str, key: bytes, aad: str, *, where: str) -> tuple[Any, bytes]:
    """Decrypt one ``ENC[...]`` token; return the typed value and its MAC bytes.

    An empty token is the empty string (sops never encrypts those).
    """
    if token == "":
        return "", b""
    match = _ENC.match(token)
    if match is None:
        raise DecryptError(f"{where}: value is not in sops' encrypted format")
    data = _b64(match.group(1), "data", where)
    iv = _b64(match.group(2), "iv", where)
    tag = _b64(match.group(3), "tag", where)
    kind = match.group(4)
    if len(tag) != 16 or not 8 <= len(iv) <= 128:
        raise DecryptError(f"{where}: malformed iv or tag")
    try:
        clear = AESGCM(key).decrypt(iv, data + tag, aad.encode())
    except InvalidTag:
        raise DecryptError(f"{where}: authentication failed (wrong data key or tampered value)") from None
    return _typed(clear, kind, where)


def _typed(clear: bytes, kind: str, where: str) -> tuple[Any, bytes]:
    if kind in ("str", "bytes"):
        try:
            return clear.decode("utf-8"), clear
        except UnicodeDecodeError:
            raise DecryptError(f"{where}: decrypted value is not UTF-8 text") from None
    text = clear.decode("ascii", errors="replace")
    if kind == "time":
        stamp = go_timestamp(text, rfc3339_only=True)
        if stamp is None:
            raise DecryptError(f"{where}: decrypted value is not a timestamp")
        return stamp, stamp.encode()
    if kind == "int":
        if not _GO_ATOI.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
            raise DecryptError(f"{where}: decrypted value is not an integer")
        number = int(text)
        return number, str(number).encode()
    if kind == "float":
        value = _parse_go_float(text)
        if value is None:
            raise DecryptError(f"{where}: decrypted value is not a number")
        return value, go_format_float(value).encode()
    if kind == "bool":
        if text in _TRUE:
            return True, b"True"
        if text in _FALSE:
            return False, b"False"
        raise DecryptError(f"{where}: decrypted value is not a boolean")
    if kind == "comment":
        raise DecryptError(f"{where}: an encrypted comment stands where a value should")
    raise DecryptError(f"{where}: unknown value type {kind[:20]!r}")


def _parse_go_float(text: str) -> float | None:
    special = _GO_FLOAT_SPECIAL.get(text.lower())
    if special is not None:
        return special
    if not _GO_FLOAT.fullmatch(text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


Visit = Callable[[object, tuple[str, ...]], object]


def walk(node: object, path: tuple[str, ...], visit: Visit, *, where: str) -> object:
    """Rebuild NODE with every non-null leaf replaced by ``visit(leaf, path)``, in document order."""
    if isinstance(node, Mapping):
        out: dict[str, object] = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise DecryptError(f"{where}: mapping key under {_show(path)} is not a string")
            out[key] = walk(value, (*path, key), visit, where=where)
        return out
    if isinstance(node, list):
        return [walk(item, path, visit, where=where) for item in node]
    if node is None:
        return None
    if isinstance(node, str | int | float | bool):
        return visit(node, path)
    raise DecryptError(f"{where}: value at {_show(path)} has an unsupported type")


def _show(path: tuple[str, ...]) -> str:
    return ":".join(path) or "the document root"


def decrypt_documents(documents: list[dict[str, object]], key: bytes, filters: Filters, *,
                      where: str) -> tuple[list[object], str]:
    """Decrypt DOCUMENTS (the ``sops`` key already removed); return them and their MAC as hex."""
    digest = hashlib.sha512()
    if filters.mac_only_encrypted:
        digest.update(MAC_ONLY_ENCRYPTED_PREFIX)

    def visit(leaf: object, path: tuple[str, ...]) -> object:
        encrypted = filters.encrypted(path)
        if encrypted:
            if not isinstance(leaf, str) or (leaf and not leaf.startswith("ENC[")):
                raise DecryptError(f"{where}: value at {_show(path)} should be encrypted but is not")
            value, hashed = open_value(leaf, key, ":".join(path) + ":", where=f"{where}: {_show(path)}")
        else:
            value, hashed = leaf, mac_bytes(leaf)
        if encrypted or not filters.mac_only_encrypted:
            digest.update(hashed)
        return value

    clear = [walk(doc, (), visit, where=where) for doc in documents]
    return clear, digest.hexdigest().upper()


def check_mac(stored: object, computed: str, key: bytes, lastmodified: object, *, where: str) -> None:
    """Raise unless the stored MAC, opened with ``lastmodified`` as AAD, equals COMPUTED."""
    if not isinstance(stored, str) or not stored:
        raise DecryptError(f"{where}: sops metadata has no MAC")
    value, _ = open_value(stored, key, rfc3339(lastmodified, where=where), where=f"{where}: MAC")
    if not isinstance(value, str) or not hmac.compare_digest(value.encode(), computed.encode()):
        raise DecryptError(f"{where}: MAC mismatch: the file was changed without re-encrypting it")


def rfc3339(value: object, *, where: str) -> str:
    """``lastmodified`` as Go's ``time.Format(time.RFC3339)`` prints it (seconds, Z or ±hh:mm)."""
    if not isinstance(value, str):
        raise DecryptError(f"{where}: sops metadata lastmodified is not a timestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DecryptError(f"{where}: sops metadata lastmodified is not an RFC 3339 timestamp") from None
    offset = moment.utcoffset()
    if offset is None:
        raise DecryptError(f"{where}: sops metadata lastmodified has no time zone")
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if offset == timedelta(0):
        return base + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{base}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
