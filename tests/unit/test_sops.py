"""SOPS decryption against files made by the real sops binary with real age keys.

The oracle is sops itself: every file is encrypted by ``sops encrypt`` and the
decryptor's output must equal what ``sops decrypt`` prints for the same file.
Tampered files, wrong keys and unsupported kinds must fail with a message that
names the file and never carries a clear value.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from gitopsd.edges import binaries
from gitopsd.edges.sops import (
    Decryptor,
    decrypt,
    identities_from_env,
    is_encrypted,
    key_file_from_env,
    parse_identities,
    read_key_file,
)
from gitopsd.edges.sops.goyaml import dump_all, load_all, resolve_plain
from gitopsd.edges.sops.tree import go_format_float, rfc3339
from gitopsd.edges.telemetry import logging as tlog
from gitopsd.errors import DecryptError


@dataclass(frozen=True)
class AgeKey:
    """An age key pair made by age-keygen, with the key file it wrote."""

    identity: str
    recipient: str
    file: Path


class SopsKit:
    """Runs the real sops and age-keygen binaries in a private working directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.sops = binaries.find("sops")
        self.keygen = binaries.find("age-keygen")
        self._n = 0
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
                    "SOPS_DISABLE_VERSION_CHECK": "1"}

    def _path(self, suffix: str) -> Path:
        self._n += 1
        return self.workdir / f"f{self._n}{suffix}"

    def key(self) -> AgeKey:
        """A fresh age key pair."""
        file = self._path(".key")
        subprocess.run([self.keygen, "-o", str(file)], check=True, capture_output=True, env=self.env)
        text = file.read_text()
        identity = next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-1"))
        recipient = re.search(r"public key: (age1\w+)", text)
        assert recipient is not None
        return AgeKey(identity, recipient.group(1), file)

    def encrypt(self, text: str, recipients: Sequence[str], *, fmt: str = "yaml",
                args: Sequence[str] = (), rule: dict[str, Any] | None = None) -> str:
        """``sops encrypt`` TEXT for RECIPIENTS, or by a creation RULE (settings without flags)."""
        source = self._path(f".{fmt}")
        source.write_text(text)
        cmd = [self.sops]
        if rule is not None:
            config = self._path(".sops.yaml")
            keys = {} if "key_groups" in rule else {"age": ",".join(recipients)}
            config.write_text(yaml.safe_dump({"creation_rules": [{**rule, **keys}]}))
            cmd += ["--config", str(config), "encrypt"]
        else:
            cmd += ["encrypt", "--age", ",".join(recipients)]
        cmd += ["--input-type", fmt, "--output-type", fmt, *args, str(source)]
        result = subprocess.run(cmd, check=True, capture_output=True, text=True, env=self.env,
                                cwd=self.workdir)
        return result.stdout

    def decrypt(self, text: str, key: AgeKey, *, fmt: str = "yaml") -> str:
        """``sops decrypt`` TEXT with KEY: the oracle the decryptor is held to."""
        source = self._path(f".{fmt}")
        source.write_text(text)
        result = subprocess.run(
            [self.sops, "decrypt", "--input-type", fmt, "--output-type", fmt, str(source)],
            check=True, capture_output=True, text=True,
            env={**self.env, "SOPS_AGE_KEY_FILE": str(key.file)}, cwd=self.workdir)
        return result.stdout


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> SopsKit:
    """The sops toolkit in a module-wide scratch directory."""
    return SopsKit(tmp_path_factory.mktemp("sops"))


@pytest.fixture(scope="module")
def key(kit: SopsKit) -> AgeKey:
    """The age key most files here are encrypted for."""
    return kit.key()


@pytest.fixture(scope="module")
def other_key(kit: SopsKit) -> AgeKey:
    """A second age key, for wrong-key and multi-recipient cases."""
    return kit.key()


@pytest.fixture
def scrubbed() -> Any:
    """Forget registered log secrets after the test."""
    yield
    tlog.clear_secrets()


SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
  labels:
    tier: backend
type: Opaque
stringData:
  password: "correct horse battery staple"
  multiline: |
    line one
    line two
  unicode: "pässwörd ✓"
  yes_word: "yes"
  colon: "a: b"
data:
  token: c2VjcmV0LXRva2Vu
