"""The pages a developer opens (Swagger UI, GraphiQL) never call outside their origin,
under a host name that is not loopback, loaded in a real headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser

from tests.support.browser import OriginWatch, launch_chromium
from tests.support.live import LiveServer

HOST = "agentwire.test"


@pytest_asyncio.fixture(scope="session")
async def mapped_chromium() -> AsyncIterator[Browser]:
    async with launch_chromium(host_map={HOST: "127.0.0.1"}) as browser:
        yield browser


async def test_swagger_ui_calls_nothing_outside_its_origin(
    server: LiveServer, mapped_chromium: Browser
) -> None:
    origin = f"http://{HOST}:{server.port}"
    context = await mapped_chromium.new_context()
    try:
        watch = await OriginWatch.attach(context, origin)
        page = await context.new_page()
        await page.goto(f"{origin}/api/docs")
        # The document has loaded and rendered: every operation is on the page.
        await page.locator(".opblock-summary-path").first.wait_for()
        await page.wait_for_load_state("networkidle")
        assert await page.locator(".opblock-summary-path").count() >= 6
        assert watch.outside == []
        assert f"{origin}/api/openapi.json" in watch.inside
    finally:
        await context.close()


async def test_graphiql_calls_nothing_outside_its_origin(
    server: LiveServer, mapped_chromium: Browser
) -> None:
    origin = f"http://{HOST}:{server.port}"
    context = await mapped_chromium.new_context()
    try:
        watch = await OriginWatch.attach(context, origin)
        page = await context.new_page()
        await page.goto(f"{origin}/graphql")
        await page.locator(".graphiql-container").wait_for()
        await page.wait_for_load_state("networkidle")
        assert watch.outside == []
        assert f"{origin}/graphql" in watch.inside
    finally:
        await context.close()


async def test_graphiql_knows_the_schema_once_a_token_is_pasted(
    server: LiveServer, mapped_chromium: Browser
) -> None:
    origin = f"http://{HOST}:{server.port}"
    context = await mapped_chromium.new_context()
    try:
        watch = await OriginWatch.attach(context, origin)
        page = await context.new_page()
        await page.goto(f"{origin}/graphql")
        await page.locator(".graphiql-container").wait_for()
        # given the page loaded without a token (its first schema fetch was refused)
        await page.get_by_role("button", name="Headers").click()
        headers_editor = page.locator(".graphiql-editor-tool .CodeMirror").last
        await headers_editor.click()
        # when the token is pasted into the headers editor
        await page.keyboard.insert_text(f'{{"Authorization": "Bearer {server.token()}"}}')
        # then the Docs pane shows the schema, without "Re-fetch GraphQL schema"
        await page.get_by_role("button", name="Show Documentation Explorer").click()
        explorer = page.locator(".graphiql-doc-explorer")
        await explorer.get_by_text("query: Query").wait_for()
        assert "Error fetching schema" not in await explorer.inner_text()
        # and the query editor completes field names from it
        query_editor = page.locator(".graphiql-query-editor .CodeMirror").first
        await query_editor.click()
        await page.keyboard.press("Control+A")
        await page.keyboard.press("Delete")
        await page.keyboard.type("{ tas")
        hint = page.locator(".CodeMirror-hints .CodeMirror-hint", has_text="tasks")
        await hint.first.wait_for()
        assert watch.outside == []
    finally:
        await context.close()
