"""The request record and the token usage it carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

STATUS_CLIENT_DISCONNECTED = "client_disconnected"
STATUS_UPSTREAM_ERROR = "upstream_error"
STATUS_TIMEOUT = "timeout"
# The gateway was stopped while the request was still under way.
STATUS_GATEWAY_STOPPED = "gateway_stopped"

COST_COMPUTED = "computed"
COST_REPORTED = "reported"
COST_ESTIMATED = "estimated"
COST_UNPRICED = "unpriced"


@dataclass(slots=True)
class Usage:
    """Token counts in the record's convention, whatever the provider reported."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # The part of cache_write_tokens written with a one-hour lifetime.
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    # The provider's own cost figure in USD, when it reports one (OpenRouter).
    reported_cost: Decimal | None = None
    # The model the provider says answered, which may be a dated snapshot.
    response_model: str | None = None
    # True once the provider's final usage figures have been seen.
    complete: bool = False


@dataclass(slots=True)
class RequestRecord:
    """One row of the request log: what a request was, who made it, what it cost."""

    id: str
    started_at: datetime
    provider: str
    model: str
    project: str = "default"
    surface: str = "unknown"
    gateway_key_id: str | None = None
    # An HTTP status, or one of the STATUS_* strings when no status was answered.
    status: int | str = 0
    stream: bool = False
    path: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal | None = None
    cost_source: str = COST_UNPRICED
    latency_ms: float = 0.0
    ttfb_ms: float | None = None
    # A short, secret-free description of what went wrong, if anything did.
    error: str | None = None
    # Set by the gateway while a stream is still running; never stored as True.
    in_flight: bool = False

    def as_dict(self) -> dict:
        """The record as plain JSON-ready values, costs as exact decimal strings."""
        u = self.usage
        return {
            "id": self.id,
            "started_at": iso_utc(self.started_at),
            "provider": self.provider,
            "model": self.model,
            "project": self.project,
            "surface": self.surface,
            "gateway_key_id": self.gateway_key_id,
            "status": self.status,
            "stream": self.stream,
            "path": self.path,
            "input_tokens": u.input_tokens,
            "cache_read_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
            "output_tokens": u.output_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "cost_usd": decimal_text(self.cost_usd),
            "cost_source": self.cost_source,
            "latency_ms": round(self.latency_ms, 3),
            "ttfb_ms": None if self.ttfb_ms is None else round(self.ttfb_ms, 3),
            "error": self.error,
        }


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix and microseconds, sortable as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decimal_text(value: Decimal | None) -> str | None:
    """A decimal as plain text without exponent or trailing zeros ("0.00204")."""
    if value is None:
        return None
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def utc_now() -> datetime:
    """The current moment, timezone-aware in UTC."""
    return datetime.now(UTC)