"""

TYPED = """\
string: text
integer: 42
negative: -7
big: 9007199254740993
float: 1.5
small: 0.000001
large: 1.0e+20
bool_true: true
bool_false: false
empty: ""
nothing: null
nested:
  deeper:
    list: [a, 1, 2.5, true, {inner: x}, [nested, list]]
date_like: "2024-01-01"
when: 2024-05-06T07:08:09.123Z
"""

TRICKY_CLEAR = """\
mode_unencrypted: 0644
octal_unencrypted: 0o17
hex_unencrypted: 0x1F
under_unencrypted: 1_000
exp_unencrypted: 1e5
dot_unencrypted: .5
word_unencrypted: on
date_unencrypted: 2024-01-01
time_unencrypted: 2001-12-14t21:59:43.10-05:00
tilde_unencrypted: ~
inf_unencrypted: .inf
secret: hidden-value
"""

CASES: dict[str, tuple[str, str, Sequence[str] | dict[str, Any]]] = {
    "secret-default": (SECRET, "yaml", ()),
    "secret-encrypted-regex": (SECRET, "yaml", ("--encrypted-regex", "^(data|stringData)$")),
    "typed-default": (TYPED, "yaml", ()),
    "typed-unencrypted-suffix": (TYPED.replace("float:", "float_clear:").replace("nested:", "nested_clear:"),
                                 "yaml", ("--unencrypted-suffix", "_clear")),
    "typed-encrypted-suffix": (TYPED.replace("integer:", "integer_secret:"), "yaml",
                               ("--encrypted-suffix", "_secret")),
    "typed-unencrypted-regex": (TYPED, "yaml", ("--unencrypted-regex", "^(nested|float)$")),
    "typed-mac-only-encrypted": (TYPED, "yaml", {"encrypted_regex": "^(string|deeper)$",
                                                 "mac_only_encrypted": True}),
    "tricky-clear-scalars": (TRICKY_CLEAR, "yaml", ()),
    "multi-document": (SECRET + "---\n" + TYPED + "---\nthird: doc\n", "yaml", ()),
    "json": (json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "j"},
                         "stringData": {"a": "b", "n": 1, "f": 1.0, "t": True, "z": None,
                                        "l": ["x", 2]}}), "json", ()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_decrypts_like_sops(kit: SopsKit, key: AgeKey, case: str) -> None:
    """Files sops encrypted (every value type, filter and format) decrypt to what sops decrypt prints."""
    plain, fmt, options = CASES[case]
    if isinstance(options, dict):
        encrypted = kit.encrypt(plain, [key.recipient], fmt=fmt, rule=options)
        assert "mac_only_encrypted: true" in encrypted
    else:
        encrypted = kit.encrypt(plain, [key.recipient], fmt=fmt, args=options)
    assert is_encrypted(encrypted)
    ours = decrypt(encrypted, parse_identities(key.identity), name=f"{case}.{fmt}")
    expected = kit.decrypt(encrypted, key, fmt=fmt)
    if fmt == "json":
        docs = [json.loads(ours)]
        assert docs == [json.loads(expected)]
    else:
        docs = _docs(ours)
        assert docs == _docs(expected)
        # A YAML 1.1 reader (PyYAML's safe loader) sees the same values.
        assert list(yaml.safe_load_all(ours)) == docs
    assert all("sops" not in doc for doc in docs)


def _docs(text: str) -> list[Any]:
    return [_nan_free(d) for d in load_all(text) if d is not None]


def _nan_free(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _nan_free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_free(v) for v in value]
    return value


def test_clear_scalars_keep_go_typing(kit: SopsKit, key: AgeKey) -> None:
    """Unencrypted leaves keep yaml.v3's types: octal, hex, underscores, dates and ``on``."""
    encrypted = kit.encrypt(TRICKY_CLEAR, [key.recipient])
    doc = _docs(decrypt(encrypted, [*parse_identities(key.identity)], name="tricky.yaml"))[0]
    assert doc["mode_unencrypted"] == 0o644
    assert doc["octal_unencrypted"] == 0o17
    assert doc["hex_unencrypted"] == 31
    assert doc["under_unencrypted"] == 1000
    assert doc["exp_unencrypted"] == 1e5
    assert doc["dot_unencrypted"] == 0.5
    assert doc["word_unencrypted"] == "on"
    assert doc["date_unencrypted"] == "2024-01-01T00:00:00Z"
    assert doc["time_unencrypted"] == "2001-12-14T21:59:43.1-05:00"
    assert doc["tilde_unencrypted"] is None
    assert doc["inf_unencrypted"] == math.inf
    assert doc["secret"] == "hidden-value"


