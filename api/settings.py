"""API settings (env prefix REGLAB_): the shared store/broker settings plus the HTTP server."""

from functools import lru_cache

from pydantic import Field

from models.settings import Settings as SharedSettings


class Settings(SharedSettings):
    """Settings of the API process."""

    host: str = Field(default="127.0.0.1", description="Interface the API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest JSON body a route reads (1 MiB holds any spec and search with "
        "room to spare); a larger one is answered 413 before it is parsed. Data uploads have "
        "their own limit.",
    )

    allowed_hosts: str = Field(
        default="localhost,127.0.0.1,[::1]",
        description="Comma-separated Host names the API answers to (`*.example.com` for "
        "subdomains); any other Host is refused with 400, so a DNS-rebinding page cannot "
        "reach it through a browser. Add the name clients use (the compose service name, a "
        "load balancer's).",
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins (`https://app.example.com`) whose pages may "
        "call the API from a browser; empty turns CORS off.",
    )

    sse_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often a live event stream (`GET .../events`) asks the store what is "
        "new: one short indexed read per stream, in a session of its own.",
    )
    sse_keepalive_seconds: float = Field(
        default=15.0,
        gt=0,
        le=15,
        description="An event stream with nothing to send sends a comment line this often, so "
        "that proxies keep it open (at most 15: FastAPI pings a silent stream that often).",
    )
    sse_max_streams_per_key: int = Field(
        default=16,
        ge=1,
        le=10_000,
        description="Event streams one API key may hold open at once in one API process; one "
        "more is a 429 until one of them closes.",
    )

    sse_max_stream_seconds: float = Field(
        default=600.0,
        gt=0,
        le=86_400,
        description="An event stream closes after this long, before its end if need be; "
        "clients reconnect with Last-Event-ID (EventSource and reglab's client do), and the "
        "key is checked again then: a revoked or expired key is cut off within this time.",
    )

    metrics_public: bool = Field(
        default=False,
        description="Whether `GET /metrics` answers without a key: only where the API is "
        "reachable from an internal network alone. Otherwise it needs a key of project "
        "`default` with the `metrics` scope (which opens nothing else) or `admin`.",
    )

    def allowed_host_list(self) -> list[str]:
        """`allowed_hosts` as a list."""
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    def cors_origin_list(self) -> list[str]:
        """`cors_origins` as a list (empty: CORS off)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


@lru_cache
def get_settings() -> Settings:
    """The API's settings, read once from the environment."""
    return Settings()
