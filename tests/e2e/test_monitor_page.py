"""The task monitor page at `/` in headless Chromium, against `agentwire serve`."""
# agentwire serve runs as a person starts it (a subprocess), so it can restart under one origin.

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.monitor_server import ServeProcess
from tests.support.browser import OriginWatch, launch_chromium

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".pytest-artifacts"
STORED_SEQS = "query($t: ID!) { taskEvents(taskId: $t, limit: 500) { seq } }"
STORED_EVENTS = "query($t: ID!) { taskEvents(taskId: $t, limit: 500) { seq type } }"


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as running:
        yield running


@pytest_asyncio.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    process = ServeProcess(tmp_path)
    await asyncio.to_thread(process.start)
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)


async def signed_in(context: BrowserContext, serve: ServeProcess) -> Page:
    page = await context.new_page()
    await page.goto(f"{serve.origin}/")
    await page.get_by_test_id("token-input").fill(serve.printed_token)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("submit-task")).to_be_visible()
    return page


async def submit(page: Page, plan: dict[str, object]) -> str:
    detail = page.locator("#detail")
    before = await detail.get_attribute("data-task-id")
    await page.get_by_test_id("task-input").fill(json.dumps(plan))
    await page.get_by_test_id("submit-task").click()
    await page.wait_for_function(
        "before => { const id = document.getElementById('detail').dataset.taskId;"
        " return !!id && id !== before; }",
        arg=before,
    )
    task_id = await detail.get_attribute("data-task-id")
    assert task_id
    await expect(detail.get_by_test_id("task-status")).not_to_be_empty()
    return task_id


def status_of(page: Page) -> object:
    return page.locator("#detail").get_by_test_id("task-status")