def test_any_recipient_opens_the_file(kit: SopsKit, key: AgeKey, other_key: AgeKey) -> None:
    """A file encrypted for two recipients opens with either identity, and with a key file listing both."""
    encrypted = kit.encrypt(SECRET, [key.recipient, other_key.recipient])
    both = f"# two keys\n\n{key.identity}\n{other_key.identity}\n"
    for identities in (key.identity, other_key.identity, both):
        assert "correct horse battery staple" in decrypt(encrypted, parse_identities(identities), name="x")


def test_ssh_ed25519_identity(kit: SopsKit, tmp_path: Path) -> None:
    """An OpenSSH ed25519 private key opens a file sops encrypted for its ssh-ed25519 recipient."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    encrypted = kit.encrypt(SECRET, [public])
    assert "correct horse battery staple" in decrypt(encrypted, parse_identities(pem), name="ssh.yaml")


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


def _enc_token(text: str, key: str) -> str:
    match = re.search(rf"^\s*{key}: (ENC\[[^\]]+\])", text, re.MULTILINE)
    assert match is not None, key
    return match.group(1)


def _swap(text: str, first: str, second: str) -> str:
    a, b = _enc_token(text, first), _enc_token(text, second)
    return text.replace(a, "@@").replace(b, a).replace("@@", b)


def _retype(text: str, key: str, kind: str) -> str:
    token = _enc_token(text, key)
    return text.replace(token, token.replace("type:str", f"type:{kind}"))


TAMPERS = {
    "clear value changed": (
        lambda t: _replace_once(t, "tier_clear: backend", "tier_clear: frontend"), "MAC mismatch"),
    "key removed": (lambda t: re.sub(r"^\s+yes_word: ENC\[[^\]]+\]\n", "", t, flags=re.M), "MAC mismatch"),
    "values swapped between keys": (lambda t: _swap(t, "password", "colon"), "authentication failed"),
    "key renamed": (lambda t: _replace_once(t, "    unicode: ENC", "    unicodex: ENC"),
                    "authentication failed"),
    "lastmodified changed": (lambda t: re.sub(r'lastmodified: "\d{4}', 'lastmodified: "1999', t),
                             "authentication failed"),
    "ciphertext replaced by clear text": (
        lambda t: t.replace(_enc_token(t, "password"), "attacker-chosen"), "should be encrypted"),
    "type changed to unknown": (lambda t: _retype(t, "password", "blob"), "unknown value type"),
    "type changed to int": (lambda t: _retype(t, "password", "int"), "not an integer"),
    "type changed to time": (lambda t: _retype(t, "password", "time"), "not a timestamp"),
    "clear key added": (lambda t: _replace_once(t, "stringData:\n", "stringData:\n    extra: injected\n"),
                        "should be encrypted"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampering_is_detected_without_leaking(kit: SopsKit, key: AgeKey, tamper: str) -> None:
    """Every change to an encrypted file fails with the file's name and no clear value in the message."""
    plain = SECRET.replace("tier:", "tier_clear:")
    encrypted = kit.encrypt(plain, [key.recipient], args=("--unencrypted-suffix", "_clear"))
    change, reason = TAMPERS[tamper]
    tampered = change(encrypted)
    assert tampered != encrypted
    with pytest.raises(DecryptError) as info:
        decrypt(tampered, parse_identities(key.identity), name="env@abc123:app/secret.yaml")
    message = str(info.value)
    assert reason in message
    assert message.startswith("env@abc123:app/secret.yaml")
    for clear in ("correct horse", "line one", "pässwörd", "c2VjcmV0", key.identity):
        assert clear not in message


def test_mac_only_encrypted_still_guards_encrypted_paths(kit: SopsKit, key: AgeKey) -> None:
    """With mac_only_encrypted, a clear value slipped in where the filters demand encryption is refused."""
    encrypted = kit.encrypt(SECRET, [key.recipient],
                            rule={"encrypted_regex": "^stringData$", "mac_only_encrypted": True})
    ids = parse_identities(key.identity)
    relabelled = _replace_once(encrypted, "tier: backend", "tier: frontend")
    assert "tier: frontend" in decrypt(relabelled, ids, name="m.yaml")
    injected = _replace_once(encrypted, "stringData:\n", "stringData:\n    extra: injected\n")
    with pytest.raises(DecryptError, match="should be encrypted"):
        decrypt(injected, ids, name="m.yaml")


