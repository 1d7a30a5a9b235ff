"""docs/operations.md lists every agentwire metric that exists, and the dashboard shows each."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import server.metrics  # noqa: F401  (registers the metrics)
from server.metrics_state import TaskCounts

ROOT = Path(__file__).resolve().parents[2]


def documented() -> set[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    return set(re.findall(r"^\| `(agentwire_[a-z_]+)` \|", text, flags=re.MULTILINE))


def registered() -> set[str]:
    names = set()
    # Read at scrape time by each app, so not in the process registry.
    for family in [*REGISTRY.collect(), *TaskCounts.families()]:
        if family.name.startswith("agentwire_"):
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def test_every_registered_metric_is_documented_and_every_documented_one_exists() -> None:
    assert documented() == registered()


def test_the_dashboard_shows_every_documented_metric() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    expressions = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert {name for name in documented() if name not in expressions} == set()
