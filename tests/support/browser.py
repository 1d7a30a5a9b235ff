"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright never downloads a browser here (no `playwright install`): `python3 dev.py test`
installs Debian's chromium with apt-get when it is missing, and every launch points
Playwright at it with `executable_path`.

Use, in a test:

    async with launch_chromium(host_map={"agentwire.test": "127.0.0.1"}) as browser:
        context = await browser.new_context()
        watch = await OriginWatch.attach(context, f"http://agentwire.test:{server.port}")
        page = await context.new_page()
        await page.goto(f"http://agentwire.test:{server.port}/api/docs")
        ...
        assert watch.outside == []

or take the session-wide `chromium` fixture (a `Browser`, no host names mapped;
import it into a conftest.py: `from tests.support.browser import chromium`).

`host_map` makes Chromium resolve each name to the given loopback address
(`--host-resolver-rules`), so a page is loaded under a non-loopback `Host` while
the connection still goes to 127.0.0.1: no test reaches the network.
`OriginWatch` records every request and WebSocket a context opens that leaves the
page's origin, and aborts those requests, so a page that calls out is both seen and
kept from reaching the network.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Route, WebSocket, async_playwright

CHROMIUM = Path("/usr/bin/chromium")

# Headless and quiet: no GPU, no background update or telemetry requests of the browser's
# own, so every request a test sees was made by the page.
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-proxy-server",
)


@contextlib.asynccontextmanager
async def launch_chromium(
    *, host_map: Mapping[str, str] | None = None, extra_args: Sequence[str] = ()
) -> AsyncIterator[Browser]:
    """A headless Chromium (closed on exit); `host_map` resolves names to loopback addresses."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat before a browser launch
        raise RuntimeError(
            f"{CHROMIUM} is missing: run the tests with `python3 dev.py test` (it installs "
            "chromium as root), or `apt-get install -y chromium`"
        )
    args = [*LAUNCH_ARGS, *extra_args]
    if host_map:
        rules = ", ".join(f"MAP {name} {address}" for name, address in host_map.items())
        args.append(f"--host-resolver-rules={rules}")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        try:
            yield browser
        finally:
            await browser.close()


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, with ws/wss counted as the http/https origin."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


class OriginWatch:
    """Every request and WebSocket of one browser context that leaves `origin`."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.outside: list[str] = []
        self.inside: list[str] = []

    @classmethod
    async def attach(cls, context: BrowserContext, origin: str) -> OriginWatch:
        watch = cls(origin)
        await context.route("**/*", watch._route)

        def on_websocket(socket: WebSocket) -> None:
            watch._note(socket.url)

        for page in context.pages:
            page.on("websocket", on_websocket)
        context.on("page", lambda page: page.on("websocket", on_websocket))
        return watch

    def _note(self, url: str) -> bool:
        if url.startswith(("data:", "blob:", "about:")) or origin_of(url) == self.origin:
            self.inside.append(url)
            return True
        self.outside.append(url)
        return False

    async def _route(self, route: Route) -> None:
        if self._note(route.request.url):
            await route.continue_()
        else:
            await route.abort("blockedbyclient")


@pytest_asyncio.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """One headless Chromium for the whole run (no host names mapped)."""
    async with launch_chromium() as browser:
        yield browser
