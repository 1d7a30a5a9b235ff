"""`/api/openapi.json` and Swagger UI at `/api/docs`, from the assets bundled in
swagger-ui-bundle (no CDN: the page works offline). Neither needs a token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import swagger_ui_bundle  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

ASSETS = Path(swagger_ui_bundle.swagger_ui_path)

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>agentwire REST API</title>
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/api/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/api/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
"""

# A separate script rather than an inline one, so a strict Content-Security-Policy
# (script-src 'self') still lets the page run.
INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    // Without this, any host other than localhost sends the document's address to
    // validator.swagger.io: the page must make no request outside its origin.
    validatorUrl: null
  });
};
"""


def docs_routes(document: dict[str, Any]) -> list[BaseRoute]:
    body = orjson.dumps(document)

    async def openapi_json(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def init(request: Request) -> Response:
        return Response(INIT, media_type="text/javascript")

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", page, methods=["GET"]),
        Route("/docs/init.js", init, methods=["GET"]),
        Mount("/docs/assets", app=StaticFiles(directory=ASSETS), name="swagger-assets"),
    ]
