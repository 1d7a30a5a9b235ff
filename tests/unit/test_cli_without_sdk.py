"""The `agentwire` command works on an install without the Python SDK (a server-only
deploy); its client commands then say what to install instead of failing at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# agentwire_client set to None in sys.modules makes every import of it fail, as if missing.
WITHOUT_SDK = "import sys; sys.modules['agentwire_client'] = None; from server.cli import main; "


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SDK + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_server_commands_run_without_the_sdk() -> None:
    done = run("sys.exit(main(['schema']))")
    assert done.returncode == 0, done.stderr
    assert "type Query" in done.stdout


def test_client_commands_without_the_sdk_say_what_to_install() -> None:
    done = run("sys.exit(main(['history', '--token', 't']))")
    assert done.returncode == 2
    assert "pip install -e clients/python" in done.stderr
    assert "Traceback" not in done.stderr
