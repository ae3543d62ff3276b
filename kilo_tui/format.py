"""How figures are written on screen: money, tokens, durations, statuses."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from proxy.records import RequestRecord

UNPRICED = "unpriced"
# ANSI colours, which Textual maps to the theme, on the widget's own background.
SYNTAX_STYLE = {"theme": "ansi_dark", "background_color": "default"}


def money(value: Decimal | None, places: int | None = None) -> str:
    """Dollars as `kilo-tui report` prints them: at least 4 places, 4 digits shown."""
    if value is None:
        return UNPRICED
    if places is None:
        places = 4 if value == 0 else min(max(4, 3 - value.adjusted()), 12)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


def count(value: int) -> str:
    """A whole number with thousands separators."""
    return f"{value:,}"


def compact(value: float) -> str:
    """A number in at most five characters: 950, 12.3k, 4.5M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def duration(ms: float | None) -> str:
    """Milliseconds under a second, seconds under a minute, then minutes."""
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(int(ms // 1000), 60)
    return f"{minutes}m{seconds:02d}s"


def clock(moment: datetime) -> str:
    """The local wall-clock time of a moment."""
    return moment.astimezone().strftime("%H:%M:%S")


def status_label(record: RequestRecord) -> str:
    """What a request's status column says: streaming, ok, or what went wrong."""
    if record.in_flight:
        return "streaming" if record.stream else "waiting"
    status = record.status
    if isinstance(status, int):
        if status == 0:
            return "waiting"
        return "ok" if status < 400 else str(status)
    return status.replace("_", " ")


def is_error(record: RequestRecord) -> bool:
    """Whether a finished request failed, by status code or by what happened."""
    if record.in_flight:
        return False
    status = record.status
    return isinstance(status, str) or status >= 400


def mask(secret: str | None) -> str:
    """A secret shown as its last four characters only."""
    if not secret:
        return ""
    return "…" + secret[-4:]
