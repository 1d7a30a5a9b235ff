"""Asymmetric tokens on a live server, and the credential commands of the real CLI."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from auth.authenticate import API_KEY_HINT
from tests.support.attacker import bearer, first_error, gql, ws_handshake_code
from tests.support.live import TEST_JWT_SECRET, LiveServer

ME = "query { me { subject } }"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def rs256(server: LiveServer, subject: str) -> str:
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": server.settings.jwt_issuer,
        "aud": server.settings.jwt_audience,
        "iat": now,
        "exp": now + 300,
    }
    return jwt.encode(claims, KEY, algorithm="RS256")


async def test_rs256_tokens_work_and_hmac_with_the_public_key_does_not(
    make_server: Any, tmp_path: Path
) -> None:
    keys = tmp_path / "issuer.pem"
    keys.write_bytes(PUBLIC_PEM)
    async with make_server(jwt_public_keys=keys, jwt_secret=None) as server:
        subject = f"idp-{uuid.uuid4().hex[:8]}"
        ok = await gql(server, ME, headers=bearer(rs256(server, subject)))
        assert ok.json() == {"data": {"me": {"subject": subject}}}
        assert (
            await ws_handshake_code({"authorization": f"Bearer {rs256(server, subject)}"}, server)
            is None
        )
        # key confusion: HS256 keyed with the public PEM the attacker can download
        header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}').decode()
        payload = rs256(server, "admin").split(".")[1]
        signature = hmac.new(PUBLIC_PEM, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        forged = f"{header}.{payload}.{jwt.utils.base64url_encode(signature).decode()}"
        refused = await gql(server, ME, headers=bearer(forged))
        assert refused.status_code == 401
        assert first_error(refused) == (
            "UNAUTHENTICATED",
            "the token's algorithm 'HS256' is not accepted; this server accepts RS256",
        )


async def agentwire(server: LiveServer, *args: str) -> tuple[int, str, str]:
    """Run the real `agentwire` command against the server's database."""
    env = {
        **os.environ,
        "AGENTWIRE_DATABASE_URL": server.settings.resolved_database_url,
        "AGENTWIRE_DATA_DIR": str(server.settings.data_dir),
        "AGENTWIRE_JWT_SECRET": TEST_JWT_SECRET,
        "AGENTWIRE_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode()


async def test_cli_api_key_lifecycle(server: LiveServer) -> None:
    user = f"cli-{uuid.uuid4().hex[:8]}"
    code, key, notes = await agentwire(
        server, "apikey", "create", "--user", user, "--scopes", "tasks:read"
    )
    assert code == 0, notes
    assert key.startswith("aw_") and key not in notes
    assert "it is shown once" in notes
    response = await gql(server, ME, headers={"X-API-Key": key})
    assert response.json() == {"data": {"me": {"subject": user}}}
    code, listing, _ = await agentwire(server, "apikey", "list", "--user", user)
    assert code == 0 and key not in listing and "tasks:read  -      active" in listing
    header, *rows = listing.splitlines()
    assert header.split() == ["PREFIX", "ID", "NAME", "SCOPES", "ROLES", "STATE", "LAST", "USED"]
    prefix = key.split("_")[1]
    assert [row.split()[0] for row in rows] == [prefix]
    assert rows[0].index("tasks:read") == header.index("SCOPES")
    code, _, notes = await agentwire(server, "apikey", "revoke", prefix)
    assert code == 0, notes
    refused = await gql(server, ME, headers={"X-API-Key": key})
    assert first_error(refused) == ("UNAUTHENTICATED", "the API key is unknown or revoked")
    # the hint speaks of API keys, not of tokens, on GraphQL and REST alike
    assert refused.json()["errors"][0]["extensions"]["hint"] == API_KEY_HINT
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        rest = await client.get("/api/agent/history", headers={"X-API-Key": key})
    assert rest.status_code == 401
    assert (
        rest.json()["error"]["hint"]
        == API_KEY_HINT
        == (
            "send an active API key ('X-API-Key: <key>'): `agentwire apikey list --user "
            "<subject>` shows which keys are revoked, `agentwire apikey create` makes a new one"
        )
    )
    code, _, notes = await agentwire(server, "apikey", "revoke", prefix)
    assert (code, notes.strip()) == (2, f"error: API key {prefix} was already revoked")


async def test_cli_refuses_unknown_scopes(server: LiveServer) -> None:
    code, out, notes = await agentwire(
        server, "apikey", "create", "--user", "x", "--scopes", "tasks:read,root"
    )
    assert (code, out) == (2, "")
    assert notes.strip() == (
        "error: unknown scope(s) root; choose from tasks:read, tasks:write, worker"
    )


async def test_cli_session_token_and_revocation(server: LiveServer) -> None:
    user = f"cli-{uuid.uuid4().hex[:8]}"
    code, token, notes = await agentwire(server, "token", "--user", user, "--session")
    assert code == 0, notes
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    assert f"agentwire revoke-session {sid}" in notes
    assert (await gql(server, ME, headers=bearer(token))).status_code == 200
    code, _, notes = await agentwire(server, "revoke-session", sid)
    assert code == 0, notes
    refused = await gql(server, ME, headers=bearer(token))
    assert first_error(refused) == (
        "UNAUTHENTICATED",
        "the token's session was revoked; sign in again",
    )
