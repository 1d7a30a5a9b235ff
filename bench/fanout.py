"""Fan-out benchmark: graphql-transport-ws subscribers to one task vs a plain Starlette broadcast.

    python bench/fanout.py [--sizes 500,2000,5000] [--events 20]

Starts one agentwire instance (bench/server.py) on 127.0.0.1 with PostgreSQL and Redis
(AGENTWIRE_BENCH_DATABASE_URL, default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres,
in which a scratch database is made and dropped; AGENTWIRE_BENCH_REDIS_URL, default
redis://127.0.0.1:6379/14). For each size it connects that many subscribers to one task,
measures server memory per idle connection, then the delivery latency of single events
(emitted through the real journal: stored, published on Redis, fanned out), and the same
for a plain WebSocket broadcast of the same number of bytes. Writes bench/results/*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from auth.tokens import TokenConfig, issue_token
from bench.clients import GraphQLSubscribers, PlainSockets

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-not-for-production-0123456789abcdef"
SUBMIT = """mutation($input: SubmitTaskInput!) { submitTask(input: $input) { id } }"""
GET = """query($id: ID!) { task(id: $id) { status lastSeq } }"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return round(ordered[index], 2)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 0.5),
        "p99": percentile(values, 0.99),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def scratch_database(base: str) -> str:
    name = f"agentwire_bench_{uuid.uuid4().hex[:10]}"
    engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


async def drop_database(base: str, url: str) -> None:
    engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        name = make_url(url).database
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


class Bench:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120)

    async def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"])

    async def rss(self) -> int:
        return int((await self.http.get("/bench/stats")).json()["rss"])

    async def fanout_ms(self, kind: str) -> list[float]:
        return list((await self.http.get("/bench/stats")).json()["fanout_ms"][kind])

    async def emit(self, task_id: str, count: int = 1) -> None:
        response = await self.http.post(f"/bench/emit?task={task_id}&count={count}")
        response.raise_for_status()

    async def waiting_task(self) -> tuple[str, int]:
        """A real task parked at an approval gate, to emit events into."""
        step = {"name": "gate", "action": "note", "params": {"key": "k", "value": 1}}
        context = {"steps": [{**step, "requiresApproval": True}]}
        data = await self.graphql(SUBMIT, input={"task": "bench", "context": context})
        task_id = data["submitTask"]["id"]
        for _ in range(200):
            task = (await self.graphql(GET, id=task_id))["task"]
            if task["status"] == "AWAITING_APPROVAL":
                return task_id, int(task["lastSeq"])
            await asyncio.sleep(0.05)
        raise RuntimeError("the bench task never reached its approval gate")


async def measure_graphql(bench: Bench, size: int, events: int) -> dict[str, Any]:
    task_id, last_seq = await bench.waiting_task()
    before = await bench.rss()
    clients = GraphQLSubscribers(bench.port, bench.token, task_id)
    started = time.monotonic()
    await clients.open(size, after=last_seq)
    # one warm-up event proves every subscription is live
    await bench.emit(task_id)
    await clients.wait_all(last_seq + 1)
    connect_seconds = time.monotonic() - started
    idle = await bench.rss()
    seq = last_seq + 1
    latencies: list[float] = []
    all_delivered: list[float] = []
    skip = len(await bench.fanout_ms("graphql"))
    for _ in range(events):
        seq += 1
        await bench.emit(task_id)
        await clients.wait_all(seq)
        latencies += clients.latencies(seq)
        all_delivered.append(max(clients.latencies(seq)))
        await asyncio.sleep(0.05)
    result: dict[str, Any] = {
        "server_fanout_ms": summary((await bench.fanout_ms("graphql"))[skip:]),
        "subscribers": size,
        "connected": clients.connected,
        "failed": len(clients.failed),
        "failures": sorted(set(clients.failed))[:5],
        "connect_and_subscribe_seconds": round(connect_seconds, 1),
        "memory_per_idle_connection_bytes": (idle - before) // size,
        "latency_ms": summary(latencies),
        "last_subscriber_ms": summary(all_delivered),
        "frame_bytes": clients.frame_bytes,
    }
    if size == 2000:
        steady = await bench.rss()
        for _ in range(10):
            seq += 10
            await bench.emit(task_id, 10)
            await clients.wait_all(seq)
        result["rss_before_100_events"] = steady
        result["rss_after_100_events"] = await bench.rss()
    if size == min(SIZES):
        burst = 200
        started = time.monotonic()
        await bench.emit(task_id, burst)
        await clients.wait_all(seq + burst)
        elapsed = time.monotonic() - started
        result["burst"] = {
            "events": burst,
            "seconds": round(elapsed, 3),
            "events_per_second": round(burst / elapsed, 1),
            "deliveries_per_second": round(burst * size / elapsed),
        }
    await clients.close()
    return result


