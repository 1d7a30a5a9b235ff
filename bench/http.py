# ruff: noqa: E402  (imports follow the sys.path fix below)
"""HTTP benchmark: agentwire beside a bare Starlette + SQLAlchemy Core one-row read, one run.

    .venv/bin/python bench/http.py [--rounds 3] [--seconds 2] [--tasks 100000] [--metrics off]

Makes a scratch PostgreSQL database (AGENTWIRE_BENCH_DATABASE_URL, default
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres), seeds `--tasks` finished tasks for
the bench user with one bulk INSERT … SELECT, and starts two uvicorn processes with the
same flags (one worker each, same database): bench/apps.py:baseline and bench/apps.py:agentwire
(an API-only instance, AGENTWIRE_RUN_ENGINE=false, so submitted tasks stay queued and the
backlog grows during the run as it would under a burst). For each request kind, in each
round, the baseline and then agentwire are measured:

- saturation: closed-loop load generator (bench/load.py, its own process), requests/s;
- latency: open-loop generator at a fixed rate (default 200/s), p50/p99 from when each
  request was due;
- server CPU per request (the server process's user+system time over the run) and, for
  agentwire, SQL statements per request (a cursor-execute counter in the server).

Each agentwire figure is also given as a ratio to the baseline of the same round; the
JSON keeps every round and the median. The machine's load average is recorded per round:
this machine is shared, so read the figures beside it. Writes bench/results/http-*.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder is first on sys.path, and its name would shadow the
# standard library's `http` package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from auth.tokens import TokenConfig, issue_token
from bench.scenarios import APPROVE, drain_rate, events_across_tasks, seed_approvals
from db.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-not-for-production-0123456789abcdef"
UVICORN_FLAGS = [
    "--host",
    "127.0.0.1",
    "--workers",
    "1",
    "--log-level",
    "warning",
    "--no-access-log",
    "--backlog",
    "4096",
]

TASK_READ = (
    "query($id: ID!) { task(id: $id) { id status progress queuePosition "
    "steps { id name status progress } } }"
)
TASKS_PAGE = (
    "query { tasks(first: 20) { pageInfo { hasNextPage endCursor } "
    "edges { node { id status createdAt queuePosition } } } }"
)
SUBMIT = "mutation($input: SubmitTaskInput!) { submitTask(input: $input) { id status } }"
STEPS = {"steps": [{"action": "wait", "params": {"ms": 10}} for _ in range(3)]}


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


class Server:
    def __init__(self, factory: str, env: dict[str, str], *, workers: int = 1) -> None:
        self.port = free_port()
        flags = list(UVICORN_FLAGS)
        flags[flags.index("--workers") + 1] = str(workers)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"bench.apps:{factory}",
                "--port",
                str(self.port),
                *flags,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            # The servers' own logs (refusals under overload can be many) go to a file.
            stderr=open(  # noqa: SIM115  (the process owns it until it exits)
                ROOT / "bench" / "results" / f"server-{factory}-{self.port}.log", "wb"
            ),
        )

    async def ready(self, path: str) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as client:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(path)).status_code < 500:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server on {self.port} never answered {path}")

    def cpu_seconds(self) -> float:
        """This server's processes (with --workers, the workers are children)."""
        process = psutil.Process(self.process.pid)
        total = 0.0
        for member in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = member.cpu_times()
                total += times.user + times.system
        return total

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


def load(port: int, requests: list[dict[str, Any]], *args: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as file:
        file.write(orjson.dumps(requests))
    try:
        out = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "load.py"),
                "--port",
                str(port),
                "--requests",
                file.name,
                *args,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(file.name)
    return dict(orjson.loads(out))


def graphql_request(token: str, query: str, **variables: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/graphql",
        "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        "body": orjson.dumps({"query": query, "variables": variables}).decode(),
    }


def get_request(token: str, path: str) -> dict[str, Any]:
    return {"method": "GET", "path": path, "headers": {"Authorization": f"Bearer {token}"}}


