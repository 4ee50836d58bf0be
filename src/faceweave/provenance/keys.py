"""The per-install signing identity: a local root certificate and a signing certificate under it.

Made on first use and kept in the user's config directory, never in a workspace (workspaces get
shared; a key must not travel with them). Both certificates are self-made: a manifest signed with
them proves that this installation signed the file and that the file has not changed since, but
no public trust list knows them, so readers report the signer as untrusted.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from faceweave.atomic import write_bytes_atomic
from faceweave.errors import UserError

CHAIN_NAME, KEY_NAME = "signing-chain.pem", "signing-key.pem"
ORGANISATION = "faceweave local installation (self-signed, not publicly trusted)"
VALID_DAYS = 3650


def config_dir() -> Path:
    """FACEWEAVE_CONFIG_DIR, else $XDG_CONFIG_HOME/faceweave, else ~/.config/faceweave."""
    explicit = os.environ.get("FACEWEAVE_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "faceweave"


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes  # signing certificate, then the local root
    key_pem: bytes
    folder: Path


def _name(common: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
    ])  # fmt: skip


PublicKey: TypeAlias = ec.EllipticCurvePublicKey
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey


def _certificate(
    subject: str, issuer: x509.Name, public: PublicKey, issuer_key: PrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(
        digital_signature=not ca, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
    )  # fmt: skip
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        ).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_identity() -> tuple[bytes, bytes]:
    """(chain PEM, private key PEM): a local root CA and an ES256 signing certificate it issued
    (C2PA validators refuse a signing certificate that is its own CA)."""
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = _name("faceweave local root")
    root = _certificate("faceweave local root", root_name, root_key.public_key(), root_key, ca=True)
    leaf = _certificate("faceweave signer", root_name, key.public_key(), root_key, ca=False)
    chain = leaf.public_bytes(serialization.Encoding.PEM) + root.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, private


def signing_identity(folder: Path | None = None) -> SigningIdentity:
    """The installation's identity, made (and said nothing about) the first time it is needed."""
    folder = folder or config_dir()
    chain_path, key_path = folder / CHAIN_NAME, folder / KEY_NAME
    try:
        if not (chain_path.is_file() and key_path.is_file()):
            folder.mkdir(parents=True, exist_ok=True)
            chain, private = make_identity()
            write_bytes_atomic(key_path, private)
            os.chmod(key_path, 0o600)
            write_bytes_atomic(chain_path, chain)
        return SigningIdentity(chain_path.read_bytes(), key_path.read_bytes(), folder)
    except OSError as exc:
        raise UserError(
            f"cannot keep the signing key in {folder} ({exc.strerror}); set FACEWEAVE_CONFIG_DIR to a "
            "writable folder"
        ) from exc
