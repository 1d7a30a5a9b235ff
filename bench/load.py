"""HTTP/1.1 load generator for bench/http.py, run in a process of its own.

    python bench/load.py --port P --requests FILE --mode closed --concurrency 16 --seconds 3
    python bench/load.py --port P --requests FILE --mode open --rate 200 --seconds 3

FILE is a JSON list of requests ({"method", "path", "headers", "body"}); they are sent in
turn (cycled, or each once with --once). A small keep-alive client on raw asyncio streams,
so the generator costs far less CPU per request than the servers it measures.

- closed: `concurrency` connections, each sends its next request when the last answer
  arrives; the figure is completed requests per second (saturation throughput).
- open: requests are due at a fixed rate whatever the server does; each latency is measured
  from when the request was due, not when it was sent, so a stalled server shows in p99
  (no coordinated omission). Connections are opened as needed.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import orjson

WARMUP_SECONDS = 0.5
MAX_OPEN_CONNECTIONS = 512


def encode(request: dict[str, Any], port: int) -> bytes:
    body = request.get("body") or ""
    raw = body.encode() if isinstance(body, str) else orjson.dumps(body)
    head = [f"{request['method']} {request['path']} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    head += [f"{name}: {value}" for name, value in (request.get("headers") or {}).items()]
    if raw:
        head.append(f"Content-Length: {len(raw)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + raw


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"transfer-encoding":
                raise RuntimeError("chunked responses are not expected here")
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


class Tally:
    def __init__(self, expect_absent: bytes | None) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None
        self.expect_absent = expect_absent

    def record(self, status: int, body: bytes, latency: float, *, counted: bool) -> None:
        bad = status >= 400 or (self.expect_absent is not None and self.expect_absent in body)
        if bad:
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{status} {body[:300]!r}"
        if counted:
            self.latencies.append(latency)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000, 2)


class Requests:
    def __init__(self, encoded: list[bytes], *, once: bool) -> None:
        self.encoded = encoded
        self.once = once
        self.index = 0

    def next(self) -> bytes | None:
        if self.index >= len(self.encoded):
            if self.once:
                return None
            self.index = 0
        request = self.encoded[self.index]
        self.index += 1
        return request


async def closed_loop(
    port: int, requests: Requests, tally: Tally, concurrency: int, seconds: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + WARMUP_SECONDS
    stop_at = measure_from + seconds
    done = 0
    sent = 0

    async def worker() -> None:
        nonlocal done, sent
        connection = await Connection.open(port)
        try:
            while (now := loop.time()) < stop_at:
                request = requests.next()
                if request is None:
                    return
                status, body = await connection.send(request)
                finished = loop.time()
                sent += 1
                counted = now >= measure_from
                tally.record(status, body, finished - now, counted=counted)
                if counted and finished <= stop_at:
                    done += 1
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = min(loop.time(), stop_at) - measure_from
    return {
        "requests_per_second": round(done / elapsed, 1) if elapsed > 0 else None,
        "completed": done,
        "sent_including_warmup": sent,
        "seconds": round(elapsed, 2),
        "concurrency": concurrency,
    }


async def open_loop(
    port: int, requests: Requests, tally: Tally, rate: float, seconds: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    idle: list[Connection] = [await Connection.open(port) for _ in range(8)]
    opened = len(idle)
    in_flight: set[asyncio.Task[None]] = set()
    start = loop.time() + 0.05
    total = int(rate * (seconds + WARMUP_SECONDS))
    warm = int(rate * WARMUP_SECONDS)
    late_sends = 0

    async def one(request: bytes, due: float, counted: bool) -> None:
        nonlocal opened
        if idle:
            connection = idle.pop()
        else:
            opened += 1
            connection = await Connection.open(port)
        status, body = await connection.send(request)
        tally.record(status, body, loop.time() - due, counted=counted)
        idle.append(connection)

    for index in range(total):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.002:
            late_sends += 1
        request = requests.next()
        if request is None:
            break
        if len(in_flight) >= MAX_OPEN_CONNECTIONS:
            await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        job = asyncio.create_task(one(request, due, index >= warm))
        in_flight.add(job)
        job.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    for connection in idle:
        connection.close()
    return {
        "rate": rate,
        "seconds": seconds,
        "connections_opened": opened,
        "sent_late_by_the_generator": late_sends,
        "unfinished": len(in_flight),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    raw = orjson.loads(Path(args.requests).read_bytes())  # noqa: ASYNC240 (before any load)
    requests = Requests([encode(r, args.port) for r in raw], once=args.once)
    tally = Tally(args.expect_absent.encode() if args.expect_absent else None)
    if args.mode == "closed":
        result = await closed_loop(
            port=args.port,
            requests=requests,
            tally=tally,
            concurrency=args.concurrency,
            seconds=args.seconds,
        )
    else:
        result = await open_loop(
            port=args.port, requests=requests, tally=tally, rate=args.rate, seconds=args.seconds
        )
    result.update(
        {
            "mode": args.mode,
            "errors": tally.errors,
            "first_error": tally.first_error,
            "requests_left": len(requests.encoded) - requests.index if args.once else None,
            "latency_ms": {
                "p50": percentile(tally.latencies, 0.5),
                "p90": percentile(tally.latencies, 0.9),
                "p99": percentile(tally.latencies, 0.99),
                "max": percentile(tally.latencies, 1.0),
                "count": len(tally.latencies),
            },
        }
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--mode", choices=("closed", "open"), required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--once", action="store_true", help="send each request at most once")
    parser.add_argument("--expect-absent", default=None, help="a body containing this is an error")
    args = parser.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    result = asyncio.run(main_async(args))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    time.sleep(0)
    main()
