"""Log lines never carry a credential, whoever wrote them and in whichever format."""

from __future__ import annotations

import json
import logging

from server.logs import REDACTED, JsonFormatter, Redactor, TextFormatter

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
KEY = "aw_0a1b2c3d_S3cr3tS3cr3tS3cr3tS3cr3t"


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("websockets.server", logging.DEBUG, __file__, 1, message, args, None)


def test_headers_frames_and_bare_credentials_are_redacted() -> None:
    redact = Redactor(["configured-jwt-secret-value"])
    lines = {
        f"< sec-websocket-protocol: agentwire.bearer.{JWT}": "agentwire.bearer.",
        f"< authorization: Bearer {JWT}": "Bearer ",
        f"< x-api-key: {KEY}": "x-api-key: ",
        f"""< TEXT '{{"type":"connection_init","payload":{{"apiKey":"{KEY[:20]}'""": '"apiKey":"',
        f"token {JWT} refused": "token ",
        f"key {KEY} refused": "key ",
        "signed with configured-jwt-secret-value": "signed with ",
    }
    for line, kept in lines.items():
        out = redact(line)
        assert JWT not in out and KEY not in out and "configured-jwt-secret" not in out, out
        assert kept + REDACTED in out, out


def test_both_formatters_redact_the_message_and_its_arguments() -> None:
    redact = Redactor()
    text = TextFormatter(redact).format(record("< authorization: %s", f"Bearer {JWT}"))
    assert JWT not in text and f"Bearer {REDACTED}" in text
    entry = json.loads(JsonFormatter(redact).format(record("api key %s", KEY)))
    assert entry["message"] == f"api key {REDACTED}"


def test_ordinary_lines_are_left_alone() -> None:
    line = 'GET /api/agent/0b6f0c9e-4d38-4a8e-9f76-3f3a1c2b9d10 HTTP/1.1" 200'
    assert Redactor(["short"]).__call__(line) == line
