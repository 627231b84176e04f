"""Secrets in Git: plaintext ``Secret`` objects versus encrypted ones.

A ``v1 Secret`` with ``data`` or ``stringData`` is plaintext (base64 is an
encoding, not encryption) unless its document is SOPS-encrypted, which SOPS
marks with a top-level ``sops`` map holding the MAC and the key groups.
SealedSecrets and other kinds are not Secrets and are not looked at. No value
of a Secret is ever read beyond checking that it is there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SOPS_KEY_SOURCES = ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "key_groups")


def is_sops_encrypted(body: Mapping[str, Any]) -> bool:
    """Whether BODY carries SOPS metadata: a top-level ``sops`` map with ``mac`` and a key source."""
    meta = body.get("sops")
    if not isinstance(meta, Mapping) or not meta.get("mac"):
        return False
    return any(meta.get(source) for source in SOPS_KEY_SOURCES)


def plaintext_fields(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The non-empty ``data``/``stringData`` fields of a plaintext core Secret, else ()."""
    if body.get("apiVersion") != "v1" or body.get("kind") != "Secret" or is_sops_encrypted(body):
        return ()
    return tuple(name for name in ("data", "stringData")
                 if isinstance(body.get(name), Mapping) and body[name])
