"""An approval link's token is a path segment: the access log must not keep it."""

from __future__ import annotations

from server.access_log import redact_query_tokens


def test_an_approval_link_token_is_redacted_from_the_request_line() -> None:
    token = "Zq3xR0bQ1k-9pW_tN6vYc2LmA8sD4fG7hJ5eK0uI1oP"
    line = f'127.0.0.1:5000 - "POST /api/approval-links/{token} HTTP/1.1" 200'
    assert redact_query_tokens(line) == (
        '127.0.0.1:5000 - "POST /api/approval-links/[redacted] HTTP/1.1" 200'
    )
    stream = "GET /api/agent/t/stream?after=3&access_token=eyJ.a.b HTTP/1.1"
    assert redact_query_tokens(stream) == (
        "GET /api/agent/t/stream?after=3&access_token=[redacted] HTTP/1.1"
    )
