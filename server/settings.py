"""Settings, read once from `AGENTWIRE_*` environment variables and passed down."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_JWT_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Every knob of a running agentwire; nothing else reads the environment."""

    model_config = SettingsConfigDict(env_prefix="AGENTWIRE_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path(".agentwire")
    database_url: str | None = None
    redis_url: str | None = None
    # A Redis that hangs (SIGSTOP, a black-holed network) costs a command at most this
    # long; after redis_breaker_failures failures in a row Redis is skipped (delivery
    # from the database, rate limits fail open) for redis_breaker_reset_seconds, then
    # one probe decides. See docs/security.md, "Timeouts".
    redis_socket_timeout: float = Field(default=0.5, gt=0, le=60)
    redis_connect_timeout: float = Field(default=0.5, gt=0, le=60)
    redis_breaker_failures: int = Field(default=3, ge=1, le=100)
    redis_breaker_reset_seconds: float = Field(default=5, gt=0, le=600)

    jwt_secret: str | None = None
    jwt_issuer: str = "agentwire"
    jwt_audience: str = "agentwire"
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # A PEM file (one or more public keys) or a JWKS file: RS256/ES256 tokens from an issuer.
    jwt_public_keys: Path | None = None

    # Rate limits in the `limits` notation ("600/minute", "10/second;100/minute").
    rate_limit_read: str = "600/minute"
    rate_limit_write: str = "120/minute"
    rate_limit_subscribe: str = "60/minute"
    rate_limit_ws_message: str = "600/minute"
    # Failed authentications per client address, per instance; over it a credential is
    # refused (429) before it is looked up.
    rate_limit_auth_failure: str = "30/minute"

    # Comma-separated origins allowed to call from a browser ("*" allows any, never credentials).
    cors_origins: str = ""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Request heads, checked before any route or authentication (server/http_protocol.py):
    # the request line plus headers, the number of headers (over either: 431), the time a
    # head may take to arrive (then 408 and close), and how long an idle keep-alive
    # connection stays open.
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    max_header_count: int = Field(default=100, ge=10, le=10_000)
    header_timeout_seconds: float = Field(default=10, gt=0, le=300)
    # Above the idle timeouts of common HTTP clients (Node.js fetch: 4 s, on a one-second
    # timer), so a client never reuses a connection the server is closing at that moment.
    keep_alive_seconds: int = Field(default=15, ge=1, le=300)
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For names
    # the client (audit entries, the failed-authentication throttle). Empty: the peer.
    trusted_proxies: str = ""

    host: str = "127.0.0.1"
    port: int = 8000

    max_running: int = Field(default=4, ge=1)
    max_running_per_user: int = Field(default=2, ge=1)
    approval_timeout_seconds: float = Field(default=3600, gt=0)
    # An approved (or input-answered) task that shows no progress this long gets a STALLED
    # event and `Task.stalledSince` (docs/approvals.md).
    resume_stall_seconds: float = Field(default=60, gt=0, le=86_400)
    lease_seconds: float = Field(default=30, gt=0)
    progress_interval_seconds: float = Field(default=0.25, ge=0)
    # Legacy WebSocket and SSE: how often the server sends a heartbeat to a quiet client.
    ws_heartbeat_seconds: float = Field(default=15, gt=0, le=3600)

    db_pool_size: int = Field(default=10, ge=1)
    # PostgreSQL that stops answering (a partition): connecting, one statement (client
    # and server side) and waiting for a pooled connection each give up after this long,
    # and the request answers 503 UNAVAILABLE. See docs/security.md, "Timeouts".
    db_connect_timeout: float = Field(default=3, gt=0, le=600)
    db_command_timeout: float = Field(default=5, gt=0, le=3600)
    db_statement_timeout: float = Field(default=5, gt=0, le=3600)
    db_pool_timeout: float = Field(default=5, gt=0, le=600)
    log_level: str = "INFO"
    # SIGTERM: open streams end at once; other requests get this long to finish.
    shutdown_grace_seconds: float = Field(default=10, ge=0, le=600)
    # json or text; unset: json in production, text otherwise.
    log_format: Literal["json", "text"] | None = None
    # False turns off recording of request metrics (for the metrics on/off benchmark).
    metrics_enabled: bool = True

    # graphql-transport-ws: seconds to wait for connection_init (then 4408), the largest
    # frame accepted (a larger one closes the socket with 1009); the heartbeat interval
    # is ws_heartbeat_seconds. See docs/protocol.md.
    ws_init_timeout: float = Field(default=10, gt=0, le=600)
    ws_max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    # How often open sockets and streams re-check their credential (revoked session or
    # API key, expired token); a write on a socket re-checks it, at most this often per
    # credential. See docs/security.md.
    credential_recheck_seconds: float = Field(default=2, gt=0, le=60)
    # Sockets (graphql-transport-ws and the legacy task socket) one user may hold open on
    # an instance; the next is closed with 4429 (docs/protocol.md).
    ws_max_connections_per_user: int = Field(default=50, ge=1, le=100_000)
    # How long the position of a subscription of a client that sent `resumeKey` is kept
    # after it was last delivered to (at least the 10 minutes docs/protocol.md promises).
    ws_resume_ttl_seconds: float = Field(default=900, ge=600, le=7 * 86400)
    # False: an API-only instance that serves requests and sockets but never runs tasks.
    run_engine: bool = True
    # A task whose lease lapsed this many times (crashed or partitioned runners) fails.
    worker_max_attempts: int = Field(default=3, ge=1, le=100)
    # The `worker`-scope API key `agentwire worker` authenticates with (docs/workers.md).
    worker_key: SecretStr | None = None

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under the data folder."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'agentwire.db').resolve()}"

    @property
    def resolved_log_format(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "text"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    def resolved_jwt_secret(self) -> str | None:
        """The configured secret, or one generated once and kept in the data folder.

        None when only public keys are configured: then no HS256 token is accepted.
        Production refuses to start without an explicit secret or public keys, because
        a generated secret would differ between instances.
        """
        if self.jwt_secret:
            # HS256 with a short secret can be brute-forced offline from one token.
            if self.is_production and len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
                raise RuntimeError(
                    f"AGENTWIRE_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes when "
                    "AGENTWIRE_ENV=production: generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
            return self.jwt_secret
        if self.jwt_public_keys is not None:
            return None
        if self.is_production:
            raise RuntimeError(
                "set AGENTWIRE_JWT_SECRET (HS256) or AGENTWIRE_JWT_PUBLIC_KEYS (RS256/ES256) "
                "when AGENTWIRE_ENV=production"
            )
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs people paste and pick the async driver for them."""
    for plain, async_driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return async_driver + url[len(plain) :]
    return url