def test_wrong_key_is_a_clear_error(kit: SopsKit, key: AgeKey, other_key: AgeKey) -> None:
    """An identity that matches no recipient names the file and the recipients, never the content."""
    encrypted = kit.encrypt(SECRET, [key.recipient])
    with pytest.raises(DecryptError) as info:
        decrypt(encrypted, parse_identities(other_key.identity), name="env@abc:s.yaml")
    message = str(info.value)
    assert message.startswith("env@abc:s.yaml: none of the 1 configured age identities")
    assert key.recipient in message
    assert "correct horse" not in message
    assert other_key.identity not in message


def test_no_identities_points_at_the_key_file(kit: SopsKit, key: AgeKey) -> None:
    """Without any identity the error says how to configure one."""
    encrypted = kit.encrypt(SECRET, [key.recipient])
    with pytest.raises(DecryptError, match=r"no age key is configured.*GITOPSD_AGE_KEY_FILE"):
        Decryptor().decrypt(encrypted, name="s.yaml")


def test_shamir_key_groups_are_rejected(kit: SopsKit, key: AgeKey, other_key: AgeKey) -> None:
    """A file whose data key is split across key groups is refused, even with every identity at hand."""
    rule = {"shamir_threshold": 2,
            "key_groups": [{"age": [key.recipient]}, {"age": [other_key.recipient]}]}
    encrypted = kit.encrypt(SECRET, [], rule=rule)
    assert "key_groups" in encrypted
    both = parse_identities(f"{key.identity}\n{other_key.identity}")
    with pytest.raises(DecryptError, match="key groups"):
        decrypt(encrypted, both, name="shamir.yaml")


def test_files_without_age_recipients_are_rejected(kit: SopsKit, key: AgeKey) -> None:
    """A file whose data key is wrapped only for PGP (or a KMS) says so instead of failing obscurely."""
    encrypted = kit.encrypt(SECRET, [key.recipient])
    pgp_only = re.sub(r"    age:\n(?:        .*\n|          .*\n)+",
                      "    pgp:\n        - fp: 0123456789ABCDEF\n          enc: x\n", encrypted)
    assert "age1" not in pgp_only
    with pytest.raises(DecryptError, match="encrypted for pgp; gitopsd decrypts age recipients only"):
        decrypt(pgp_only, parse_identities(key.identity), name="pgp.yaml")


def test_comment_filters_are_rejected(kit: SopsKit, key: AgeKey) -> None:
    """Files that select values by comments are refused: comments are not read here."""
    encrypted = kit.encrypt("# sops:enc\npassword: x\nplain: y\n", [key.recipient],
                            rule={"encrypted_comment_regex": "sops:enc"})
    with pytest.raises(DecryptError, match="comments"):
        decrypt(encrypted, parse_identities(key.identity), name="c.yaml")


@pytest.mark.parametrize("text", [
    SECRET,
    "{{- if .Values.enabled }}\nsops: {{ .Values.mac }}\nlastmodified: x\n{{- end }}\n",
    "sops:\n  version: 3\nkind: ConfigMap\n",  # no mac / lastmodified
    "items: [sops, mac, lastmodified]\n",
    '{"sops": "mac lastmodified"}',
    "",
])
def test_is_encrypted_false_for_ordinary_text(text: str) -> None:
    """Plain manifests, templates and files that merely mention the words are not SOPS files."""
    assert not is_encrypted(text)


def test_is_encrypted_true_for_json_and_yaml(kit: SopsKit, key: AgeKey) -> None:
    """Both YAML and JSON files from sops are recognised."""
    assert is_encrypted(kit.encrypt(SECRET, [key.recipient]))
    assert is_encrypted(kit.encrypt('{"a": "b"}', [key.recipient], fmt="json"))


@pytest.mark.parametrize(("text", "message"), [
    ("", "holds no age identity"),
    ("# only a comment\n", "holds no age identity"),
    ("AGE-SECRET-KEY-1NOTBECH32\n", "line 1 is not a valid age identity"),
    ("# c\nAGE-PLUGIN-YUBIKEY-1QQQ\n", "line 2 is a plugin identity"),
    ("hunter2-password\n", "line 1 is not an X25519 age identity"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key\n-----END OPENSSH PRIVATE KEY-----\n",
     "not a usable SSH private key"),
])
def test_bad_key_files_name_the_line_not_the_content(text: str, message: str) -> None:
    """Unusable key files fail with the line number and no copy of the line."""
    with pytest.raises(DecryptError, match=message) as info:
        parse_identities(text, source="age key file k")
    assert "NOTBECH32" not in str(info.value)
    assert "hunter2" not in str(info.value)