async def test_submit_watch_approve_edited_undo_after_plan_cancel_and_filter(
    serve: ServeProcess, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    watch = await OriginWatch.attach(context, serve.origin)
    page = await signed_in(context, serve)
    # submit, watch, and approve with an edited parameter
    task_id = await submit(
        page,
        {
            "task": "Write two notes",
            "context": {
                "steps": [
                    {"name": "draft", "action": "note", "params": {"key": "a", "value": 1}},
                    {
                        "name": "send",
                        "action": "note",
                        "params": {"key": "b", "value": 2},
                        "requiresApproval": True,
                    },
                ]
            },
        },
    )
    card = page.get_by_test_id("approval-card")
    await expect(card).to_be_visible()
    countdown = page.get_by_test_id("approval-countdown")
    await expect(countdown).to_have_text(re.compile(r"Expires in \d+:\d\d"))
    await expect(page.get_by_test_id("step-row")).to_have_count(2)
    await expect(page.get_by_test_id("connection-status")).to_have_text("open")
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "monitor-phone.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    await page.get_by_test_id("edit-parameters").fill('{"key": "b", "value": 3}')
    await page.get_by_test_id("approve").click()
    await expect(status_of(page)).to_have_text("COMPLETED")
    await expect(card).to_have_count(0)
    task = serve.graphql("query($id: ID!) { task(id: $id) { artifacts } }", id=task_id)["task"]
    assert task == {"artifacts": {"a": 1, "b": 3}}
    # undo, after the plan is shown
    await page.get_by_test_id("undo").click()
    plan = page.get_by_test_id("undo-plan")
    await expect(plan).to_contain_text("send")
    # without a step named, undo rolls back the last completed step only
    await expect(plan.locator("li")).to_have_text(["send (COMPLETED)"])
    await page.get_by_test_id("undo-confirm").click()
    await expect(page.get_by_test_id("step-row").nth(1)).to_contain_text("ROLLED_BACK")
    await expect(page.get_by_test_id("step-row").nth(0)).to_contain_text("COMPLETED")
    await expect(plan).to_have_count(0)
    # cancel a task waiting for approval
    gated = {
        "task": "Wait at a gate",
        "context": {
            "steps": [
                {
                    "name": "gate",
                    "action": "note",
                    "params": {"key": "g", "value": 1},
                    "requiresApproval": True,
                }
            ]
        },
    }
    cancelled_id = await submit(page, gated)
    await expect(page.get_by_test_id("approval-card")).to_be_visible()
    await page.get_by_test_id("cancel").click()
    await expect(status_of(page)).to_have_text("CANCELLED")
    # history, filtered by status
    await page.get_by_test_id("history-filter-status").select_option("CANCELLED")
    rows = page.get_by_test_id("task-row")
    await expect(rows).to_have_count(1)
    assert await rows.first.get_attribute("data-task-id") == cancelled_id
    await expect(rows.first.get_by_test_id("task-status")).to_have_text("CANCELLED")
    assert watch.outside == []
    await context.close()


async def test_page_recovers_from_a_server_restart_without_a_duplicate_step(
    serve: ServeProcess, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await signed_in(context, serve)
    steps = [{"name": f"wait {n}", "action": "wait", "params": {"ms": 1500}} for n in range(3)]
    task_id = await submit(page, {"task": "Three waits", "context": {"steps": steps}})
    first = page.get_by_test_id("step-row").first
    await expect(first).to_contain_text("RUNNING")
    # the server stops mid-task and comes back on the same port and database
    await asyncio.to_thread(serve.stop)
    await expect(page.get_by_test_id("connection-status")).not_to_have_text("open")
    await asyncio.to_thread(serve.start)
    await expect(status_of(page)).to_have_text("COMPLETED", timeout=30_000)
    await expect(page.get_by_test_id("connection-status")).to_have_text("open")
    await expect(page.get_by_test_id("step-row")).to_have_count(3)
    applied = await page.locator("#detail").get_attribute("data-seqs") or ""
    seen = [int(s) for s in applied.split(",")]
    assert len(seen) == len(set(seen))
    stored = [e["seq"] for e in serve.graphql(STORED_SEQS, t=task_id)["taskEvents"]]  # type: ignore[index]
    assert seen[1:] == [s for s in stored if s > seen[0]]
    starts = [s for s in await page.locator("#logs li").all_inner_texts() if "started" in s]
    assert len(starts) == len(set(starts))
    await context.close()


async def test_ten_tabs_share_one_websocket_and_lose_no_event_when_the_leader_closes(
    serve: ServeProcess, browser: Browser
) -> None:
    context = await browser.new_context()
    sockets: list[str] = []
    context.on("page", lambda p: p.on("websocket", lambda ws: sockets.append(ws.url)))
    # a gate, then steps that are still running when the leader tab closes
    plan = {
        "task": "Ten viewers",
        "context": {
            "steps": [
                {
                    "name": "gate",
                    "action": "note",
                    "params": {"key": "v", "value": 1},
                    "requiresApproval": True,
                },
                *({"name": f"wait {n}", "action": "wait", "params": {"ms": 600}} for n in range(4)),
            ]
        },
    }
    first = await signed_in(context, serve)
    task_id = await submit(first, plan)
    tabs = [first]
    for _ in range(9):
        tab = await signed_in(context, serve)
        await tab.locator(f"[data-testid=task-row][data-task-id='{task_id}']").click()
        tabs.append(tab)
    for tab in tabs:
        await expect(tab.get_by_test_id("approval-card")).to_be_visible()
        await expect(tab.get_by_test_id("connection-status")).to_have_text("open")
    assert len(sockets) == 1
    # counted on the server: its connection registry holds one socket, watching the task
    rows = await _server_sockets(serve, lambda rows: len(rows) == 1 and task_id in rows[0])
    assert len(rows) == 1
    # approve, then close the tab that holds the socket while the steps run
    leader = await _leader(tabs)
    tabs.remove(leader)
    await tabs[0].get_by_test_id("approve").click()
    # the first wait has started (the page may show it RUNNING or already COMPLETED)
    await expect(tabs[0].get_by_test_id("step-row").nth(1)).not_to_contain_text("PENDING")
    await leader.close()
    for tab in tabs:
        await expect(status_of(tab)).to_have_text("COMPLETED", timeout=30_000)
    # another tab took over with one new socket, and the server again counts one
    assert len(sockets) == 2
    await _leader(tabs)
    await _server_sockets(serve, lambda rows: len(rows) == 1)
    stored: Any = serve.graphql(STORED_EVENTS, t=task_id)["taskEvents"]
    kinds = {e["seq"]: e["type"] for e in stored}
    for tab in tabs:
        applied = await tab.locator("#detail").get_attribute("data-seqs") or ""
        seen = [int(s) for s in applied.split(",")]
        assert seen == sorted(set(seen)), "an event came twice or out of order"
        missed = [kinds[s] for s in kinds if s > seen[0] and s not in seen]
        # only superseded progress may be coalesced away (docs/protocol.md); nothing else
        assert set(missed) <= {"STEP_PROGRESS"}, missed
        assert seen[-1] == max(kinds)
    await context.close()


async def _server_sockets(serve: ServeProcess, done: Callable[[list[str]], bool]) -> list[str]:
    for _ in range(100):
        rows = serve.socket_rows()
        if done(rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"the server's connection registry holds {rows}")


async def _leader(tabs: list[Page]) -> Page:
    for tab in tabs:
        if await tab.evaluate("() => window.__agentwireSocketOwner?.() === true"):
            return tab
    raise AssertionError("no tab holds the socket")
