"""The task monitor page at `/`: static files built from the TypeScript SDK and committed.

`clients/typescript` builds them (`npm run monitor:build`) into `server/monitor/`, so serving
the page needs no Node.js; tests/unit/test_monitor_build.py fails when the build is older
than its sources.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

MONITOR_DIR = Path(__file__).resolve().parent / "monitor"


async def monitor_index(request: Request) -> Response:
    # no-cache: a new build is picked up at once; the assets are revalidated by ETag.
    return FileResponse(MONITOR_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def monitor_routes() -> list[BaseRoute]:
    return [
        Route("/", monitor_index, methods=["GET", "HEAD"]),
        Mount("/monitor", app=StaticFiles(directory=MONITOR_DIR), name="monitor"),
    ]
