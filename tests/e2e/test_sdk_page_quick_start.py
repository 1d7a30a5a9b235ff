"""The TypeScript SDK's page quick start (clients/typescript/README.md) in headless Chromium:
the snippet as pasted (with the server's address and the printed development token filled
in) runs as a module on a page of the server's origin, importing the built SDK by its name
through an import map, and the page shows the task completing after its approval."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, Route, expect

from tests.e2e.monitor_server import ServeProcess
from tests.support.browser import OriginWatch, launch_chromium

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "clients" / "typescript"
PREFIX = "/__quick-start"


def page_snippet() -> str:
    readme = (SDK / "README.md").read_text()
    match = re.search(r"## Quick start \(a page\)\n\n```ts\n(.*?)```", readme, re.S)
    assert match, "the README has a page quick start"
    return match.group(1)


def built_sdk() -> Path:
    built = SDK / "dist" / "index.js"
    newest_source = max(p.stat().st_mtime for p in (SDK / "src").glob("*.ts"))
    if not built.exists() or built.stat().st_mtime < newest_source:
        subprocess.run(["npm", "run", "build", "--silent"], cwd=SDK, check=True)
    return SDK / "dist"


@pytest_asyncio.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    process = ServeProcess(tmp_path)
    await asyncio.to_thread(process.start)
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    # A document that Playwright fulfils has no network address, so Chromium's local network
    # access checks count it as public and block its socket to 127.0.0.1; a page a developer
    # serves from their own machine is local and never blocked.
    async with launch_chromium(
        extra_args=["--disable-features=LocalNetworkAccessChecks"]
    ) as running:
        yield running


async def test_the_page_quick_start_shows_the_task_completing(
    serve: ServeProcess, browser: Browser
) -> None:
    dist = await asyncio.to_thread(built_sdk)
    graphql_ws = SDK / "node_modules" / "graphql-ws" / "dist"
    # what a person pastes: their server's address and the token `agentwire serve` printed
    snippet = page_snippet().replace("http://127.0.0.1:8000", serve.origin)
    snippet = snippet.replace("<development token>", serve.printed_token)
    imports = {
        "@agentwire/client": f"{PREFIX}/sdk/index.js",
        "graphql-ws": f"{PREFIX}/gws/client.js",
    }
    html = (
        f'<!doctype html><html><head><script type="importmap">{json.dumps({"imports": imports})}'
        f'</script></head><body><script type="module">\n{snippet}\n</script></body></html>'
    )
    folders = {f"{PREFIX}/sdk/": dist, f"{PREFIX}/gws/": graphql_ws}

    async def files(route: Route) -> None:
        path = route.request.url.removeprefix(serve.origin).split("?")[0]
        if path == f"{PREFIX}/page.html":
            await route.fulfill(body=html, content_type="text/html")
            return
        for prefix, folder in folders.items():
            if path.startswith(prefix):
                file = folder / path.removeprefix(prefix)
                kind = mimetypes.guess_type(file.name)[0] or "text/javascript"
                await route.fulfill(body=file.read_bytes(), content_type=kind)
                return
        await route.continue_()

    context = await browser.new_context()
    watch = await OriginWatch.attach(context, serve.origin)
    await context.route(f"{serve.origin}{PREFIX}/**", files)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{serve.origin}{PREFIX}/page.html")
    # the body shows the steps; the approval is answered by the snippet itself
    await expect(page.locator("body")).to_contain_text('"status":"COMPLETED"', timeout=20_000)
    assert await page.title() == "open"
    assert errors == []
    tasks = serve.graphql("{ tasks(first: 5) { edges { node { status artifacts } } } }")
    assert tasks == {"tasks": {"edges": [{"node": {"status": "COMPLETED", "artifacts": {"a": 1}}}]}}
    assert watch.outside == []
    await context.close()
