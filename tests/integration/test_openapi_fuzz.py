"""A property-based run of the OpenAPI document with schemathesis against a real server.

schemathesis is synchronous, and the server runs in this test's event loop, so the run
is a subprocess (its CLI). Bounded: a few hundred requests, well under a minute.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


async def test_schemathesis_finds_no_server_error_and_no_response_off_the_document(
    make_server: Any, tmp_path: Path
) -> None:
    # Limits high enough that the run reaches the routes' logic rather than 429s
    # (which are documented and would pass, but test nothing further).
    roomy = {"rate_limit_read": "100000/minute", "rate_limit_write": "100000/minute"}
    async with make_server(**roomy) as server:
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{server.http_url}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {server.token('fuzzer')}",
            # An endless event stream cannot be fuzzed request by request.
            "--exclude-operation-id",
            "streamTaskEvents",
            "--checks",
            CHECKS,
            "--max-examples",
            "15",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--no-color",
        ]
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks",
        }
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), 100)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert "20 selected / 21 total" in report
