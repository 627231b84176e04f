"""age identities: where gitopsd finds them, how they are read, how they open a data key.

The key file is ``$GITOPSD_AGE_KEY_FILE``, else ``$CREDENTIALS_DIRECTORY/age.key``
(systemd's ``LoadCredential=age.key:/path``). It holds ``AGE-SECRET-KEY-1…``
lines with ``#`` comments, as ``age-keygen`` writes them, or one unencrypted
OpenSSH private key (ed25519 or RSA). Every secret line is registered with the
log scrubber the moment it is read, so no log line can ever carry it.

A SOPS file's data key is an armored age file per recipient in its ``sops.age``
list; any one identity that matches one recipient opens it.

This module never writes key material anywhere and never puts it in an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyrage

from gitopsd.edges.telemetry.logging import register_secret
from gitopsd.errors import DecryptError

KEY_FILE_ENV = "GITOPSD_AGE_KEY_FILE"
CREDENTIAL_NAME = "age.key"
DATA_KEY_SIZE = 32

Identity = Any  # pyrage.x25519.Identity | pyrage.ssh.Identity (the extension ships no stubs)


def key_file_from_env(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$GITOPSD_AGE_KEY_FILE``, else ``$CREDENTIALS_DIRECTORY/age.key`` if it exists, else None."""
    env = os.environ if environ is None else environ
    explicit = env.get(KEY_FILE_ENV)
    if explicit:
        return Path(explicit)
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if credentials:
        candidate = Path(credentials.split(":")[0]) / CREDENTIAL_NAME
        if candidate.is_file():
            return candidate
    return None


def parse_identities(text: str, *, source: str = "age key file") -> tuple[Identity, ...]:
    """The identities in TEXT (a key file's content). Raises ``DecryptError`` naming the line."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            return (pyrage.ssh.Identity.from_buffer(stripped.encode()),)
        except (pyrage.IdentityError, ValueError):
            raise DecryptError(f"{source}: not a usable SSH private key "
                               "(passphrase-protected keys are not supported)") from None
    identities = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("AGE-SECRET-KEY-1"):
            kind = "a plugin identity" if line.startswith("AGE-PLUGIN-") else "not an X25519 age identity"
            raise DecryptError(f"{source}: line {number} is {kind}; only AGE-SECRET-KEY-1 lines "
                               "and OpenSSH keys are supported")
        try:
            identities.append(pyrage.x25519.Identity.from_str(line))
        except (pyrage.IdentityError, ValueError):
            raise DecryptError(f"{source}: line {number} is not a valid age identity") from None
    if not identities:
        raise DecryptError(f"{source}: holds no age identity")
    return tuple(identities)


def register_key_material(text: str) -> None:
    """Make the whole key file, and each of its non-comment lines, unloggable."""
    register_secret(text)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and not line.startswith("-----"):
            register_secret(line)


def read_key_file(path: Path) -> tuple[Identity, ...]:
    """Read and register the key file at PATH; raise ``DecryptError`` if it is unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DecryptError(f"cannot read age key file {path}: {e.strerror or type(e).__name__}") from None
    except UnicodeDecodeError:
        raise DecryptError(f"age key file {path} is not UTF-8 text") from None
    register_key_material(text)
    return parse_identities(text, source=f"age key file {path}")


def identities_from_env(environ: Mapping[str, str] | None = None) -> tuple[Identity, ...]:
    """The identities of the key file named by the environment; empty when none is configured.

    Raises ``DecryptError`` when a key file is named but cannot be read or parsed.
    """
    path = key_file_from_env(environ)
    return () if path is None else read_key_file(path)


def open_data_key(entries: object, identities: Sequence[Identity], *, where: str) -> bytes:
    """The 32-byte data key from a file's ``sops.age`` list, opened with any matching identity."""
    if not isinstance(entries, list) or not entries:
        raise DecryptError(f"{where}: has no age recipients")
    recipients = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("enc"), str):
            raise DecryptError(f"{where}: malformed sops.age entry")
        recipient = entry.get("recipient")
        recipients.append(recipient if isinstance(recipient, str) else "?")
        if not identities:
            continue
        try:
            key = pyrage.decrypt(entry["enc"].encode(), list(identities))
        except pyrage.DecryptError:
            continue
        if len(key) != DATA_KEY_SIZE:
            raise DecryptError(f"{where}: the age-encrypted data key has the wrong size")
        return bytes(key)
    shown = ", ".join(recipients[:3]) + (f" and {len(recipients) - 3} more" if len(recipients) > 3 else "")
    if not identities:
        raise DecryptError(f"{where}: is SOPS-encrypted but no age key is configured "
                           f"(set ${KEY_FILE_ENV} or LoadCredential={CREDENTIAL_NAME}:…); "
                           f"recipients: {shown}")
    raise DecryptError(f"{where}: none of the {len(identities)} configured age identities "
                       f"matches its recipients ({shown})")
