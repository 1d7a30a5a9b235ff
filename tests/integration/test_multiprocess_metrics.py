"""`uvicorn --workers 2` with PROMETHEUS_MULTIPROC_DIR: /metrics, answered by either worker,
adds up both workers' figures (counters, histograms and livesum gauges)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from db.migrate import upgrade_to_head
from tests.support.live import TEST_JWT_SECRET
from tests.support.realtime import free_port

ROOT = Path(__file__).resolve().parents[2]
HEALTH = {"route": "/healthz", "method": "GET", "status": "200"}


@contextlib.asynccontextmanager
async def two_workers(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'agentwire.db'}"
    await upgrade_to_head(database_url)
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "AGENTWIRE_ENV": "test",
        "AGENTWIRE_DATA_DIR": str(tmp_path),
        "AGENTWIRE_DATABASE_URL": database_url,
        "AGENTWIRE_JWT_SECRET": TEST_JWT_SECRET,
        "AGENTWIRE_RUN_ENGINE": "false",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "server.app:create_app",
        "--workers",
        "2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with asyncio.timeout(60), httpx.AsyncClient(base_url=base) as client:
            # Both workers have loaded the app once each has written its own metric files.
            while len(pids(metrics_dir)) < 2 or not await answers(client):
                if process.returncode is not None:
                    assert process.stderr is not None
                    raise AssertionError((await process.stderr.read()).decode())
                await asyncio.sleep(0.1)
        yield base, metrics_dir
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.wait()


async def answers(client: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return (await client.get("/readyz")).status_code == 200
    return False


def pids(metrics_dir: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in metrics_dir.glob("*.db")}


def health_count_by_worker(metrics_dir: Path) -> dict[str, float]:
    """Each worker's own count of `GET /healthz`, read from its own file."""
    counts: dict[str, float] = defaultdict(float)
    for path in metrics_dir.glob("counter_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        for family in MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == "agentwire_http_requests_total" and sample.labels == HEALTH:
                    counts[pid] += sample.value
    return dict(counts)


async def scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx.AsyncClient(base_url=base) as client:
        text = (await client.get("/metrics")).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_add_up_over_two_uvicorn_workers(tmp_path: Path) -> None:
    async with two_workers(tmp_path) as (base, metrics_dir):
        # when requests arrive on fresh connections until both workers have answered some
        sent = 0
        async with asyncio.timeout(60):
            while len(health_count_by_worker(metrics_dir)) < 2 or sent < 20:
                async with httpx.AsyncClient(base_url=base) as client:
                    assert (await client.get("/healthz")).status_code == 200
                sent += 1
        by_worker = health_count_by_worker(metrics_dir)
        samples = await scrape(base)
    # then either worker's /metrics reports the sum of both
    assert len(by_worker) == 2 and all(count > 0 for count in by_worker.values())
    assert sum(by_worker.values()) == sent
    assert samples[("agentwire_http_requests_total", frozenset(HEALTH.items()))] == sent
    # and a livesum gauge adds the workers up: two pools of the SQLite engine's five
    assert samples[("agentwire_db_pool_size", frozenset())] == 10
