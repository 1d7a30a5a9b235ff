"""The committed task monitor build (server/monitor) matches its sources and calls nothing outside.

`npm run monitor:check` (run by `python3 dev.py test`) rebuilds the page and compares bytes;
this test needs no Node.js: the build records the digest of every source it was made from.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from server.monitor_page import MONITOR_DIR

SDK = Path(__file__).resolve().parents[2] / "clients" / "typescript"
SOURCES = ("monitor", "src", "package-lock.json")


def current_digests() -> set[str]:
    paths: list[Path] = []
    for source in SOURCES:
        root = SDK / source
        paths.extend(sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root])
    return {
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(SDK).as_posix()}"
        for p in paths
    }


def test_committed_build_was_made_from_the_current_sources() -> None:
    recorded = set((MONITOR_DIR / "SOURCES.sha256").read_text().splitlines())
    stale = sorted(line.split("  ", 1)[1] for line in current_digests() ^ recorded)
    assert stale == [], (
        f"server/monitor is older than {stale}: run `npm run monitor:build` in clients/typescript"
    )


def test_built_page_loads_nothing_from_another_origin() -> None:
    html = (MONITOR_DIR / "index.html").read_text()
    script = (MONITOR_DIR / "assets" / "monitor.js").read_text()
    assert re.findall(r"""(?:src|href)=["'](?!/monitor/)""", html) == []
    assert re.findall(r"https?://[\w.-]+", html + script) == []