async def seed(database: str, subject: str, count: int) -> None:
    """`count` finished tasks for the user, copied from one real task in one statement."""
    engine = create_async_engine(database)
    async with engine.begin() as connection:
        columns = [
            row[0]
            for row in await connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'tasks' ORDER BY ordinal_position"
                )
            )
        ]
        overrides = {
            "id": "gen_random_uuid()",
            "task": "'seeded task ' || g",
            "status": "'completed'",
            "idempotency_key": "NULL",
            "created_at": "now() - interval '1 day' - g * interval '1 second'",
            "finished_at": "now() - interval '1 day' - g * interval '1 second' + interval '5 s'",
        }
        select_list = ", ".join(overrides.get(c, c) for c in columns)
        await connection.execute(
            text(
                f"INSERT INTO tasks ({', '.join(columns)}) SELECT {select_list} "
                "FROM (SELECT * FROM tasks WHERE user_id = "
                "(SELECT id FROM users WHERE subject = :subject) LIMIT 1) AS template, "
                "generate_series(1, :count) AS g"
            ),
            {"subject": subject, "count": count},
        )
        await connection.execute(text("ANALYZE tasks"))
    await engine.dispose()


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


async def statements(client: httpx.AsyncClient) -> int:
    return int((await client.get("/bench/statements")).json()["statements"])


APPROVALS_PER_PHASE = 1500
# The fixed-rate phase runs only where saturation reaches this share of --rate.
SUSTAINABLE = 0.9


def not_sustained(closed: dict[str, Any], rate: float) -> dict[str, Any]:
    return {
        "skipped": f"saturation {closed['requests_per_second']}/s is below {rate:g}/s",
        "latency_ms": {"p50": None, "p99": None},
        "errors": 0,
    }