def test_key_file_lookup_order(tmp_path: Path) -> None:
    """$GITOPSD_AGE_KEY_FILE wins over $CREDENTIALS_DIRECTORY/age.key, which is used only if present."""
    creds = tmp_path / "creds"
    creds.mkdir()
    explicit = tmp_path / "explicit.key"
    assert key_file_from_env({}) is None
    assert key_file_from_env({"CREDENTIALS_DIRECTORY": str(creds)}) is None
    (creds / "age.key").write_text("x")
    assert key_file_from_env({"CREDENTIALS_DIRECTORY": str(creds)}) == creds / "age.key"
    assert key_file_from_env({"CREDENTIALS_DIRECTORY": str(creds),
                              "GITOPSD_AGE_KEY_FILE": str(explicit)}) == explicit


def test_identities_from_env_registers_key_with_log_scrubber(key: AgeKey, other_key: AgeKey,
                                                             tmp_path: Path, scrubbed: Any) -> None:
    """Reading the key file makes every identity line unloggable, alone or inside other text."""
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "age.key").write_text(f"# created: now\n{key.identity}\n{other_key.identity}\n")
    ids = identities_from_env({"CREDENTIALS_DIRECTORY": str(creds)})
    assert len(ids) == 2
    for identity in (key.identity, other_key.identity):
        scrubbed_line = tlog.scrub(f"error: bad key {identity} here")
        assert identity not in scrubbed_line
        assert tlog.REDACTED in scrubbed_line


def test_unreadable_key_file(tmp_path: Path) -> None:
    """A key file that is named but missing is an error naming the path."""
    missing = tmp_path / "nope.key"
    with pytest.raises(DecryptError, match=r"cannot read age key file .*nope\.key"):
        identities_from_env({"GITOPSD_AGE_KEY_FILE": str(missing)})


def test_decryptor_from_env_defers_key_problems(kit: SopsKit, key: AgeKey, tmp_path: Path) -> None:
    """A broken key file does not stop the decryptor from existing; each encrypted file reports it."""
    bad = tmp_path / "bad.key"
    bad.write_text("garbage-line-here\n")
    decryptor = Decryptor.from_env({"GITOPSD_AGE_KEY_FILE": str(bad)})
    encrypted = kit.encrypt(SECRET, [key.recipient])
    assert decryptor.is_encrypted(encrypted)
    with pytest.raises(DecryptError, match=r"^s\.yaml: cannot be decrypted: age key file .*line 1"):
        decryptor.decrypt(encrypted, name="s.yaml")
    good = Decryptor.from_env({"GITOPSD_AGE_KEY_FILE": str(key.file)})
    assert good.identity_count == 1
    assert "correct horse" in good.decrypt(encrypted, name="s.yaml")


@pytest.mark.asyncio
async def test_decrypt_tree(kit: SopsKit, key: AgeKey, other_key: AgeKey, tmp_path: Path) -> None:
    """Under the app's path every SOPS file is decrypted in place; elsewhere only those this host opens."""
    (tmp_path / "app").mkdir()
    (tmp_path / "base").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "app" / "secret.yaml").write_text(kit.encrypt(SECRET, [key.recipient]))
    (tmp_path / "app" / "plain.yaml").write_text("kind: ConfigMap\n")
    (tmp_path / "base" / "shared.json").write_text(kit.encrypt('{"k": "shared-value"}', [key.recipient],
                                                               fmt="json"))
    foreign = kit.encrypt(SECRET, [other_key.recipient])
    (tmp_path / "other" / "foreign.yaml").write_text(foreign)
    decryptor = Decryptor(parse_identities(key.identity))
    assert await decryptor.decrypt_tree(tmp_path, name="env@abc", required="app") == 2
    assert "correct horse battery staple" in (tmp_path / "app" / "secret.yaml").read_text()
    assert (tmp_path / "app" / "secret.yaml").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "base" / "shared.json").read_text()) == {"k": "shared-value"}
    assert (tmp_path / "other" / "foreign.yaml").read_text() == foreign
    (tmp_path / "app" / "foreign.yaml").write_text(foreign)
    with pytest.raises(DecryptError, match=r"env@abc:app/foreign\.yaml: none of the 1"):
        await decryptor.decrypt_tree(tmp_path, name="env@abc", required="app")


