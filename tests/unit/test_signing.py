"""Verified commits, the pure parts: gpg status lines, allowed_signers, trailers, the verify block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitopsd.config import parse_fleet
from gitopsd.config.verify import VERIFY_FIELDS
from gitopsd.edges.git.signed import Ledger, fingerprint, tag_signature
from gitopsd.edges.git.verify import parse_gpg_status, principals_of
from gitopsd.engine.status import StatusBoard
from gitopsd.errors import ConfigError
from gitopsd.model import AppInstance, ConditionType, ErrorKind, Outcome, OutcomeKind, Source
from gitopsd.model.signing import (
    SignersProblem,
    VerifyMode,
    VerifyPolicy,
    has_trailer,
    parse_allowed_signers,
)

FPR = "43E8A7689922B35FE1CEAB8B390A7F1604EAC6A4"
GOOD = f"""[GNUPG:] NEWSIG
[GNUPG:] KEY_CONSIDERED {FPR} 0
[GNUPG:] SIG_ID MW0OnDI2IS5qCO+nIZIgkU6UDsA 2026-12-07 1796610741
[GNUPG:] GOODSIG 390A7F1604EAC6A4 Alice <alice@example.test>
[GNUPG:] VALIDSIG {FPR} 2026-12-07 1796610741 0 4 0 22 8 00 {FPR}
[GNUPG:] TRUST_ULTIMATE 0 pgp
"""
BAD = """[GNUPG:] NEWSIG
[GNUPG:] BADSIG 390A7F1604EAC6A4 Alice <alice@example.test>
[GNUPG:] FAILURE gpg-exit 33554433
"""
UNKNOWN = f"""[GNUPG:] NEWSIG
[GNUPG:] ERRSIG 390A7F1604EAC6A4 22 8 00 1796610741 9 {FPR}
[GNUPG:] NO_PUBKEY 390A7F1604EAC6A4
"""
ED = "AAAAC3NzaC1lZDI1NTE5AAAAIGlGZ3C6vSPOmjzCIjqbMvUhlDGbBGwcu2m2ED0R3tX7"


def test_gpg_good_signature_names_the_signer_and_primary_key() -> None:
    """GOODSIG plus VALIDSIG is allowed; the signer shows the user id and primary fingerprint."""
    verdict = parse_gpg_status(GOOD)
    assert verdict.ok
    assert verdict.signer == f"Alice <alice@example.test> (key {FPR})"


def test_gpg_bad_signature_is_refused() -> None:
    """BADSIG refuses, naming the claimed signer."""
    verdict = parse_gpg_status(BAD)
    assert not verdict.ok
    assert verdict.reason.startswith("bad signature")
    assert "Alice" in verdict.signer


def test_gpg_missing_public_key_is_a_key_not_allowed() -> None:
    """ERRSIG with NO_PUBKEY (the key is not in the private keyring) refuses with the key's fingerprint."""
    verdict = parse_gpg_status(UNKNOWN)
    assert (verdict.ok, verdict.reason, verdict.signer) == (
        False, "signed by a key that is not allowed", f"key {FPR}")


@pytest.mark.parametrize(("word", "reason"), [
    ("EXPKEYSIG", "the signing key has expired"), ("REVKEYSIG", "the signing key has been revoked"),
    ("EXPSIG", "the signature has expired")])
def test_gpg_expired_or_revoked_is_refused(word: str, reason: str) -> None:
    """A signature by an expired or revoked key, or an expired signature, is refused even with VALIDSIG."""
    text = GOOD.replace("GOODSIG", word)
    assert parse_gpg_status(text).reason == reason


def test_gpg_goodsig_without_validsig_is_refused() -> None:
    """GOODSIG alone is not enough: VALIDSIG must confirm it."""
    text = "\n".join(line for line in GOOD.splitlines() if "VALIDSIG" not in line)
    assert not parse_gpg_status(text).ok


def test_gpg_every_signature_must_be_good() -> None:
    """With two signatures, one bad one refuses the whole."""
    assert not parse_gpg_status(GOOD + BAD).ok
    assert parse_gpg_status(GOOD + GOOD).ok


