"""`agentwire submit / watch / history` run as a person runs them: the installed command in a
subprocess, against a real server, in a pipe (plain lines), answering prompts on stdin."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from agentwire_client import AsyncClient

from tests.e2e.monitor_server import free_port
from tests.support.clients import fail, note, steps, wait
from tests.support.live import LiveServer

AGENTWIRE = Path(sys.executable).parent / "agentwire"
EPHEMERAL = {"QUEUE_UPDATE", "LAGGED"}
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


async def run_cli(
    *args: str, token: str | None, stdin: str = "", timeout: float = 60
) -> tuple[int, list[str], str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTWIRE_TOKEN"}
    if token is not None:
        env["AGENTWIRE_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        str(AGENTWIRE),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=timeout)
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines(), err.decode()


def context_file(tmp_path: Path, context: dict[str, Any]) -> str:
    path = tmp_path / "context.json"
    path.write_text(json.dumps(context))
    return str(path)


async def test_submit_watch_in_a_pipe_prints_each_event_once_and_takes_edited_parameters(
    server: LiveServer, tmp_path: Path
) -> None:
    token = server.token()
    plan = steps(note("a", 1), note("b", 2, approval=True, name="send"))
    # a wrong answer is asked again; then edit, with the new parameters on the next line
    answers = 'x\ne\n{"key": "b", "value": 9}\n'
    code, lines, err = await run_cli(
        "submit", "from the cli", "--context", context_file(tmp_path, plan), "--watch",
        "--priority", "5", "--url", server.http_url, token=token, stdin=answers,
    )  # fmt: skip
    assert code == 0, err
    task_id = lines[0]
    events = [line.split(" ", 2) for line in lines[1:]]
    async with AsyncClient(server.http_url, token=token) as client:
        stored = await client.task_events(task_id, limit=500)
        task = await client.task(task_id)
    assert task is not None and task.raw["artifacts"] == {"a": 1, "b": 9}
    assert task.priority == 5
    assert events[0][1] == "SNAPSHOT"
    first = int(events[0][0])
    # every stored event after the snapshot, once, in order, each on its own line
    # ephemeral events (seq "-": a queue position) are printed too but are not stored
    assert {kind for seq, kind, *_ in events if seq == "-"} <= EPHEMERAL
    assert [(int(seq), kind) for seq, kind, *_ in events[1:] if seq != "-"] == [
        (e["seq"], e["type"]) for e in stored if e["seq"] > first
    ]
    by_type = {kind: rest for _, kind, *rest in events}
    assert by_type["APPROVAL_REQUEST"][0].startswith(
        'step 2 "send" parameters {"key": "b", "value": 2}'
    )
    assert by_type["APPROVAL_RESOLVED"] == ['step 2 "send" MODIFIED']
    assert lines[-1].endswith(" COMPLETED")
    assert "'x' is not a, r or e" in err
    assert err.count("[a]pprove, [r]eject or [e]dit?") == 2
    assert re.search(r"\(answer by 20\d\d-\d\d-\d\dT[^)]+\) - \[a\]pprove", err)


async def test_watch_a_failing_task_exits_1_and_a_rejected_approval_is_recorded(
    server: LiveServer, tmp_path: Path
) -> None:
    token = server.token()
    async with AsyncClient(server.http_url, token=token) as client:
        gated = await client.submit_task(
            "gate", context=steps(note("g", 1, approval=True), fail("boom"))
        )
        code, lines, err = await run_cli(
            "watch", gated.id, "--url", server.http_url, token=token, stdin="r\n"
        )
        task = await client.task(gated.id)
    assert task is not None
    assert task.raw["approvals"][0]["status"] == "REJECTED"
    # rejecting skips the step (the default policy); the next one fails the task: exit 1
    assert (code, task.status) == (1, "FAILED"), err
    assert [step["status"] for step in task.raw["steps"]] == ["SKIPPED", "FAILED"]
    assert lines[-1].split(" ", 1)[1] == "STATUS_CHANGE RUNNING -> FAILED"


async def test_history_in_a_pipe_is_one_tab_separated_line_per_task(server: LiveServer) -> None:
    token = server.token()
    async with AsyncClient(server.http_url, token=token) as client:
        kept = await client.submit_task("kept", context=steps(note("k", 1, approval=True)))
        gone = await client.submit_task(
            "gone\nwith a newline", context=steps(note("x", 1, approval=True))
        )
        await client.cancel_task(gone.id)
    code, lines, err = await run_cli(
        "history", "--status", "cancelled", "--limit", "5", "--url", server.http_url, token=token
    )
    assert code == 0, err
    assert lines[0] == "ID\tSTATUS\tCREATED\tTASK"
    assert [line.split("\t") for line in lines[1:]] == [
        [gone.id, "CANCELLED", gone.created_at, "gone with a newline"]
    ]
    code, lines, _ = await run_cli("history", "--url", server.http_url, token=token)
    assert [line.split("\t")[0] for line in lines[1:]] == [gone.id, kept.id]


async def test_bad_input_gets_a_message_and_an_exit_code_and_submits_nothing(
    server: LiveServer, tmp_path: Path
) -> None:
    token = server.token()
    code, lines, err = await run_cli("history", "--url", server.http_url, token=None)
    assert (code, lines) == (2, [])
    assert "no token: pass --token or set AGENTWIRE_TOKEN" in err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, err = await run_cli(
        "submit", "x", "--context", str(broken), "--url", server.http_url, token=token
    )
    assert code == 2 and f"--context {broken} is not JSON" in err
    code, _, err = await run_cli(
        "submit", "x", "--context", str(tmp_path / "missing.json"), "--url", server.http_url,
        token=token,
    )  # fmt: skip
    assert code == 2 and "cannot read --context" in err
    code, _, err = await run_cli("submit", "", "--url", server.http_url, token=token)
    assert code == 3 and "(VALIDATION)" in err
    async with AsyncClient(server.http_url, token=token) as client:
        assert (await client.tasks()).total_count == 0
    code, _, err = await run_cli(
        "watch", "00000000-0000-0000-0000-000000000000", "--url", server.http_url, token=token
    )
    assert code == 3 and "(NOT_FOUND)" in err
    code, _, err = await run_cli("history", "--url", f"http://127.0.0.1:{free_port()}", token=token)
    assert code == 3 and "cannot reach" in err and "Traceback" not in err
    code, _, err = await run_cli("history", "--url", server.http_url, token="not-a-token")
    assert code == 3 and "(UNAUTHENTICATED)" in err and "Traceback" not in err
    code, _, err = await run_cli("history", "--url", "127.0.0.1:8000", token=token)
    assert code == 2 and "url must start with http:// or https://" in err


async def test_on_a_terminal_watch_draws_a_bar_per_step_and_prompts_there(
    server: LiveServer,
) -> None:
    token = server.token()
    async with AsyncClient(server.http_url, token=token) as client:
        task = await client.submit_task(
            "on a tty", context=steps(note("t1", 1), note("t2", 2, approval=True, name="second"))
        )
        screen = await asyncio.to_thread(
            run_on_terminal,
            [str(AGENTWIRE), "watch", task.id, "--url", server.http_url, "--token", token],
            answer_after="[e]dit?",
            answer="a\n",
        )
        done = await client.task(task.id)
    assert done is not None and done.status == "COMPLETED"
    assert done.raw["approvals"][0]["status"] == "APPROVED"
    assert "1. note t1" in screen and "2. second" in screen
    assert "━" in screen and "100%" in screen
    # started while the task may already wait: then the prompt comes from the SNAPSHOT
    assert "SNAPSHOT" in screen and "APPROVAL_RESOLVED" in screen
    # history on a terminal is a table
    table = await asyncio.to_thread(
        run_on_terminal,
        [str(AGENTWIRE), "history", "--url", server.http_url, "--token", token],
    )
    assert "1 of 1 tasks" in table and "┏" in table
    assert task.id in table and "COMPLETED" in table


def run_on_terminal(
    command: list[str], *, answer_after: str | None = None, answer: str = ""
) -> str:
    """Run `command` on a pseudo-terminal; type `answer` once `answer_after` is shown."""
    import pty
    import select
    import subprocess
    import time

    main, child = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    process = subprocess.Popen(command, stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    screen = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
            if answer_after is not None and not answered and answer_after.encode() in screen:
                os.write(main, answer.encode())
                answered = True
            if process.poll() is not None and not ready:
                break
        assert process.wait(timeout=10) == 0, screen.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)
    assert answered or answer_after is None, screen.decode(errors="replace")
    return screen.decode(errors="replace")


async def test_the_readme_command_line_examples_run(server: LiveServer) -> None:
    block = README.split("## From the command line", 1)[1].split("```sh\n", 1)[1].split("```")[0]
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines()[1:] if line.strip()]
    assert [c[:2] for c in commands] == [
        [".venv/bin/agentwire", "submit"],
        [".venv/bin/agentwire", "watch"],
        [".venv/bin/agentwire", "history"],
    ]
    token = server.token()
    url = ["--url", server.http_url]
    code, lines, err = await run_cli(*commands[0][1:], *url, token=token)
    assert code == 0, err
    assert lines[-1].endswith(" COMPLETED")
    task_id = lines[0]
    watch = [task_id if part == "TASK_ID" else part for part in commands[1][1:]]
    code, lines, err = await run_cli(*watch, *url, token=token)
    # the task has finished: its SNAPSHOT is the whole story
    assert (code, len(lines)) == (0, 1) and lines[0].split()[1] == "SNAPSHOT", err
    code, lines, err = await run_cli(*commands[2][1:], *url, token=token)
    assert (code, lines) == (0, ["ID\tSTATUS\tCREATED\tTASK"]), err


async def test_watch_in_a_pipe_survives_a_server_restart_printing_each_event_once(
    make_server: Any, tmp_path: Path
) -> None:
    port = free_port()
    # the gate holds the task until the watch runs (a command takes a moment to start)
    plan = steps(note("gate", 1, approval=True), wait(500), wait(500), wait(500))
    async with make_server(port=port) as first:
        token = first.token("cli-restart")
        async with AsyncClient(first.http_url, token=token) as client:
            task = await client.submit_task("across a restart", context=plan)
        env = {**os.environ, "AGENTWIRE_TOKEN": token}
        process = await asyncio.create_subprocess_exec(
            str(AGENTWIRE), "watch", task.id, "--url", first.http_url,
            env=env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None and process.stdin is not None
        process.stdin.write(b"a\n")
        await process.stdin.drain()
        printed: list[str] = []
        # stop the server once the watch has printed a step's start
        while not any(" STEP_START " in line for line in printed[1:]):
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert line, f"the watch ended early: {printed}"
            printed.append(line.decode().rstrip("\n"))
    async with make_server(port=port) as second:
        rest, err = await asyncio.wait_for(process.communicate(b""), timeout=60)
        async with AsyncClient(second.http_url, token=token) as client:
            stored = await client.task_events(task.id, limit=500)
    assert process.returncode == 0, err.decode()
    lines = printed + rest.decode().splitlines()
    assert lines[0].split()[1] == "SNAPSHOT"
    first_seq = int(lines[0].split()[0])
    assert [int(seq) for seq, *_ in (line.split() for line in lines[1:]) if seq != "-"] == [
        e["seq"] for e in stored if e["seq"] > first_seq
    ]
    assert re.search(
        r"reconnected \(\d+ failed attempts\); resumed after the last event", err.decode()
    )
