"""Which real backends the suite runs against.

SQLite and the in-process bus always; PostgreSQL and Redis whenever they are
reachable. With CI=true they must be reachable: the suite fails loudly instead
of skipping them.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    if port is None:
        return False
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _resolve(env_name: str, default: str, what: str) -> str | None:
    url = os.environ.get(env_name) or default
    if _reachable(url):
        return url
    if in_ci() or os.environ.get(env_name):
        raise RuntimeError(
            f"{what} is not reachable at {url}; CI requires it "
            f"(set {env_name} or start the service)"
        )
    return None


def postgres_url() -> str | None:
    return _resolve("AGENTWIRE_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL, "PostgreSQL")


def redis_url() -> str | None:
    return _resolve("AGENTWIRE_TEST_REDIS_URL", DEFAULT_REDIS_URL, "Redis")
