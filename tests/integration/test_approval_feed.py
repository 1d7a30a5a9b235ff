"""approvalUpdates over graphql-transport-ws: a reviewer follows the approvals they may
decide on other users' tasks, an outsider sees none of them, and `after` resumes."""

from __future__ import annotations

import uuid
from typing import Any

from subscriptions.envelope import encode_event_cursor
from tests.integration.test_approval_policies import decide, gated, person
from tests.support.clients import Api
from tests.support.live import LiveServer
from tests.support.realtime import Recorder

FROM_THE_START = encode_event_cursor(0)


def of(task: dict[str, Any], kind: str) -> Any:
    return lambda e: e["type"] == kind and e["data"]["taskId"] == task["id"]


async def test_a_reviewer_follows_another_users_approval_and_an_outsider_sees_none(
    server: LiveServer,
) -> None:
    role = f"reviewer-{uuid.uuid4().hex[:6]}"
    owner, reviewer, outsider = person(server), person(server, role), person(server, "other")
    submitted = await owner.submit("gated", context=gated({"required": 1, "roles": [role]}))
    task = await owner.wait_status(submitted["id"], "AWAITING_APPROVAL")

    async with reviewer.websocket() as reviewer_ws, outsider.websocket() as outsider_ws:
        followed = Recorder(reviewer_ws, "ApprovalUpdates", after=FROM_THE_START)
        unseen = Recorder(outsider_ws, "ApprovalUpdates", after=FROM_THE_START)
        opened = await followed.wait_for(of(task, "APPROVAL_REQUEST"))
        assert opened["data"]["approvalRequest"]["id"] == task["pendingApproval"]["id"]
        assert opened["data"]["approvalRequest"]["status"] == "PENDING"

        # The reviewer decides; the decision reaches their feed without any wake-up of theirs.
        await reviewer.call("Approve", input=decide(task))
        resolved = await followed.wait_for(of(task, "APPROVAL_RESOLVED"))
        assert resolved["data"]["approvalRequest"]["status"] == "APPROVED"
        await owner.wait_status(task["id"], "COMPLETED")

        # The outsider's own request comes after the owner's events in commit order, so
        # once it arrived, anything of the owner's task would have arrived before it.
        own = await outsider.submit("mine", context=gated({"required": 1}))
        await unseen.wait_for(of(own, "APPROVAL_REQUEST"))
        assert {e["data"]["taskId"] for e in unseen.events} == {own["id"]}
        seen = list(followed.events)
        await followed.close()
        await unseen.close()

    # Only approval events, only the gated task (the outsider's names no role).
    assert {e["type"] for e in seen} <= {
        "APPROVAL_REQUEST",
        "APPROVAL_DECISION",
        "APPROVAL_RESOLVED",
        "APPROVAL_TIMEOUT",
    }
    assert {e["data"]["taskId"] for e in seen} == {task["id"]}

    # Resuming after the request replays what followed it, once each, in order.
    async with reviewer.websocket() as ws:
        resumed = Recorder(ws, "ApprovalUpdates", after=opened["cursor"])
        await resumed.wait_for(lambda e: e["id"] == seen[-1]["id"])
        replayed = list(resumed.events)
        await resumed.close()
    after_request = seen[seen.index(opened) + 1 :]
    assert [e["id"] for e in replayed] == [e["id"] for e in after_request]


async def test_a_bad_cursor_is_refused(alice: Api) -> None:
    async with alice.websocket() as ws:
        recorder = Recorder(ws, "ApprovalUpdates", after="not-a-cursor")
        try:
            await recorder.wait_for(lambda e: True, timeout=5)
        except Exception as error:
            assert "cursor" in str(error)
        else:
            raise AssertionError("a bad cursor was accepted")
