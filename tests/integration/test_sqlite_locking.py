"""SQLite: an open read never blocks a writer, and concurrent writers queue instead of failing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import func, select

from db.engine import create_engine, create_session_factory, write_session
from db.migrate import upgrade_to_head
from db.models import User


async def test_an_open_read_transaction_does_not_block_writers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}"
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as reader:
            # the read transaction stays open (as a cancelled stream might leave it)
            await reader.execute(select(func.count()).select_from(User))

            async def write() -> None:
                async with write_session(sessions) as session:
                    session.add(User(subject=f"s-{uuid.uuid4().hex}", display_name="x", roles=[]))

            await asyncio.wait_for(write(), timeout=5)
    finally:
        await engine.dispose()


async def test_concurrent_read_then_write_transactions_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}"
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = create_session_factory(engine)

    async def read_then_write(index: int) -> None:
        async with write_session(sessions) as session:
            await session.execute(select(func.count()).select_from(User))
            await asyncio.sleep(0.01)
            session.add(User(subject=f"writer-{index}", display_name="w", roles=[]))

    try:
        await asyncio.wait_for(asyncio.gather(*(read_then_write(i) for i in range(20))), 30)
        async with sessions() as session:
            count = (await session.execute(select(func.count()).select_from(User))).scalar_one()
        assert count == 20
    finally:
        await engine.dispose()
