"""Certificates, keys, tokens and kubeconfigs for a local control plane.

Everything here is generated fresh per cluster and written under the
cluster's directory with private permissions. It must never be used for a
cluster that is reachable from outside the machine.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ADMIN_USER = "admin"
RESTRICTED_USERS = ("alice", "bob", "carol")


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    sa_key: Path
    sa_pub: Path
    token_file: Path
    tokens: dict[str, str]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def generate(pki_dir: Path, hosts: list[str]) -> Pki:
    """Make a CA, a serving certificate for HOSTS, an SA key pair and a token file."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitopsd-localcluster-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = {u: secrets.token_hex(16) for u in (ADMIN_USER, *RESTRICTED_USERS)}
    rows = [f'{tokens[ADMIN_USER]},{ADMIN_USER},uid-{ADMIN_USER},"system:masters"']
    rows += [f"{tokens[u]},{u},uid-{u}" for u in RESTRICTED_USERS]
    pem = serialization.Encoding.PEM
    return Pki(
        ca_cert=_write(pki_dir / "ca.crt", ca.public_bytes(pem)),
        serving_cert=_write(pki_dir / "apiserver.crt", cert.public_bytes(pem)),
        serving_key=_write(pki_dir / "apiserver.key", _pem_key(key)),
        sa_key=_write(pki_dir / "sa.key", _pem_key(sa_key)),
        sa_pub=_write(pki_dir / "sa.pub", sa_key.public_key().public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo)),
        token_file=_write(pki_dir / "tokens.csv", ("\n".join(rows) + "\n").encode()),
        tokens=tokens,
    )


def kubeconfig(name: str, server: str, ca_cert: Path, user: str, token: str) -> str:
    """A kubeconfig for USER with an embedded CA, as kubectl writes them."""
    import base64

    ca_data = base64.b64encode(ca_cert.read_bytes()).decode()
    ctx = f"{name}-{user}" if user != ADMIN_USER else name
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": ctx,
        "clusters": [{"name": name, "cluster": {"server": server,
                                                 "certificate-authority-data": ca_data}}],
        "users": [{"name": f"{name}-{user}", "user": {"token": token}}],
        "contexts": [{"name": ctx, "context": {"cluster": name, "user": f"{name}-{user}"}}],
    }
    return yaml.safe_dump(doc, sort_keys=False)
