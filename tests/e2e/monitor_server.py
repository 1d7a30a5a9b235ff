"""`agentwire serve` as a person starts it, in a subprocess on a fixed loopback port, so that
a test can stop and start it again under the same origin and the same SQLite file."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServeProcess:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.printed_token = ""

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
            "AGENTWIRE_DATA_DIR": str(self.data_dir),
            "AGENTWIRE_JWT_SECRET": "e2e-secret-for-the-monitor-page-0123456789abcdef",
            "AGENTWIRE_PROGRESS_INTERVAL_SECONDS": "0.02",
            "AGENTWIRE_LEASE_SECONDS": "2",
            "AGENTWIRE_WS_HEARTBEAT_SECONDS": "1",
            "AGENTWIRE_LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [str(BIN / "agentwire"), "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        # The development token is the line after "development token".
        lines = iter(self.process.stdout.readline, "")
        for line in lines:
            if "development token" in line:
                self.printed_token = next(lines).strip()
                break
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.origin}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("agentwire serve did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def graphql(self, query: str, **variables: object) -> dict[str, object]:
        response = httpx.post(
            f"{self.origin}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.printed_token}"},
            timeout=10,
        )
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"])

    def socket_rows(self) -> list[str]:
        """The live connection registry as the server wrote it."""
        with sqlite3.connect(self.data_dir / "agentwire.db") as db:
            return [str(row[0]) for row in db.execute("SELECT task_ids FROM websocket_connections")]
