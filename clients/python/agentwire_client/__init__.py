"""agentwire's Python client: `Client` and `AsyncClient` for the task API and live events;
`agentwire_client.worker` is the SDK for execution engines."""

from agentwire_client.async_client import AsyncClient
from agentwire_client.client import Client
from agentwire_client.models import AgentwireError, Task, TaskEvent, TaskPage
from agentwire_client.watch import Backoff, SyncWatch, Watch

__all__ = [
    "AgentwireError",
    "AsyncClient",
    "Backoff",
    "Client",
    "SyncWatch",
    "Task",
    "TaskEvent",
    "TaskPage",
    "Watch",
]
