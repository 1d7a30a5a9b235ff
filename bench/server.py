"""The benchmark's server process: the real agentwire app plus two bench-only routes.

- `POST /bench/emit?task=<id>&count=<n>`: emits n events into a real task through the
  engine's journal (stored in PostgreSQL, published on Redis), as the runner would.
- `WS /bench/plain` and `POST /bench/plain/broadcast?bytes=<n>`: the baseline, a plain
  Starlette WebSocket broadcast loop sending the same number of bytes to every socket.
- `GET /bench/stats`: this process's resident memory and socket counts.

Run by bench/fanout.py; only ever binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import psutil
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from db.migrate import upgrade_to_head
from server.app import create_app
from server.settings import Settings
from subscriptions.envelope import Event, EventType
from subscriptions.hub import Topic
from subscriptions.library_seam import LeanDeflateWebSocketProtocol

plain_sockets: set[WebSocket] = set()
# Server-side time of each fan-out, ms: the plain loop, and each GraphQL topic delivery
# (render once + every inline send), recorded by wrapping Topic._deliver.
fanout_ms: dict[str, list[float]] = {"plain": [], "graphql": []}


def instrument_topics() -> None:
    original = Topic._deliver

    async def timed(self: Topic, event: Event) -> None:
        started = time.perf_counter()
        await original(self, event)
        fanout_ms["graphql"].append((time.perf_counter() - started) * 1000)

    Topic._deliver = timed  # type: ignore[method-assign]


async def plain_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    plain_sockets.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        plain_sockets.discard(websocket)


async def plain_broadcast(request: Request) -> Response:
    size = int(request.query_params.get("bytes", "400"))
    sent_at = time.time() * 1000
    head = orjson.dumps({"t": sent_at}).decode()
    frame = head + " " * max(0, size - len(head))
    for websocket in list(plain_sockets):
        try:
            await websocket.send_text(frame)
        except (WebSocketDisconnect, RuntimeError):
            plain_sockets.discard(websocket)
    elapsed = time.time() * 1000 - sent_at
    fanout_ms["plain"].append(elapsed)
    return JSONResponse({"sent": len(plain_sockets), "ms": elapsed})


def build(settings: Settings) -> object:
    app = create_app(settings)
    engine = app.state.agentwire.services.engine

    async def emit(request: Request) -> Response:
        task_id = uuid.UUID(request.query_params["task"])
        count = int(request.query_params.get("count", "1"))
        for index in range(count):
            async with engine.transaction(task_id) as tx:
                tx.emit(
                    EventType.STEP_PROGRESS,
                    step={"id": f"bench-{index}", "name": "bench", "position": 0},
                    progress=0.5,
                    message="bench",
                )
        return JSONResponse({"emitted": count})

    async def stats(request: Request) -> Response:
        process = psutil.Process(os.getpid())
        return JSONResponse(
            {"rss": process.memory_info().rss, "plain": len(plain_sockets), "fanout_ms": fanout_ms}
        )

    app.router.routes[:0] = [
        Route("/bench/emit", emit, methods=["POST"]),
        Route("/bench/stats", stats),
        Route("/bench/plain/broadcast", plain_broadcast, methods=["POST"]),
        WebSocketRoute("/bench/plain", plain_ws),
    ]
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    lots = "1000000/minute"
    settings = Settings(
        env="test",
        data_dir=Path(args.data_dir),
        database_url=args.database_url,
        redis_url=args.redis_url,
        jwt_secret="bench-secret-not-for-production-0123456789abcdef",
        rate_limit_read=lots,
        rate_limit_write=lots,
        rate_limit_subscribe=lots,
        rate_limit_ws_message=lots,
        # Every benchmark socket is the same user: the production cap (50) would refuse them.
        ws_max_connections_per_user=100_000,
        db_pool_size=20,
        log_level="WARNING",
    )
    asyncio.run(upgrade_to_head(settings.resolved_database_url))
    instrument_topics()
    uvicorn.run(
        build(settings),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        ws=LeanDeflateWebSocketProtocol,
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=True,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