REDIS_URL = os.environ.get("AGENTWIRE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def wanted(args: argparse.Namespace, name: str) -> bool:
    return args.only is None or args.only in name


@dataclass
class Side:
    """One server in a comparison, with what it is sent: (round, phase) -> requests."""

    label: str
    server: Server
    requests: Callable[[int, str], list[dict[str, Any]]]
    expect_absent: str | None = None
    once: bool = False
    count_statements: bool = False


def approvals_for(requests: list[dict[str, Any]]) -> Callable[[int, str], list[dict[str, Any]]]:
    def pick(round_index: int, phase: str) -> list[dict[str, Any]]:
        start = (round_index * 2 + (phase == "open")) * APPROVALS_PER_PHASE
        return requests[start : start + APPROVALS_PER_PHASE]

    return pick


def same(requests: list[dict[str, Any]]) -> Callable[[int, str], list[dict[str, Any]]]:
    return lambda _round, _phase: requests


async def measure(
    args: argparse.Namespace, client: httpx.AsyncClient, side: Side, round_index: int
) -> dict[str, Any]:
    extra = ["--expect-absent", side.expect_absent] if side.expect_absent else []
    if side.once:
        extra.append("--once")
    cpu = side.server.cpu_seconds()
    before = await statements(client) if side.count_statements else 0
    closed = load(
        side.server.port,
        side.requests(round_index, "closed"),
        "--mode",
        "closed",
        "--concurrency",
        str(args.concurrency),
        "--seconds",
        str(args.seconds),
        *extra,
    )
    cpu = side.server.cpu_seconds() - cpu
    total = max(closed["sent_including_warmup"], 1)
    if side.count_statements:
        closed["statements_per_request"] = round((await statements(client) - before) / total, 2)
    closed["server_cpu_ms_per_request"] = round(cpu * 1000 / total, 2)
    if (closed["requests_per_second"] or 0) < args.rate * SUSTAINABLE:
        # Below the rate at saturation, an open loop only builds a queue that the server
        # keeps working off into the next measurements: the latency would be the queue's.
        return {"saturation": closed, "fixed_rate": not_sustained(closed, args.rate)}
    opened = load(
        side.server.port,
        side.requests(round_index, "open"),
        "--mode",
        "open",
        "--rate",
        str(args.rate),
        "--seconds",
        str(args.seconds),
        *extra,
    )
    return {"saturation": closed, "fixed_rate": opened}


async def compare(
    args: argparse.Namespace, client: httpx.AsyncClient, *, first: Side, second: Side
) -> dict[str, Any]:
    """Interleaved rounds (first, second, first, …); medians, and each round's ratio of
    second to first saturation throughput."""
    rounds = []
    ratio_key = f"ratio_to_{first.label}"
    for round_index in range(args.rounds):
        measured: dict[str, Any] = {"load_average": os.getloadavg()}
        for side in (first, second):
            measured[side.label] = await measure(args, client, side, round_index)
        b = measured[first.label]["saturation"]["requests_per_second"] or 1
        a = measured[second.label]["saturation"]["requests_per_second"] or 0
        measured[ratio_key] = round(a / b, 3)
        rounds.append(measured)

    def med(label: str, *path: str) -> float | None:
        values = []
        for r in rounds:
            value: Any = r[label]
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            values.append(value)
        return median(values)

    summary: dict[str, Any] = {ratio_key: median([r[ratio_key] for r in rounds])}
    for side in (first, second):
        summary[f"{side.label}_rps"] = med(side.label, "saturation", "requests_per_second")
        summary[f"{side.label}_cpu_ms_per_request"] = med(
            side.label, "saturation", "server_cpu_ms_per_request"
        )
        summary[f"{side.label}_p50_ms_at_{args.rate:g}_per_s"] = med(
            side.label, "fixed_rate", "latency_ms", "p50"
        )
        summary[f"{side.label}_p99_ms_at_{args.rate:g}_per_s"] = med(
            side.label, "fixed_rate", "latency_ms", "p99"
        )
        if side.count_statements:
            summary[f"{side.label}_statements_per_request"] = med(
                side.label, "saturation", "statements_per_request"
            )
        summary[f"{side.label}_errors"] = sum(
            r[side.label]["saturation"]["errors"] + r[side.label]["fixed_rate"]["errors"]
            for r in rounds
        )
    return {"rounds": rounds, "median": summary}


async def redis_scenarios(
    args: argparse.Namespace,
    env: dict[str, str],
    client: httpx.AsyncClient,
    token: str,
    task_id: str,
    plain: Server,
) -> dict[str, Any]:
    """The same app with AGENTWIRE_REDIS_URL (bus and rate limiter on Redis) against none,
    and two uvicorn workers on Redis against one."""
    redis_env = {**env, "AGENTWIRE_REDIS_URL": REDIS_URL}
    one = Server("agentwire", redis_env)
    two = Server("agentwire", redis_env, workers=2)
    out: dict[str, Any] = {}
    try:
        await one.ready("/healthz")
        await two.ready("/healthz")
        read = same([get_request(token, f"/api/agent/{task_id}")])
        task_read = same([graphql_request(token, TASK_READ, id=task_id)])
        submits = same(
            [
                graphql_request(token, SUBMIT, input={"task": f"redis {i}", "context": STEPS})
                for i in range(200)
            ]
        )
        cases = {
            "GET /api/agent/{id}: Redis vs none": (
                Side("no_redis", plain, read),
                Side("redis", one, read),
            ),
            "submitTask: Redis vs none": (
                Side("no_redis", plain, submits, '"errors"'),
                Side("redis", one, submits, '"errors"'),
            ),
            "GET /api/agent/{id}: two workers vs one (Redis)": (
                Side("one_worker", one, read),
                Side("two_workers", two, read),
            ),
            "Query.task with steps: two workers vs one (Redis)": (
                Side("one_worker", one, task_read, '"errors"'),
                Side("two_workers", two, task_read, '"errors"'),
            ),
        }
        for name, (first, second) in cases.items():
            print(f"{name} ...", flush=True)
            out[name] = await compare(args, client, first=first, second=second)
            print(orjson.dumps(out[name]["median"]).decode(), flush=True)
    finally:
        one.stop()
        two.stop()
    return out


async def events_scenario(
    args: argparse.Namespace, database: str, token: str, server: Server
) -> dict[str, Any]:
    engine = create_async_engine(database)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT id, last_seq FROM tasks WHERE task LIKE 'seeded task %' "
                    "ORDER BY created_at DESC LIMIT :n"
                ),
                {"n": args.event_tasks},
            )
        ).all()
    await engine.dispose()
    runs = []
    for _ in range(args.rounds):
        runs.append(
            await events_across_tasks(
                port=server.port,
                token=token,
                tasks=[
                    (str(row[0]), int(row[1]) + len(runs) * args.events_per_task) for row in rows
                ],
                events_per_task=args.events_per_task,
                cpu_seconds=server.cpu_seconds,
            )
        )
    return {
        "rounds": runs,
        "median": {
            "written_and_delivered_per_second": median(
                [r["written_and_delivered_per_second"] for r in runs]
            ),
            "delivery_p50_ms": median([r["delivery_ms"]["p50"] for r in runs]),
            "delivery_p99_ms": median([r["delivery_ms"]["p99"] for r in runs]),
            "server_cpu_ms_per_event": median([r["server_cpu_ms_per_event"] for r in runs]),
        },
    }


