"""Signature verifiers: OpenPGP with ``gpg``, SSH with ``ssh-keygen -Y``.

Why these verifiers: both are the maintained reference implementations that
Git itself drives (``gpg.program``, ``gpg.ssh.program``), and they are
packaged by every distribution (Debian ``gpg``, ``openssh-client``). The
Python OpenPGP libraries are not a safe base: PGPy's last release is from
2022 and pysequoia marks its API unstable; python-gnupg would only wrap the
same ``gpg`` binary behind a looser parser.

``gpg`` runs in a private, temporary GNUPGHOME holding only the policy's
public keys (``--trust-model always`` is therefore safe: whatever is in that
keyring is allowed, and nothing else is); the user's keyring and agent are
never consulted. Its machine-readable ``--status-fd`` lines are parsed,
never its human messages. ``ssh-keygen`` verifies against the configured
``allowed_signers`` file with the ``git`` namespace, for the principals that
``-Y find-principals`` names for the signing key.

Everything here blocks (subprocesses) and runs in a worker thread. It never
decides what a revision is allowed to do; it answers "who signed these bytes,
and is that signer allowed".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PGP_START", "SSH_START", "Checker", "Verdict", "parse_gpg_status", "principals_of"]

PGP_START = b"-----BEGIN PGP SIGNATURE-----"
SSH_START = b"-----BEGIN SSH SIGNATURE-----"
TIMEOUT = 30.0
_ENV = {"LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


@dataclass(frozen=True)
class Verdict:
    """The answer for one signature: allowed or not, who signed it (if known), why not."""

    ok: bool
    signer: str = ""
    reason: str = ""


@dataclass
class _GpgSig:
    good: bool = False
    valid: bool = False
    signer: str = ""
    problem: str = ""
    key: str = ""
    fields: list[str] = field(default_factory=list)


_PROBLEMS = {
    "BADSIG": "bad signature (the signed content was changed)",
    "EXPSIG": "the signature has expired",
    "EXPKEYSIG": "the signing key has expired",
    "REVKEYSIG": "the signing key has been revoked",
}


def parse_gpg_status(text: str) -> Verdict:
    """The verdict of ``gpg --status-fd`` output TEXT: every signature must be GOODSIG and VALIDSIG.

    BADSIG, EXPSIG, EXPKEYSIG, REVKEYSIG, ERRSIG and NO_PUBKEY each refuse; a
    key missing from the private keyring is a key that is not allowed.
    """
    sigs: list[_GpgSig] = []
    for line in text.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        word, *args = line[len("[GNUPG:] "):].split(" ")
        if word == "NEWSIG" or (not sigs and word in ("GOODSIG", "BADSIG", "ERRSIG", "EXPSIG",
                                                     "EXPKEYSIG", "REVKEYSIG")):
            sigs.append(_GpgSig())
            if word == "NEWSIG":
                continue
        if not sigs:
            continue
        sig = sigs[-1]
        if word in ("GOODSIG", "BADSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG") and args:
            sig.key = args[0]
            uid = " ".join(args[1:])
            sig.signer = f"{uid} (key {args[0]})" if uid else f"key {args[0]}"
            if word == "GOODSIG":
                sig.good = True
            else:
                sig.problem = _PROBLEMS[word]
        elif word == "VALIDSIG" and args:
            sig.valid = True
            primary = args[-1] if len(args) >= 10 else args[0]
            sig.signer = f"{sig.signer.split(' (key ')[0]} (key {primary})".strip() \
                if sig.signer else f"key {primary}"
        elif word == "ERRSIG":
            key = args[6] if len(args) > 6 and args[6] != "-" else (args[0] if args else "")
            sig.signer = sig.signer or (f"key {key}" if key else "")
            sig.problem = sig.problem or ("signed by a key that is not allowed" if len(args) > 5
                                          and args[5] == "9" else "the signature cannot be checked")
        elif word == "NO_PUBKEY":
            sig.signer = sig.signer or (f"key {args[0]}" if args else "")
            sig.problem = "signed by a key that is not allowed"
    if not sigs:
        return Verdict(False, "", "no OpenPGP signature found")
    for sig in sigs:
        if sig.problem:
            return Verdict(False, sig.signer, sig.problem)
        if not (sig.good and sig.valid):
            return Verdict(False, sig.signer, "the signature did not verify")
    return Verdict(True, "; ".join(s.signer for s in sigs))


def principals_of(output: str) -> list[str]:
    """Principals printed by ``ssh-keygen -Y find-principals`` (one line each, comma lists split)."""
    found: list[str] = []
    for line in output.splitlines():
        for name in line.strip().split(","):
            if name and name not in found:
                found.append(name)
    return found


_SSH_KEY = re.compile(r"with (\S+) key (\S+)")


def _ssh_key(text: str) -> str:
    m = _SSH_KEY.search(text)
    return f"{m.group(1)} key {m.group(2)}" if m else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


class Checker:
    """Verifies signatures against one policy's keys; a context manager owning a temporary keyring.

    ``openpgp_keys`` are armored public key files, ``allowed_signers`` an
    ``allowed_signers`` file ("" when SSH signatures are not allowed). The
    scratch directory and keyring are made on the first signature checked and removed on exit.
    """

    def __init__(self, openpgp_keys: Sequence[str], allowed_signers: str) -> None:
        self.openpgp_keys = tuple(openpgp_keys)
        self.allowed_signers = allowed_signers
        self._dir: Path | None = None
        self._home: Path | None = None

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = self._home = None

    def check(self, signature: bytes | None, payload: bytes) -> Verdict:
        """Whether SIGNATURE over PAYLOAD was made by an allowed key."""
        if not signature:
            return Verdict(False, "", "not signed")
        if signature.lstrip().startswith(PGP_START):
            if not self.openpgp_keys:
                return Verdict(False, "", "signed with OpenPGP, but no OpenPGP keys are allowed")
            return self._gpg(signature, payload)
        if signature.lstrip().startswith(SSH_START):
            if not self.allowed_signers:
                return Verdict(False, "", "signed with SSH, but no SSH signers are allowed")
            return self._ssh(signature, payload)
        return Verdict(False, "", "signed in a format gitopsd does not verify (only OpenPGP and SSH)")

    # -- OpenPGP ------------------------------------------------------------

    def _scratch_dir(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="gitopsd-verify-"))
        return self._dir

    def _scratch(self, name: str, data: bytes) -> Path:
        path = self._scratch_dir() / name
        path.write_bytes(data)
        return path

    def _gpg_args(self, home: Path, *args: str) -> list[str]:
        return ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--no-autostart",
                "--trust-model", "always", *args]

    def _keyring(self) -> Path:
        if self._home is not None:
            return self._home
        home = self._scratch_dir() / "gnupg"
        home.mkdir(mode=0o700)
        proc = _run(self._gpg_args(home, "--import", *self.openpgp_keys))
        if proc.returncode != 0:
            raise OSError(f"gpg could not import the allowed OpenPGP keys: {_one_line(proc.stderr)}")
        self._home = home
        return home

    def _gpg(self, signature: bytes, payload: bytes) -> Verdict:
        try:
            home = self._keyring()
        except OSError as exc:
            return Verdict(False, "", str(exc))
        sig = self._scratch("sig.asc", signature)
        proc = _run(self._gpg_args(home, "--status-fd", "1", "--verify", str(sig), "-"), payload)
        verdict = parse_gpg_status(proc.stdout)
        if verdict.ok and proc.returncode != 0:
            return Verdict(False, verdict.signer, "gpg did not accept the signature")
        return verdict

    # -- SSH ----------------------------------------------------------------

    def _ssh(self, signature: bytes, payload: bytes) -> Verdict:
        sig = self._scratch("sig.ssh", signature)
        found = _run(["ssh-keygen", "-Y", "find-principals", "-s", str(sig),
                      "-f", self.allowed_signers])
        principals = principals_of(found.stdout) if found.returncode == 0 else []
        if not principals:
            plain = _run(["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(sig)], payload)
            key = _ssh_key(plain.stdout + plain.stderr)
            if plain.returncode != 0:
                return Verdict(False, key, "bad signature (the signed content was changed)")
            return Verdict(False, key, "signed by a key that is not in the allowed signers file")
        last = ""
        for principal in principals:
            proc = _run(["ssh-keygen", "-Y", "verify", "-n", "git", "-f", self.allowed_signers,
                         "-I", principal, "-s", str(sig)], payload)
            text = proc.stdout + proc.stderr
            if proc.returncode == 0:
                key = _ssh_key(text)
                return Verdict(True, f"{principal} ({key})" if key else principal)
            last = text
        reason = ("bad signature (the signed content was changed)" if "incorrect signature" in last
                  else f"ssh-keygen refused the signature: {_one_line(last)}")
        return Verdict(False, ", ".join(principals), reason)


def _run(args: Iterable[str], stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    argv = list(args)
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT,
                              env=_ENV, check=False)
    except FileNotFoundError:
        return subprocess.CompletedProcess(argv, 127, "", f"{argv[0]} is not installed")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"{argv[0]} timed out")
    return subprocess.CompletedProcess(argv, proc.returncode,
                                       proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))
