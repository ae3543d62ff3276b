"""Request records made to order for the console tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from proxy.records import COST_COMPUTED, COST_UNPRICED, RequestRecord, Usage

T0 = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


def record(n: int = 1, **fields) -> RequestRecord:
    """A finished, priced OpenAI request unless told otherwise."""
    usage = fields.pop("usage", None) or Usage(
        input_tokens=fields.pop("input_tokens", 1000),
        cache_read_tokens=fields.pop("cache_read_tokens", 0),
        output_tokens=fields.pop("output_tokens", 100),
        complete=True,
    )
    defaults = dict(
        id=f"req{n:04d}",
        started_at=T0 + timedelta(seconds=n),
        provider="openai",
        model="gpt-4.1-mini",
        project="web",
        surface="cline",
        status=200,
        usage=usage,
        cost_usd=Decimal("0.00056"),
        cost_source=COST_COMPUTED,
        latency_ms=850.0,
        ttfb_ms=120.0,
    )
    defaults.update(fields)
    if defaults["cost_usd"] is None:
        defaults["cost_source"] = COST_UNPRICED
    return RequestRecord(**defaults)
