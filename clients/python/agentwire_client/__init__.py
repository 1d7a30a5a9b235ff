"""agentwire's Python client: `Client` for the task API; `agentwire_client.worker` is the SDK
for execution engines."""

from agentwire_client.client import AgentwireError, Client, Task, TaskPage

__all__ = ["AgentwireError", "Client", "Task", "TaskPage"]
