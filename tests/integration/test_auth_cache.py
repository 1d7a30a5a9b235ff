"""The Authenticator remembers subjects to skip the user upsert, but only so many."""

from __future__ import annotations

from pathlib import Path

from auth import authenticate
from auth.tokens import TokenConfig, issue_token
from db.engine import create_engine, create_session_factory
from db.migrate import upgrade_to_head


async def test_the_subject_cache_is_bounded(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}"
    await upgrade_to_head(url)
    engine = create_engine(url)
    config = TokenConfig(secret="s" * 32, issuer="agentwire", audience="agentwire")
    authenticator = authenticate.Authenticator(
        sessions=create_session_factory(engine), tokens=config
    )
    original = authenticate.KNOWN_USERS_CACHED
    authenticate.KNOWN_USERS_CACHED = 3
    try:
        for index in range(5):
            await authenticator.from_token(issue_token(config, subject=f"user-{index}"))
        assert len(authenticator._known) == 3
        assert [key[0] for key in authenticator._known] == ["user-2", "user-3", "user-4"]
    finally:
        authenticate.KNOWN_USERS_CACHED = original
        await engine.dispose()
