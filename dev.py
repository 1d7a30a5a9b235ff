#!/usr/bin/env python3
"""Set up a virtual environment from the project's own files, then serve or test.

    python3 dev.py serve   # the server on the embedded default (SQLite + in-process bus)
    python3 dev.py test    # ruff, mypy, import layers, the TypeScript SDK checks, pytest

Needs only Python 3.11+ and git. The environment lives in .venv and is
reinstalled only when pyproject.toml changes. The browser tests drive Debian's
chromium (/usr/bin/chromium): `test` installs it with apt-get when it is missing
and this is root; otherwise it stops and says how to install it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def ensure_environment(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"agentwire needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    client = ROOT / "clients" / "python"
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes()
        + (client / "pyproject.toml").read_bytes()
        + extras.encode()
    ).hexdigest()
    stamp = VENV / ".agentwire-installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing agentwire{extras} into .venv ...", flush=True)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f".{extras}"], check=True, cwd=ROOT)
    # The Python client (agentwire-client: the worker SDK), as its own distribution.
    subprocess.run([*pip, "install", "-e", str(client)], check=True, cwd=ROOT)
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """The browser tests need Debian's chromium; Playwright never downloads a browser here."""
    if CHROMIUM.exists():
        return
    if os.name != "posix" or os.geteuid() != 0:
        sys.exit(
            f"the browser tests need chromium at {CHROMIUM}; install it first "
            "(Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y chromium)"
        )
    print("installing chromium with apt-get ...", flush=True)
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=apt_env)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=apt_env)
    if not CHROMIUM.exists():
        sys.exit(f"apt-get installed chromium, but {CHROMIUM} is still missing")


def run(*command: str) -> int:
    return subprocess.run(command, cwd=ROOT).returncode


def serve(args: list[str]) -> int:
    ensure_environment("")
    return run(str(BIN / "agentwire"), "serve", *args)


def test(args: list[str]) -> int:
    ensure_environment("[test]")
    ensure_chromium()
    checks = [
        (str(BIN / "ruff"), "check", "."),
        (str(BIN / "ruff"), "format", "--check", "."),
        (str(BIN / "mypy"),),
        # The Python client is its own distribution, outside the server's mypy packages.
        (str(BIN / "mypy"), "--strict", "clients/python/agentwire_client"),
        (str(BIN / "lint-imports"),),
    ]
    for check in checks:
        print(
            "$",
            " ".join(Path(check[0]).name if i == 0 else part for i, part in enumerate(check)),
            flush=True,
        )
        if run(*check) != 0:
            return 1
    if typescript_checks() != 0:
        return 1
    return run(str(PYTHON), "-m", "pytest", *args)


def typescript_checks() -> int:
    """The TypeScript SDK: lock install, generated types, types, tests, build, committed page."""
    sdk = ROOT / "clients" / "typescript"
    npm = shutil.which("npm")
    if npm is None:
        print("npm was not found: the TypeScript SDK checks need Node.js 20+ and npm", flush=True)
        return 1
    for script in (
        ("ci", "--no-audit", "--no-fund"),
        ("run", "codegen:check"),
        ("run", "typecheck"),
        ("test",),
        ("run", "build"),
        ("run", "monitor:check"),
    ):
        print("$ npm", " ".join(script), f"(in {sdk.relative_to(ROOT)})", flush=True)
        if subprocess.run([npm, *script], cwd=sdk).returncode != 0:
            return 1
    return 0


def main() -> int:
    commands = {"serve": serve, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