@pytest.mark.parametrize("text", ["", "gpg: Signature made today\n", "[GNUPG:] PLAINTEXT 62 0\n"])
def test_gpg_no_status_means_no_signature(text: str) -> None:
    """Human messages and unrelated status lines never make a signature good."""
    assert parse_gpg_status(text).reason == "no OpenPGP signature found"


def test_principals_of_find_principals_output() -> None:
    """find-principals prints one line per matching entry; comma lists are split, duplicates dropped."""
    assert principals_of("alice@example.test\nbob@example.test,alice@example.test\n\n") == [
        "alice@example.test", "bob@example.test"]


def test_allowed_signers_lines_with_options_and_comments() -> None:
    """Principals, quoted options, key type and key are read; comments and blank lines are skipped."""
    text = (f"# team\n\nalice@example.test ssh-ed25519 {ED} laptop\n"
            f'bob@example.test,*@ops.test namespaces="git",valid-after="20240101" ssh-ed25519 {ED}\n')
    alice, bob = parse_allowed_signers(text)
    assert (alice.line, alice.principals, alice.options, alice.key_type) == (
        3, ("alice@example.test",), (), "ssh-ed25519")
    assert bob.principals == ("bob@example.test", "*@ops.test")
    assert bob.options == ('namespaces="git"', 'valid-after="20240101"')


@pytest.mark.parametrize(("line", "message"), [
    ("alice@example.test", "expected principals"),
    (f"alice@example.test ssh-foo {ED}", "unknown key type"),
    ("alice@example.test ssh-ed25519 not*base64", "not base64"),
    (f'alice@example.test namespaces="git ssh-ed25519 {ED}', "unterminated quote"),
])
def test_allowed_signers_bad_line_names_its_number(line: str, message: str) -> None:
    """A malformed line is reported with its 1-based number."""
    with pytest.raises(SignersProblem) as info:
        parse_allowed_signers(f"# first\n{line}\n")
    assert info.value.line == 2
    assert message in str(info.value)


@pytest.mark.parametrize(("message", "found"), [
    ("seal\n\nGitopsd-verified-from: 2024", True),
    ("seal\n\nSigned-off-by: a\ngitopsd-VERIFIED-from: yes", True),
    ("Gitopsd-verified-from: only a subject", False),
    ("seal\n\nGitopsd-verified-from: in the body\n\nSigned-off-by: a", False),
])
def test_trailer_is_looked_for_in_the_last_paragraph(message: str, found: bool) -> None:
    """Only the trailer block (the last paragraph, not the subject) counts; the key is case-insensitive."""
    assert has_trailer(message, "Gitopsd-verified-from") is found


def test_tag_signature_splits_payload_and_signature() -> None:
    """The signature starts at the last armor line that begins a line; the payload is what precedes it."""
    body = b"object abc\ntype commit\ntag v1\ntagger t <t@t> 1 +0000\n\nrelease\n"
    sig = b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"
    assert tag_signature(body + sig) == (sig, body)
    assert tag_signature(body) == (None, body)


def test_ledger_keeps_the_last_verified_revision_per_policy(tmp_path: Path) -> None:
    """A saved revision is found again by a new ledger, but not under another policy digest."""
    Ledger(tmp_path / "verified.json").put("env", "main", "digest-a", "a" * 40)
    again = Ledger(tmp_path / "verified.json")
    assert again.get("env", "main", "digest-a") == "a" * 40
    assert again.get("env", "main", "digest-b") is None
    assert set(json.loads((tmp_path / "verified.json").read_text())["env"]["main"]) == {"commit", "policy"}


def test_policy_digest_follows_the_key_content(tmp_path: Path) -> None:
    """Changing an allowed key's content changes the digest, so strict verification starts afresh."""
    key = tmp_path / "k.asc"
    key.write_text("one")
    policy = VerifyPolicy(mode=VerifyMode.STRICT, openpgp_keys=(str(key),))
    before = fingerprint(policy)
    key.write_text("two")
    assert fingerprint(policy) != before