@pytest.mark.parametrize(("text", "value"), [
    ("0644", 0o644), ("0o17", 15), ("0x1F", 31), ("0b101", 5), ("-0x10", -16), ("1_000", 1000),
    ("+5", 5), ("08", 8.0), ("1e5", 1e5), (".5", 0.5), ("-.inf", -math.inf), ("1.", 1.0),
    ("18446744073709551615", 18446744073709551615), ("18446744073709551616", 1.8446744073709552e19),
    ("1e400", "1e400"), ("on", "on"), ("yes", "yes"), ("True", True), ("FALSE", False),
    ("2024-01-01", "2024-01-01T00:00:00Z"), ("2024-1-2 3:04:05.5", "2024-01-02T03:04:05.5Z"),
    ("2024-01-01t10:00:00+00:00", "2024-01-01T10:00:00Z"), ("2024-02-30", "2024-02-30"),
    ("2024-01-01T10:00:00", "2024-01-01T10:00:00"), ("1.2.3", "1.2.3"), ("~", None), ("", None), ("_1", "_1"),
    ("0x", "0x"), ("-", "-"), (".", "."),
])
def test_resolve_plain_follows_yaml_v3(text: str, value: object) -> None:
    """Plain scalars take the type and value Go's yaml.v3 gives them when decoding into interface{}."""
    got = resolve_plain(text)
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(("value", "text"), [
    (1.5, "1.5"), (1.0, "1"), (1e20, "100000000000000000000"), (1e-7, "0.0000001"),
    (0.1, "0.1"), (-0.0, "-0"), (123456789.125, "123456789.125"), (math.inf, "+Inf"),
    (-math.inf, "-Inf"), (math.nan, "NaN"), (2.5e-5, "0.000025"),
])
def test_go_format_float(value: float, text: str) -> None:
    """Floats hash as Go's FormatFloat(f, 'f', -1, 64) prints them."""
    assert go_format_float(value) == text


@pytest.mark.parametrize(("stamp", "text"), [
    ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
    ("2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:05Z"),
    ("2026-01-02T03:04:05+02:00", "2026-01-02T03:04:05+02:00"),
    ("2026-01-02T03:04:05-05:30", "2026-01-02T03:04:05-05:30"),
    ("2026-01-02T03:04:05+00:00", "2026-01-02T03:04:05Z"),
])
def test_rfc3339(stamp: str, text: str) -> None:
    """lastmodified is formatted as Go's time.RFC3339 for the MAC's additional data."""
    assert rfc3339(stamp, where="f") == text


_TRICKY_WORDS = ["yes", "on", "0o17", "1e5", "1_0", "08", ".5", "~", "0x1F", "2024-01-01", "True",
                 "-.inf", "null", "=", "2024-01-01T10:00:00Z", "- x", "a: b", "#c"]
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
            | st.floats(allow_nan=False) | st.sampled_from(_TRICKY_WORDS))


@settings(max_examples=300, deadline=None)
@given(st.recursive(_SCALARS, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=12))
def test_dump_reads_back_identically(value: object) -> None:
    """Decrypted YAML reads back to the same values under yaml.v3 rules and under PyYAML's YAML 1.1 rules."""
    text = dump_all([{"k": value}])
    assert list(load_all(text)) == [{"k": value}]
    assert yaml.safe_load(text) == {"k": value}


def test_enc_token_parts_are_base64(kit: SopsKit, key: AgeKey) -> None:
    """A value whose base64 is broken is reported as malformed, not as a crash."""
    encrypted = kit.encrypt(SECRET, [key.recipient])
    token = _enc_token(encrypted, "password")
    data = token.split("data:", 1)[1].split(",", 1)[0]
    assert base64.b64decode(data)
    broken = encrypted.replace(token, token.replace(f"data:{data}", "data:%%%"))
    with pytest.raises(DecryptError, match="data is not valid base64"):
        decrypt(broken, parse_identities(key.identity), name="b.yaml")


def test_read_key_file_accepts_age_keygen_output(key: AgeKey, scrubbed: Any) -> None:
    """The file age-keygen writes (comments plus one identity) is read as one identity."""
    assert len(read_key_file(key.file)) == 1
