"""Token verification: pinned algorithms, every claim, and the classic forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auth.keys import KeyConfigError, load_public_keys
from auth.tokens import InvalidTokenError, TokenConfig, issue_token, verify_token

SECRET = "unit-test-secret-0123456789-abcdefghijklmnop"
HS = TokenConfig(secret=SECRET, issuer="agentwire", audience="agentwire", leeway_seconds=30)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "alice",
        "iss": "agentwire",
        "aud": "agentwire",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A token built by hand, as an attacker would (PyJWT refuses to sign these)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def asymmetric(tmp_path: Path) -> TokenConfig:
    """RS256 from a PEM file; no HS256 secret at all."""
    path = tmp_path / "keys.pem"
    path.write_bytes(public_pem(RSA_KEY))
    return TokenConfig(
        secret=None, issuer="agentwire", audience="agentwire", public_keys=load_public_keys(path)
    )


def refused(config: TokenConfig, token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        verify_token(config, token)
    return str(caught.value)


def test_issued_token_verifies_with_its_claims() -> None:
    token = issue_token(HS, subject="alice", roles=["admin"], session_id="s1", name="Alice")
    verified = verify_token(HS, token)
    assert (verified.subject, verified.roles, verified.name, verified.session_id) == (
        "alice",
        ("admin",),
        "Alice",
        "s1",
    )


def test_expired_token_is_refused() -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 31), SECRET, algorithm="HS256")
    assert refused(HS, token) == "the token has expired; get a new one"


def test_token_expired_within_the_leeway_still_passes() -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256")
    assert verify_token(HS, token).subject == "alice"


def test_not_yet_valid_token_is_refused() -> None:
    token = jwt.encode(claims(nbf=int(time.time()) + 120), SECRET, algorithm="HS256")
    assert refused(HS, token) == "the token is not valid yet (nbf/iat in the future)"


def test_wrong_issuer_is_refused() -> None:
    token = jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256")
    assert refused(HS, token) == "the token was issued by an unknown issuer"


def test_wrong_audience_is_refused() -> None:
    token = jwt.encode(claims(aud="another-service"), SECRET, algorithm="HS256")
    assert refused(HS, token) == "the token was issued for another audience"


def test_token_without_expiry_is_refused() -> None:
    token = jwt.encode(claims(exp=None), SECRET, algorithm="HS256")
    assert refused(HS, token) == "the token lacks the 'exp' claim"


def test_tampered_payload_is_refused() -> None:
    header, _, signature = issue_token(HS, subject="alice").split(".")
    forged_payload = b64(json.dumps(claims(sub="admin", roles=["admin"])).encode())
    message = refused(HS, f"{header}.{forged_payload}.{signature}")
    assert message == "the token's signature does not verify with any configured key"


def test_token_signed_with_another_secret_is_refused() -> None:
    token = jwt.encode(claims(), "a-different-secret-of-enough-length-000", algorithm="HS256")
    assert refused(HS, token) == "the token's signature does not verify with any configured key"


def test_alg_none_is_refused() -> None:
    token = unsigned({"alg": "none", "typ": "JWT"}, claims(roles=["admin"]), None)
    assert refused(HS, token) == (
        "the token's algorithm 'none' is not accepted; this server accepts HS256"
    )


def test_garbage_is_refused_without_echoing_it() -> None:
    message = refused(HS, "not-a-token")
    assert message == "the token is malformed: expected a signed JWT"
    assert "not-a-token" not in message


def test_rs256_token_verifies_with_the_pem_public_key(asymmetric: TokenConfig) -> None:
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
    assert verify_token(asymmetric, token).subject == "alice"


def test_rs256_token_from_another_key_is_refused(asymmetric: TokenConfig) -> None:
    token = jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256")
    message = refused(asymmetric, token)
    assert message == "the token's signature does not verify with any configured key"


def test_hmac_signed_with_the_public_key_is_refused(asymmetric: TokenConfig) -> None:
    # given: the classic key confusion, HS256 keyed with the server's own public key
    token = unsigned({"alg": "HS256", "typ": "JWT"}, claims(), public_pem(RSA_KEY))
    # then: no HMAC secret is configured, so HS256 has no key at all
    assert refused(asymmetric, token) == (
        "the token's algorithm 'HS256' is not accepted; this server accepts RS256"
    )


def test_hmac_with_the_public_key_is_refused_when_a_secret_is_also_set(
    asymmetric: TokenConfig,
) -> None:
    both = TokenConfig(
        secret=SECRET,
        issuer="agentwire",
        audience="agentwire",
        public_keys=asymmetric.public_keys,
    )
    token = unsigned({"alg": "HS256", "typ": "JWT"}, claims(), public_pem(RSA_KEY))
    assert refused(both, token) == "the token's signature does not verify with any configured key"
    assert both.algorithms == ("HS256", "RS256")


def test_es256_token_verifies_with_a_jwks_key_by_kid(tmp_path: Path) -> None:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]}))
    config = TokenConfig(
        secret=None, issuer="agentwire", audience="agentwire", public_keys=load_public_keys(path)
    )
    good = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "k1"})
    assert verify_token(config, good).subject == "alice"
    unknown_kid = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "k2"})
    assert refused(config, unknown_kid) == (
        "the token names a key id ('kid') this server does not know"
    )
    rs256 = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "k1"})
    assert refused(config, rs256) == (
        "the token's algorithm 'RS256' is not accepted; this server accepts ES256"
    )


def test_issuing_without_a_secret_says_where_tokens_come_from(asymmetric: TokenConfig) -> None:
    with pytest.raises(InvalidTokenError, match="get tokens from your identity provider"):
        issue_token(asymmetric, subject="alice")


def test_a_private_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "private.pem"
    path.write_bytes(
        RSA_KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyConfigError, match="is a private key; give only the public key"):
        load_public_keys(path)


def test_a_symmetric_jwk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": b64(b"secret"), "alg": "HS256"}]}))
    with pytest.raises(KeyConfigError, match="only RSA and EC keys are accepted"):
        load_public_keys(path)


def test_a_short_rsa_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weak.pem"
    path.write_bytes(public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    with pytest.raises(KeyConfigError, match="at least 2048 bits"):
        load_public_keys(path)