def test_signature_invalid_outcome_shows_its_own_condition() -> None:
    """A pass that ended in SignatureInvalid shows a SignatureInvalid condition, not SyncError."""
    board = StatusBoard()
    inst = AppInstance("web", "prod", Source("env"))
    row = board.record(inst, Outcome(OutcomeKind.STALLED, "commit 1234 refused: not signed",
                                     error=ErrorKind.SIGNATURE_INVALID), started=0, duration=0)
    assert [(c.type, c.message) for c in row.conditions] == [
        (ConditionType.SIGNATURE_INVALID, "commit 1234 refused: not signed")]


# -- the fleet file's verify block ----------------------------------------------------------------


def fleet(tmp_path: Path, verify: str) -> str:
    text = ("fleet: f\nrepositories:\n  - name: env\n    url: /srv/env.git\n"
            f"    verify:\n{verify}")
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    return str(path)


def issues(path: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_fleet(Path(path).read_text(), path)
    return [str(i) for i in info.value.issues]


def test_verify_block_becomes_a_policy_with_resolved_files(tmp_path: Path) -> None:
    """Mode, key files (relative to the fleet file) and trailer are read into the repository's policy."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "a.asc").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    (tmp_path / "signers").write_text(f"a@example.test ssh-ed25519 {ED}\n")
    path = fleet(tmp_path, "      mode: strict\n      openpgpKeys: [keys/a.asc]\n"
                 "      sshAllowedSigners: signers\n      startTrailer: 'Gitopsd-verified-from:'\n")
    repo = parse_fleet(Path(path).read_text(), path).repositories[0]
    assert repo.verify == VerifyPolicy(VerifyMode.STRICT, (str(tmp_path / "keys" / "a.asc"),),
                                       str(tmp_path / "signers"), "Gitopsd-verified-from")


def test_verify_errors_name_file_and_line(tmp_path: Path) -> None:
    """An unknown mode, a missing key file and a trailer outside strict mode are reported at their lines."""
    path = fleet(tmp_path, "      mode: always\n      openpgpKeys: [missing.asc]\n"
                 "      startTrailer: Seal\n")
    found = issues(path)
    assert f"{path}:6: repositories[0].verify.mode: must be one of head, strict, tag" in found
    assert any(i.startswith(f"{path}:7: repositories[0].verify.openpgpKeys[0]: cannot read") for i in found)
    assert f"{path}:8: repositories[0].verify.startTrailer: applies to mode strict only" in found


def test_verify_without_keys_is_an_error(tmp_path: Path) -> None:
    """A verify block must allow at least one key."""
    path = fleet(tmp_path, "      mode: head\n")
    assert issues(path) == [f"{path}:6: repositories[0].verify: names no keys: give openpgpKeys, "
                            "sshAllowedSigners or both"]


def test_bad_allowed_signers_line_is_reported_in_that_file(tmp_path: Path) -> None:
    """A malformed allowed_signers line is reported at its own file and line, and at the fleet field."""
    (tmp_path / "signers").write_text(f"# ok\na@example.test ssh-ed25519 {ED}\nb@example.test\n")
    (tmp_path / "k.asc").write_text("not a key")
    path = fleet(tmp_path, "      sshAllowedSigners: signers\n      openpgpKeys: [k.asc]\n")
    found = issues(path)
    assert any(i.startswith(f"{tmp_path / 'signers'}:3: expected principals") for i in found)
    assert f"{path}:6: repositories[0].verify.sshAllowedSigners: '{tmp_path / 'signers'}' has a " \
           "malformed line 3" in found
    assert any(i.startswith(f"{path}:7: repositories[0].verify.openpgpKeys[0]:") and "no armored" in i
               for i in found)


def test_schema_lists_the_verify_fields() -> None:
    """The fleet schema's verify object names exactly the fields the loader reads."""
    schema = json.loads((Path(__file__).parents[2] / "config" / "fleet.schema.json").read_text())
    assert set(schema["$defs"]["verify"]["properties"]) == set(VERIFY_FIELDS)
    assert "verify" in schema["$defs"]["repository"]["properties"]
