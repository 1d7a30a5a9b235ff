"""The TypeScript SDK's Node.js quick start (clients/typescript/README.md) runs as pasted,
with node, against a live server, importing the built package by its name."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.backends import in_ci
from tests.support.live import LiveServer

SDK = Path(__file__).resolve().parents[2] / "clients" / "typescript"


@pytest.fixture(scope="session")
def built_sdk() -> Path:
    """clients/typescript with dist/ built from src/ (`npm run build`, as the README says)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if in_ci():
            raise RuntimeError("Node.js and npm are required for the TypeScript quick start")
        pytest.skip("Node.js and npm are not installed")
    if not (SDK / "node_modules" / "graphql-ws").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=SDK, check=True)
    built = SDK / "dist" / "index.js"
    newest_source = max(p.stat().st_mtime for p in (SDK / "src").glob("*.ts"))
    if not built.exists() or built.stat().st_mtime < newest_source:
        subprocess.run([npm, "run", "build", "--silent"], cwd=SDK, check=True)
    return SDK


def node_snippet() -> tuple[str, str]:
    readme = (SDK / "README.md").read_text()
    match = re.search(
        r"## Quick start \(Node\.js\).*?```js\n(.*?)```\n\nIt prints `([^`]*)`", readme, re.S
    )
    assert match, "the README has a Node.js quick start that says what it prints"
    return match.group(1), match.group(2)


async def test_the_typescript_node_quick_start_runs_as_pasted(
    server: LiveServer, built_sdk: Path, tmp_path: Path
) -> None:
    snippet, promised = node_snippet()
    # as `npm install /path/to/clients/typescript` lays it out: node_modules/@agentwire/client
    scope = tmp_path / "node_modules" / "@agentwire"
    scope.mkdir(parents=True)
    (scope / "client").symlink_to(built_sdk, target_is_directory=True)
    script = tmp_path / "quickstart.mjs"
    script.write_text(snippet)
    env = {**os.environ, "AGENTWIRE_URL": server.http_url, "AGENTWIRE_TOKEN": server.token()}
    process = await asyncio.create_subprocess_exec(
        "node",
        "--experimental-websocket",
        str(script),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().splitlines() == [promised]