async def drain_scenario(
    args: argparse.Namespace, env: dict[str, str], database: str
) -> dict[str, Any]:
    """The backlog the submitTask rounds left (three 10 ms waits each), run by an engine
    with --drain-slots slots (global and per user, as every task is the bench user's)."""
    engine = create_async_engine(database)
    async with engine.begin() as connection:
        # Only the submitted three-step tasks are measured; nothing else competes for slots.
        await connection.execute(
            text(
                "UPDATE tasks SET status = 'cancelled' "
                "WHERE status IN ('pending', 'awaiting_approval') AND task NOT LIKE 'bench %'"
            )
        )
    await engine.dispose()
    slots = str(args.drain_slots)
    runner = Server(
        "agentwire",
        {
            **env,
            "AGENTWIRE_RUN_ENGINE": "true",
            "AGENTWIRE_MAX_RUNNING": slots,
            "AGENTWIRE_MAX_RUNNING_PER_USER": slots,
        },
    )
    started = time.monotonic()
    try:
        await runner.ready("/healthz")
        cpu = runner.cpu_seconds()
        result = await drain_rate(
            database, tasks_like="bench %", seconds=args.drain_seconds, started=started
        )
        cpu = runner.cpu_seconds() - cpu
    finally:
        runner.stop()
    per_task = round(cpu * 1000 / result["completed"], 2) if result["completed"] else None
    return {**result, "slots": args.drain_slots, "server_cpu_ms_per_task": per_task}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base = os.environ.get(
        "AGENTWIRE_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    database = await scratch_database(base)
    print(f"scratch database {make_url(database).database}", flush=True)
    await upgrade_to_head(database)
    data_dir = tempfile.mkdtemp(prefix="agentwire-bench-")
    env = {
        "AGENTWIRE_DATABASE_URL": database,
        "AGENTWIRE_ENV": "test",
        "AGENTWIRE_DATA_DIR": data_dir,
        "AGENTWIRE_JWT_SECRET": SECRET,
        "AGENTWIRE_RUN_ENGINE": "false",
        "AGENTWIRE_LOG_LEVEL": "WARNING",
        # PostgreSQL here allows 100 connections, shared with whatever else runs: up to
        # five bench servers at once must stay well inside that (pool + as many overflow).
        "AGENTWIRE_DB_POOL_SIZE": str(args.pool_size),
        # Under saturation requests queue for a connection; the 5 s production timeouts
        # would turn that queue into refusals on a loaded machine, and this measures
        # throughput, not refusals.
        "AGENTWIRE_DB_POOL_TIMEOUT": "120",
        "AGENTWIRE_DB_COMMAND_TIMEOUT": "120",
        "AGENTWIRE_DB_STATEMENT_TIMEOUT": "120",
        "AGENTWIRE_BENCH_COUNT_STATEMENTS": "1",
        # The events scenario holds one socket per task, all of the bench user.
        "AGENTWIRE_WS_MAX_CONNECTIONS_PER_USER": "10000",
        # --metrics off: the same run without recording request metrics, to price them.
        "AGENTWIRE_METRICS_ENABLED": "true" if args.metrics == "on" else "false",
        **{
            f"AGENTWIRE_RATE_LIMIT_{k}": "100000000/minute"
            for k in ("READ", "WRITE", "SUBSCRIBE", "WS_MESSAGE")
        },
    }
    config = TokenConfig(secret=SECRET, issuer="agentwire", audience="agentwire")
    token = issue_token(config, subject="bench", roles=[], ttl_seconds=7200)
    baseline = Server("baseline", env)
    agentwire = Server("agentwire", env)
    results: dict[str, Any] = {"scenarios": {}}
    try:
        await agentwire.ready("/healthz")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{agentwire.port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as client:
            submitted = await client.post(
                "/graphql",
                json={
                    "query": SUBMIT,
                    "variables": {"input": {"task": "the task the reads read", "context": STEPS}},
                },
            )
            task_id = submitted.json()["data"]["submitTask"]["id"]
            started = time.monotonic()
            await seed(database, "bench", args.tasks)
            results["seed_seconds"] = round(time.monotonic() - started, 1)
            await baseline.ready(f"/row/{task_id}")
            # Each approval can be answered once: a fresh slice for every round and phase.
            approvals = (
                await seed_approvals(database, "bench", APPROVALS_PER_PHASE * 2 * args.rounds)
                if wanted(args, "approve")
                else []
            )
            scenarios: dict[str, tuple[list[dict[str, Any]], str | None]] = {
                "Query.task with steps": (
                    [graphql_request(token, TASK_READ, id=task_id)],
                    '"errors"',
                ),
                "GET /api/agent/{id}": ([get_request(token, f"/api/agent/{task_id}")], None),
                "GET /api/agent/history?limit=20": (
                    [get_request(token, "/api/agent/history?limit=20")],
                    None,
                ),
                "Query.tasks(first: 20)": ([graphql_request(token, TASKS_PAGE)], '"errors"'),
                "approve": (
                    [
                        graphql_request(
                            token,
                            APPROVE,
                            input={"taskId": t, "approvalId": a, "approved": True},
                        )
                        for t, a in approvals
                    ],
                    '"errors"',
                ),
                "submitTask": (
                    [
                        graphql_request(
                            token, SUBMIT, input={"task": f"bench {i}", "context": STEPS}
                        )
                        for i in range(200)
                    ],
                    '"errors"',
                ),
            }
            base_requests = [get_request(token, f"/row/{task_id}")]
            if args.only:
                scenarios = {k: v for k, v in scenarios.items() if args.only in k}
            for name, (requests, expect_absent) in scenarios.items():
                print(f"{name} ...", flush=True)
                once = name == "approve"
                results["scenarios"][name] = await compare(
                    args,
                    client,
                    first=Side("baseline", baseline, same(base_requests)),
                    second=Side(
                        "agentwire",
                        agentwire,
                        approvals_for(requests) if once else same(requests),
                        expect_absent,
                        once=once,
                        count_statements=True,
                    ),
                )
                print(orjson.dumps(results["scenarios"][name]["median"]).decode(), flush=True)
            if wanted(args, "redis"):
                results["redis"] = await redis_scenarios(
                    args, env, client, token, task_id, agentwire
                )
            if wanted(args, "events"):
                print("events across 100 running tasks ...", flush=True)
                results["events"] = await events_scenario(args, database, token, agentwire)
                print(orjson.dumps(results["events"]).decode(), flush=True)
            if wanted(args, "drain"):
                print("engine drain ...", flush=True)
                results["drain"] = await drain_scenario(args, env, database)
                print(orjson.dumps(results["drain"]).decode(), flush=True)
    finally:
        baseline.stop()
        agentwire.stop()
        await drop_database(base, database)
    return results


def main() -> None:
    # A SIGTERM ends the run like Ctrl-C, so its servers stop and its database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument(
        "--only",
        default=None,
        help="only the scenarios whose name has this (a request kind, approve, redis, "
        "events, drain)",
    )
    parser.add_argument("--pool-size", type=int, default=5, help="DB pool per server process")
    parser.add_argument("--event-tasks", type=int, default=100)
    parser.add_argument("--events-per-task", type=int, default=10)
    parser.add_argument("--drain-seconds", type=float, default=10)
    parser.add_argument("--drain-slots", type=int, default=32)
    parser.add_argument(
        "--metrics", choices=("on", "off"), default="on", help="record request metrics (on)"
    )
    args = parser.parse_args()
    started = time.time()
    results = asyncio.run(run(args))
    results.update(
        {
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "load_average_at_end": os.getloadavg(),
            },
            "settings": vars(args),
            "uvicorn_flags": UVICORN_FLAGS,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "seconds": round(time.time() - started, 1),
        }
    )
    out = ROOT / "bench" / "results" / f"http-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
