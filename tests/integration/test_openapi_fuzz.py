"""A property-based run of the OpenAPI document with schemathesis against a real server.

schemathesis is synchronous, and the server runs in this test's event loop, so the run
is a subprocess (its CLI). Every check runs (`--checks all`: server errors, status codes,
content types, headers and bodies as documented, schema-valid requests accepted and
invalid ones refused, auth, methods, stateful links). Bounded by `MAX_EXAMPLES`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.support.attacker import api_key

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "tests" / "support" / "schemathesis.toml"
# Examples per operation and phase: the run stays around a minute on a small machine.
MAX_EXAMPLES = "15"


async def test_schemathesis_with_every_check_passes_against_the_document(
    make_server: Any, tmp_path: Path
) -> None:
    # Limits high enough that the run reaches the routes' logic rather than 429s
    # (which are documented and would pass, but test nothing further).
    roomy = {
        "rate_limit_read": "100000/minute",
        "rate_limit_write": "100000/minute",
        "rate_limit_auth_failure": "100000/minute",
    }
    async with make_server(**roomy) as server:
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(CONFIG),
            "run",
            f"{server.http_url}/api/openapi.json",
            # An endless event stream cannot be fuzzed request by request.
            "--exclude-operation-id",
            "streamTaskEvents",
            "--checks",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            # One fixed seed: CI runs the same cases each time, so a failure is the
            # document's or the server's, never the draw's (change it to explore more).
            "--seed",
            "20261202",
            "--no-color",
        ]
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks",
            # Every scope, so task and worker routes are reached (schemathesis.toml).
            "AGENTWIRE_FUZZ_API_KEY": await api_key(
                server, "fuzzer", ["tasks:read", "tasks:write", "worker"]
            ),
        }
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), 400)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        async with httpx.AsyncClient() as client:
            document = (await client.get(f"{server.http_url}/api/openapi.json")).json()
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    total = sum(len(methods) for methods in document["paths"].values())
    assert f"Selected: {total - 1}/{total}" in report, report[-2000:]
    assert "Tested: " + str(total - 1) in report
    # The key reached every route: no operation answered only 401/403.
    assert "Authentication failed" not in report, report[-3000:]
