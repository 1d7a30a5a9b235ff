"""GraphiQL served from this repository's own copies of its assets: it works offline."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.staticfiles import StaticFiles

IDE_DIR = Path(__file__).parent / "graphiql"
ASSETS_PATH = "/graphiql-assets"


@cache
def graphiql_page() -> str:
    return (IDE_DIR / "page.html").read_text().replace("{{ASSETS}}", ASSETS_PATH)


def graphiql_assets() -> StaticFiles:
    return StaticFiles(directory=IDE_DIR / "vendor")
