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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from auth.tokens import TokenConfig, issue_token
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
    def __init__(self, factory: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"bench.apps:{factory}",
                "--port",
                str(self.port),
                *UVICORN_FLAGS,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
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
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

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


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base = os.environ.get(
        "AGENTWIRE_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    database = await scratch_database(base)
    await upgrade_to_head(database)
    data_dir = tempfile.mkdtemp(prefix="agentwire-bench-")
    env = {
        "AGENTWIRE_DATABASE_URL": database,
        "AGENTWIRE_ENV": "test",
        "AGENTWIRE_DATA_DIR": data_dir,
        "AGENTWIRE_JWT_SECRET": SECRET,
        "AGENTWIRE_RUN_ENGINE": "false",
        "AGENTWIRE_LOG_LEVEL": "WARNING",
        "AGENTWIRE_DB_POOL_SIZE": "20",
        "AGENTWIRE_BENCH_COUNT_STATEMENTS": "1",
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
                rounds = []
                for _ in range(args.rounds):
                    measured: dict[str, Any] = {"load_average": os.getloadavg()}
                    for label, server, reqs, absent in (
                        ("baseline", baseline, base_requests, None),
                        ("agentwire", agentwire, requests, expect_absent),
                    ):
                        extra = ["--expect-absent", absent] if absent else []
                        cpu = server.cpu_seconds()
                        before = await statements(client) if label == "agentwire" else 0
                        closed = load(
                            server.port,
                            reqs,
                            "--mode",
                            "closed",
                            "--concurrency",
                            str(args.concurrency),
                            "--seconds",
                            str(args.seconds),
                            *extra,
                        )
                        cpu = server.cpu_seconds() - cpu
                        total = max(closed["sent_including_warmup"], 1)
                        if label == "agentwire":
                            closed["statements_per_request"] = round(
                                (await statements(client) - before) / total, 2
                            )
                        closed["server_cpu_ms_per_request"] = round(cpu * 1000 / total, 2)
                        opened = load(
                            server.port,
                            reqs,
                            "--mode",
                            "open",
                            "--rate",
                            str(args.rate),
                            "--seconds",
                            str(args.seconds),
                            *extra,
                        )
                        measured[label] = {"saturation": closed, "fixed_rate": opened}
                    b = measured["baseline"]["saturation"]["requests_per_second"] or 1
                    a = measured["agentwire"]["saturation"]["requests_per_second"] or 0
                    measured["ratio_to_baseline"] = round(a / b, 3)
                    rounds.append(measured)
                results["scenarios"][name] = {
                    "rounds": rounds,
                    "median": {
                        "baseline_rps": median(
                            [r["baseline"]["saturation"]["requests_per_second"] for r in rounds]
                        ),
                        "agentwire_rps": median(
                            [r["agentwire"]["saturation"]["requests_per_second"] for r in rounds]
                        ),
                        "ratio_to_baseline": median([r["ratio_to_baseline"] for r in rounds]),
                        "agentwire_cpu_ms_per_request": median(
                            [
                                r["agentwire"]["saturation"]["server_cpu_ms_per_request"]
                                for r in rounds
                            ]
                        ),
                        "baseline_cpu_ms_per_request": median(
                            [
                                r["baseline"]["saturation"]["server_cpu_ms_per_request"]
                                for r in rounds
                            ]
                        ),
                        "agentwire_statements_per_request": median(
                            [r["agentwire"]["saturation"]["statements_per_request"] for r in rounds]
                        ),
                        f"agentwire_p50_ms_at_{args.rate:g}_per_s": median(
                            [r["agentwire"]["fixed_rate"]["latency_ms"]["p50"] for r in rounds]
                        ),
                        f"agentwire_p99_ms_at_{args.rate:g}_per_s": median(
                            [r["agentwire"]["fixed_rate"]["latency_ms"]["p99"] for r in rounds]
                        ),
                        f"baseline_p99_ms_at_{args.rate:g}_per_s": median(
                            [r["baseline"]["fixed_rate"]["latency_ms"]["p99"] for r in rounds]
                        ),
                        "agentwire_errors": sum(
                            r["agentwire"]["saturation"]["errors"]
                            + r["agentwire"]["fixed_rate"]["errors"]
                            for r in rounds
                        ),
                    },
                }
                print(orjson.dumps(results["scenarios"][name]["median"]).decode(), flush=True)
    finally:
        baseline.stop()
        agentwire.stop()
        await drop_database(base, database)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--only", default=None, help="only the request kinds whose name has this")
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
