"""Hooks for the schemathesis run (loaded through SCHEMATHESIS_HOOKS).

Long-polling may legally wait up to 30 s; capping `wait` keeps the run bounded
without changing what the document promises.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def map_query(context: schemathesis.HookContext, query: dict[str, Any] | None) -> Any:
    if query and "wait" in query:
        value = query["wait"]
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0.2:
            query["wait"] = 0.2
    return query
