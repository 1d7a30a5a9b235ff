"""The app factory: one Starlette app serving /graphql, /api, /metrics, /healthz and /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import redis.asyncio as redis_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from auth.authenticate import Authenticator
from auth.keys import load_public_keys
from auth.revocation import CredentialWatch
from auth.tokens import TokenConfig
from db.engine import DatabaseTimeouts, create_engine, create_session_factory, is_sqlite
from engine.core import Engine
from engine.scheduler import Limits
from resolvers.audit import AuditTrail
from resolvers.context import Services
from resolvers.limits import AuthFailureThrottle, RateLimiter
from rest_compat.agui_routes import create_agui_app
from rest_compat.app import create_rest_app
from rest_compat.app import http_error as rest_http_error
from rest_compat.routing import Dependencies
from schema.build import build_schema
from schema.ide import ASSETS_PATH, graphiql_assets
from schema.view import AgentwireGraphQL
from schema.ws_handler import Realtime
from server.logs import install_request_context
from server.metrics import MetricsMiddleware, install_recorder
from server.metrics_state import TaskCounts, forget_this_worker, metrics_endpoint, watch_pool
from server.middleware import RequestIdMiddleware
from server.monitor_page import monitor_routes
from server.readiness import DatabaseProbe
from server.redirects import relative_slash_redirects
from server.security import checked_origins, rate_limits, security_middleware
from server.settings import Settings
from server.shutdown import Shutdown, ShutdownMiddleware
from subscriptions.breaker import CircuitBreaker
from subscriptions.bus import EventBus, InProcessBus
from subscriptions.hub import Hub
from subscriptions.redis_bus import RedisBus, redis_breaker
from subscriptions.sequencer import Sequencer

logger = logging.getLogger("agentwire")


@dataclass
class AppState:
    settings: Settings
    services: Services
    authenticator: Authenticator
    tokens: TokenConfig


READY_TIMEOUT_SECONDS = 1.0


def token_config(settings: Settings) -> TokenConfig:
    path = settings.jwt_public_keys
    return TokenConfig(
        secret=settings.resolved_jwt_secret(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        public_keys=load_public_keys(path) if path is not None else (),
    )


def create_bus(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], breaker: CircuitBreaker
) -> EventBus:
    """Redis pub/sub between instances when AGENTWIRE_REDIS_URL is set; in-process otherwise.
    On PostgreSQL, events get their global cursor after commit (subscriptions/sequencer.py)."""
    sequencer = None if is_sqlite(settings.resolved_database_url) else Sequencer(sessions)
    if settings.redis_url:
        return RedisBus(
            settings.redis_url,
            sequencer=sequencer,
            socket_timeout=settings.redis_socket_timeout,
            connect_timeout=settings.redis_connect_timeout,
            breaker=breaker,
        )
    return InProcessBus(sequencer=sequencer)


async def redis_ready(url: str) -> bool:
    """Redis answers PING within a second (a hung Redis must not hang /readyz)."""
    client = redis_asyncio.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout=1))
    except Exception:
        logger.warning("readiness check failed: redis unreachable")
        return False
    finally:
        await client.aclose()


async def outer_http_error(request: Request, exc: Exception) -> Response:
    """A path no mount matches (`/api/...` with a newline in it): REST's envelope under
    /api, as its own routes answer; Starlette's plain text elsewhere."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api"):
        return await rest_http_error(request, exc)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    install_request_context()
    install_recorder(settings.metrics_enabled)
    database = create_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        timeouts=DatabaseTimeouts(
            connect=settings.db_connect_timeout,
            command=settings.db_command_timeout,
            statement=settings.db_statement_timeout,
            pool=settings.db_pool_timeout,
        ),
    )
    sessions = create_session_factory(database)
    task_counts = TaskCounts(sessions)
    database_probe = DatabaseProbe(sessions)
    # One breaker for the one Redis: when the bus finds it hung, the limiter skips it too.
    redis_circuit = redis_breaker(
        failures=settings.redis_breaker_failures,
        reset_seconds=settings.redis_breaker_reset_seconds,
    )
    bus = create_bus(settings, sessions, redis_circuit)
    engine = Engine(
        sessions=sessions,
        bus=bus,
        limits=Limits(settings.max_running, settings.max_running_per_user),
        approval_timeout=settings.approval_timeout_seconds,
        lease_seconds=settings.lease_seconds,
        progress_interval=settings.progress_interval_seconds,
        max_attempts=settings.worker_max_attempts,
        resume_stall_seconds=settings.resume_stall_seconds,
    )
    limiter = RateLimiter.create(
        redis_url=settings.redis_url,
        limits=rate_limits(settings),
        breaker=redis_circuit,
        socket_timeout=settings.redis_socket_timeout,
        connect_timeout=settings.redis_connect_timeout,
    )
    audit = AuditTrail(sessions)
    credentials = CredentialWatch(
        sessions,
        interval_seconds=settings.credential_recheck_seconds,
        leeway_seconds=settings.jwt_leeway_seconds,
        cache_seconds=min(settings.credential_recheck_seconds, 2.0),
    )
    services = Services(
        sessions=sessions,
        bus=bus,
        engine=engine,
        limiter=limiter,
        audit=audit,
        credentials=credentials,
        hub=Hub(),
        tokens=token_config(settings),
    )
    tokens = token_config(settings)
    authenticator = Authenticator(
        sessions=sessions,
        tokens=tokens,
        on_failure=audit.auth_failure,
        throttle=AuthFailureThrottle(limiter),
    )
    graphql = AgentwireGraphQL(
        build_schema(production=settings.is_production),
        services=services,
        authenticator=authenticator,
        graphql_ide=not settings.is_production,
        allowed_origins=checked_origins(settings.cors_origin_list),
    )

    graphql.connection_init_wait_timeout = timedelta(seconds=settings.ws_init_timeout)
    realtime = graphql.realtime = Realtime.create(
        graphql.schema,
        sessions=sessions,
        heartbeat_seconds=settings.ws_heartbeat_seconds,
        hub=services.hub,
        resume_ttl_seconds=settings.ws_resume_ttl_seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        unwatch_pool = watch_pool(database)
        await bus.start()
        await realtime.start()
        await credentials.start()
        if settings.run_engine:
            await engine.start()
        try:
            yield
        finally:
            await engine.stop()
            await credentials.stop()
            await realtime.stop()
            await bus.stop()
            await audit.drain()
            await limiter.close()
            await database_probe.close()
            await database.dispose()
            unwatch_pool()
            forget_this_worker()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        # Each dependency answers "ok" or "unreachable"; any failure is a 503 naming it.
        checks: dict[str, str] = {}
        # A database that hangs must not hang the probe: one second, then 503.
        database_ok = await database_probe.ready(within=READY_TIMEOUT_SECONDS)
        checks["database"] = "ok" if database_ok else "unreachable"
        if settings.redis_url:
            checks["redis"] = "ok" if await redis_ready(settings.redis_url) else "unreachable"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **checks},
            status_code=200 if ready else 503,
        )

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Mount(ASSETS_PATH, app=graphiql_assets(), name="graphiql-assets"),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint(task_counts)),
        Mount(
            "/ag-ui",
            create_agui_app(
                Dependencies(services=services, authenticator=authenticator),
                heartbeat_seconds=settings.ws_heartbeat_seconds,
            ),
        ),
        Mount(
            "/api",
            create_rest_app(
                services=services,
                authenticator=authenticator,
                heartbeat_seconds=settings.ws_heartbeat_seconds,
            ),
        ),
        *monitor_routes(),
    ]
    shutdown = Shutdown()
    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(ShutdownMiddleware, shutdown=shutdown),
        *security_middleware(settings, limiter),
    ]
    if settings.metrics_enabled:
        # Outermost but one: times everything the security middleware refuses too.
        middleware.insert(2, Middleware(MetricsMiddleware, routes=routes))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={HTTPException: outer_http_error},
    )
    relative_slash_redirects(app)
    app.state.shutdown = shutdown
    app.state.agentwire = AppState(
        settings=settings, services=services, authenticator=authenticator, tokens=tokens
    )
    return app
