"""agentwire's Python client. `agentwire_client.worker` is the SDK for execution engines."""
