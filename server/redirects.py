"""Trailing-slash redirects that never take their host from the `Host` header.

Starlette's router answers `/api/agent/` with `307 Location: http://<Host header>/api/agent`:
whoever sends the request picks the host a client (or a cache in between) is sent to.
Here the redirect is the same, but its `Location` is a path on this server
(`/api/agent?x=1`), which every client resolves against the URL it used.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Match, Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class _RelativeSlashRedirect:
    """A router's `default` handler: a relative redirect when the path with (or without)
    a trailing slash matches a route, otherwise the router's previous default."""

    def __init__(self, routes: list[BaseRoute], fallback: ASGIApp) -> None:
        self.routes = routes
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path not in ("", "/"):
            other = dict(scope)
            other["path"] = path.rstrip("/") if path.endswith("/") else path + "/"
            if any(route.matches(other)[0] is not Match.NONE for route in self.routes):
                query = scope.get("query_string", b"").decode("latin-1")
                location = other["path"] + (f"?{query}" if query else "")
                # "//evil.example" would be read as a host: keep one leading slash.
                location = "/" + location.lstrip("/")
                await RedirectResponse(location, status_code=307)(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def relative_slash_redirects(app: Starlette) -> None:
    """Replace Starlette's host-taking slash redirects in `app` and every mounted app."""
    routers = [app.router]
    while routers:
        router = routers.pop()
        router.redirect_slashes = False
        router.default = _RelativeSlashRedirect(router.routes, router.default)
        for route in router.routes:
            if isinstance(route, Mount):
                inner = route.app
                if isinstance(inner, Starlette):
                    routers.append(inner.router)
                elif isinstance(inner, Router):
                    routers.append(inner)
