"""The SOPS edge: secrets kept encrypted in Git, decrypted only on the management host.

SOPS files encrypted for age recipients are decrypted in memory right before
their manifests are parsed, with the identities of the host's age key file
(``$GITOPSD_AGE_KEY_FILE``, else systemd's ``$CREDENTIALS_DIRECTORY/age.key``).
The MAC is always verified; there is no switch to skip it. Sealed Secrets need
nothing from here: they are ordinary custom resources.

This package turns encrypted text into clear text; it never logs, stores or
returns key material, and it knows nothing about Kubernetes objects.
"""

from gitopsd.edges.sops.document import Decryptor, decrypt, is_encrypted
from gitopsd.edges.sops.keys import (
    CREDENTIAL_NAME,
    KEY_FILE_ENV,
    identities_from_env,
    key_file_from_env,
    parse_identities,
    read_key_file,
)

__all__ = [
    "CREDENTIAL_NAME",
    "KEY_FILE_ENV",
    "Decryptor",
    "decrypt",
    "identities_from_env",
    "is_encrypted",
    "key_file_from_env",
    "parse_identities",
    "read_key_file",
]
