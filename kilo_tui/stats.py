"""Rolling rates for the Live strip: requests, tokens and spend per unit of time."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kilo_tui.format import is_error
from proxy.records import RequestRecord

HISTORY_SECONDS = 60
RATE_SECONDS = 10


@dataclass(slots=True)
class _Second:
    requests: int = 0
    tokens: int = 0
    errors: int = 0
    cost: Decimal = field(default_factory=Decimal)


@dataclass(slots=True)
class Rates:
    """What the strip shows at one moment."""

    requests_per_s: float = 0.0
    tokens_per_s: float = 0.0
    usd_per_hour: Decimal = field(default_factory=Decimal)
    error_rate: float = 0.0
    in_flight: int = 0
    history: list[int] = field(default_factory=list)


class RateMeter:
    """Counts finished requests in one-second buckets over the last minute."""

    def __init__(self) -> None:
        self._seconds: dict[int, _Second] = {}

    def add(self, record: RequestRecord, now: float) -> None:
        """Count a request that has just finished."""
        bucket = self._seconds.setdefault(int(now), _Second())
        bucket.requests += 1
        bucket.tokens += record.usage.input_tokens + record.usage.output_tokens
        bucket.errors += is_error(record)
        bucket.cost += record.cost_usd or 0

    def rates(self, now: float, in_flight: int = 0) -> Rates:
        """Rates over the last ten seconds; spend and errors over the last minute."""
        current = int(now)
        self._forget(current)
        recent = [self._seconds.get(s) for s in range(current - RATE_SECONDS, current)]
        recent = [b for b in recent if b]
        minute = list(self._seconds.values())
        requests = sum(b.requests for b in minute)
        return Rates(
            requests_per_s=sum(b.requests for b in recent) / RATE_SECONDS,
            tokens_per_s=sum(b.tokens for b in recent) / RATE_SECONDS,
            usd_per_hour=sum((b.cost for b in minute), Decimal(0)) * 60,
            error_rate=sum(b.errors for b in minute) / requests if requests else 0.0,
            in_flight=in_flight,
            history=self._history(current),
        )

    def _history(self, current: int) -> list[int]:
        seconds = range(current - HISTORY_SECONDS + 1, current + 1)
        return [getattr(self._seconds.get(s), "requests", 0) for s in seconds]

    def _forget(self, current: int) -> None:
        for second in [s for s in self._seconds if s <= current - HISTORY_SECONDS]:
            del self._seconds[second]
