"""Logging set-up: one line per record, text or JSON, each carrying its request's context.

Every record made while a request is served gets `request_id`, `subject` and `task_id`
attributes from the request context (`auth.request_info`), whatever logger made it, so a
failing request can be followed from its `X-Request-ID` answer header to its log lines,
including the one with an INTERNAL error's traceback. Never a secret: the context holds
only ids and the principal's subject.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from auth.request_info import current_request

LogFormat = Literal["json", "text"]
_CONTEXT_FIELDS = ("request_id", "subject", "task_id")
_installed = False
REDACTED = "[redacted]"
# Credentials as libraries write them at DEBUG (websockets logs handshake headers such as
# `sec-websocket-protocol: agentwire.bearer.<jwt>` and the first bytes of each frame).
_CREDENTIALS = re.compile(
    r"(?P<keep>agentwire\.bearer\.|\bBearer\s+|\bx-api-key:\s*|\"apiKey\"\s*:\s*\")[^\s\"',;]+"
    r"|\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]+"  # any JWT
    r"|\baw_[A-Za-z0-9]+_[\w-]+",  # any agentwire API key
    re.IGNORECASE,
)


class Redactor:
    """Takes tokens, API keys and configured secrets out of a finished log line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would redact ordinary words; a real secret is long.
        self._secrets = sorted((s for s in secrets if len(s) >= 8), key=len, reverse=True)

    def __call__(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        return _CREDENTIALS.sub(lambda m: (m.group("keep") or "") + REDACTED, line)


def install_request_context() -> None:
    """Make every log record carry the current request's id, subject and task id (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        info = current_request()
        record.request_id = info.request_id if info else ""
        record.subject = info.principal.subject if info and info.principal else ""
        record.task_id = info.task_id if info else ""
        return record

    logging.setLogRecordFactory(factory)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request_id=… subject=… task_id=…] message`, empty fields left out."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={value}" for name in _CONTEXT_FIELDS if (value := getattr(record, name, ""))
        )
        if context:
            head, _, rest = line.partition(f" {record.name} ")
            line = f"{head} {record.name} [{context}] {rest}"
        return self.redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the traceback, when there is one, is in the same object."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self._entry(record))

    def _entry(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            if value := getattr(record, name, ""):
                entry[name] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str, log_format: LogFormat = "text", *, secrets: Iterable[str] = ()
) -> None:
    """Every record, ours and the libraries' (uvicorn's too: it is started without a log
    configuration of its own), through one handler; `secrets` never appear in a line."""
    install_request_context()
    redact = Redactor(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(redact) if log_format == "json" else TextFormatter(redact))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # Alembic narrates every migration check at INFO; the CLI says what matters itself.
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
