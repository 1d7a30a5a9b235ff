"""Public keys for RS256/ES256 tokens, read from a PEM bundle or a JWKS file.

Loading is strict: a private key, a symmetric JWK or an unsupported curve stops the
server at start-up, so a misconfiguration cannot quietly widen what verifies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
MIN_RSA_BITS = 2048
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----[A-Za-z0-9+/=\s]+-----END \1-----", re.MULTILINE)


class KeyConfigError(Exception):
    """AGENTWIRE_JWT_PUBLIC_KEYS cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    algorithm: str
    key: Any
    key_id: str | None = None


def algorithm_for(key: Any, *, where: str) -> str:
    """RS256 for an RSA key of 2048 bits or more, ES256 for a P-256 key; refuse the rest."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyConfigError(f"{where}: RSA keys must have at least {MIN_RSA_BITS} bits")
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyConfigError(f"{where}: EC keys must use P-256 (ES256)")
        return "ES256"
    raise KeyConfigError(f"{where}: only RSA (RS256) and EC P-256 (ES256) keys are accepted")


def _from_pem(text: str, path: Path) -> tuple[PublicKey, ...]:
    keys: list[PublicKey] = []
    for index, match in enumerate(_PEM_BLOCK.finditer(text), start=1):
        kind, block = match.group(1), match.group(0).encode()
        where = f"{path} block {index}"
        if "PRIVATE" in kind:
            raise KeyConfigError(f"{where} is a private key; give only the public key")
        if kind == "CERTIFICATE":
            key: Any = x509.load_pem_x509_certificate(block).public_key()
        elif kind == "PUBLIC KEY":
            key = load_pem_public_key(block)
        else:
            raise KeyConfigError(f"{where}: expected PUBLIC KEY or CERTIFICATE, found {kind}")
        keys.append(PublicKey(algorithm=algorithm_for(key, where=where), key=key))
    return tuple(keys)


def _from_jwks(text: str, path: Path) -> tuple[PublicKey, ...]:
    try:
        document = json.loads(text)
        entries = document["keys"]
    except (ValueError, KeyError, TypeError) as error:
        raise KeyConfigError(f"{path}: expected a JWKS document {{'keys': [...]}}") from error
    keys: list[PublicKey] = []
    for index, entry in enumerate(entries):
        where = f"{path} key {index}"
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
            raise KeyConfigError(f"{where}: only RSA and EC keys are accepted")
        if "d" in entry:
            raise KeyConfigError(f"{where} is a private key; publish only the public part")
        if entry.get("use", "sig") != "sig":
            continue
        try:
            jwk = jwt.PyJWK(entry)
        except jwt.PyJWTError as error:
            raise KeyConfigError(f"{where}: {error}") from error
        algorithm = algorithm_for(jwk.key, where=where)
        if entry.get("alg", algorithm) != algorithm:
            raise KeyConfigError(f"{where}: alg {entry['alg']!r} does not match the key")
        kid = entry.get("kid")
        keys.append(
            PublicKey(
                algorithm=algorithm, key=jwk.key, key_id=kid if isinstance(kid, str) else None
            )
        )
    return tuple(keys)


def load_public_keys(path: Path) -> tuple[PublicKey, ...]:
    """Every signing key in the PEM or JWKS file at `path`; at least one."""
    try:
        text = path.read_text()
    except OSError as error:
        raise KeyConfigError(
            f"cannot read AGENTWIRE_JWT_PUBLIC_KEYS file {path}: {error}"
        ) from error
    keys = _from_jwks(text, path) if text.lstrip().startswith("{") else _from_pem(text, path)
    if not keys:
        raise KeyConfigError(f"{path} holds no usable public key (PEM or JWKS expected)")
    return keys