async def measure_plain(bench: Bench, size: int, events: int, frame_bytes: int) -> dict[str, Any]:
    before = await bench.rss()
    sockets = PlainSockets(bench.port)
    await sockets.open(size)
    # one warm-up frame, as the GraphQL sockets had theirs: compression state now exists
    await (await bench.http.post(f"/bench/plain/broadcast?bytes={frame_bytes}")).aread()
    await sockets.wait_all(1)
    idle = await bench.rss()
    latencies: list[float] = []
    all_delivered: list[float] = []
    for index in range(2, events + 2):
        response = await bench.http.post(f"/bench/plain/broadcast?bytes={frame_bytes}")
        response.raise_for_status()
        await sockets.wait_all(index)
        latencies += sockets.latencies(index)
        all_delivered.append(max(sockets.latencies(index)))
        await asyncio.sleep(0.05)
    await sockets.close()
    return {
        "server_fanout_ms": summary((await bench.fanout_ms("plain"))[1:]),
        "sockets": size,
        "memory_per_idle_connection_bytes": (idle - before) // size,
        "latency_ms": summary(latencies),
        "last_subscriber_ms": summary(all_delivered),
    }


SIZES = [500, 2000, 5000]


@contextlib.asynccontextmanager
async def serving(database: str, redis: str) -> AsyncIterator[Bench]:
    """A fresh server process per measurement, so freed memory is not reused by the next."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        # -P: not bench/ first on sys.path, where bench/http.py would shadow the stdlib's http.
        "-P",
        str(ROOT / "bench" / "server.py"),
        *("--port", str(port), "--database-url", database, "--redis-url", redis),
        *("--data-dir", str(ROOT / "bench" / "results" / ".data")),
    )
    config = TokenConfig(secret=SECRET, issuer="agentwire", audience="agentwire")
    bench = Bench(port, issue_token(config, subject="bench", roles=[], ttl_seconds=7200))
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await bench.http.get("/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        yield bench
    finally:
        await bench.http.aclose()
        server.terminate()
        await server.wait()


async def run(sizes: list[int], events: int) -> dict[str, Any]:
    base = os.environ.get(
        "AGENTWIRE_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    redis = os.environ.get("AGENTWIRE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    database = await scratch_database(base)
    results: dict[str, Any] = {"sizes": {}}
    try:
        for size in sizes:
            print(f"graphql-transport-ws, {size} subscribers ...", flush=True)
            async with serving(database, redis) as bench:
                graphql = await measure_graphql(bench, size, events)
            print(f"plain Starlette broadcast, {size} sockets ...", flush=True)
            async with serving(database, redis) as bench:
                plain = await measure_plain(bench, size, events, graphql["frame_bytes"])
            ratio = graphql["latency_ms"]["p99"] / max(plain["latency_ms"]["p99"], 0.01)
            server_ratio = graphql["server_fanout_ms"]["p50"] / max(
                plain["server_fanout_ms"]["p50"], 0.01
            )
            results["sizes"][str(size)] = {
                "graphql": graphql,
                "plain": plain,
                "p99_ratio_to_plain": round(ratio, 2),
                "server_fanout_p50_ratio_to_plain": round(server_ratio, 2),
            }
            print(orjson.dumps(results["sizes"][str(size)]).decode(), flush=True)
    finally:
        await drop_database(base, database)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--events", type=int, default=20)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sizes = [int(s) for s in args.sizes.split(",")]
    SIZES[:] = sizes
    started = time.time()
    results = asyncio.run(run(sizes, args.events))
    results.update(
        {
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "seconds": round(time.time() - started, 1),
            "note": "latency = client receive time - event timestamp (taken in the journal "
            "before commit) for GraphQL; - broadcast start for plain. Clients run in one "
            "process on the same 2-core machine as the server. server_fanout_ms = server-side "
            "time of one fan-out: the plain send loop, or one topic delivery (render once, "
            "then every inline send).",
        }
    )
    out = ROOT / "bench" / "results" / f"fanout-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
