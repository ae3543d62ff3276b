"""How figures are written on screen: money, tokens, durations, statuses."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from rich.cells import cell_len, set_cell_size

from proxy.records import (
    STATUS_CLIENT_DISCONNECTED,
    STATUS_GATEWAY_STOPPED,
    STATUS_TIMEOUT,
    STATUS_UPSTREAM_ERROR,
    RequestRecord,
)

UNPRICED = "unpriced"
# ANSI colours, which Textual maps to the theme, on the widget's own background.
SYNTAX_STYLE = {"theme": "ansi_dark", "background_color": "default"}


def money(value: Decimal | None, floor: int = 6) -> str:
    """Dollars for reading: cents from $1 up, four significant digits below.

    Never more than `floor` decimals, and a cost too small for them reads
    "<$0.000001", never $0: the exact figure is on the request's detail screen.
    """
    if value is None:
        return UNPRICED
    if value == 0:
        return "$0.00"
    sign, size = ("-" if value < 0 else ""), abs(value)
    places = 2 if size >= 1 else max(min(3 - size.adjusted(), floor), 2)
    rounded = size.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        return f"{sign}<${Decimal(1).scaleb(-floor):f}"
    if rounded >= 1 and places > 2:
        rounded, places = rounded.quantize(Decimal("0.01")), 2
    return f"{sign}${rounded:,.{places}f}"


def exact_money(value: Decimal) -> str:
    """Dollars with every digit the log holds, no trailing zeros past the cents."""
    text = f"{value.normalize():f}"
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


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


# Outcomes without an HTTP status, in at most nine cells for the Live table.
_SHORT_STATUS = {
    STATUS_CLIENT_DISCONNECTED: "disconn",
    STATUS_UPSTREAM_ERROR: "upstream",
    STATUS_TIMEOUT: "timeout",
    STATUS_GATEWAY_STOPPED: "stopped",
}


def short_status(record: RequestRecord) -> str:
    """The status label in a narrow column; the detail screen spells it out."""
    if not record.in_flight and isinstance(record.status, str):
        return _SHORT_STATUS.get(record.status, status_label(record))
    return status_label(record)


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


# C0 and C1 control characters and DEL: never sent to the terminal as they are.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _picture(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␛ for ESC
    return "␡" if code == 0x7F else "�"


def plain(text: str) -> str:
    """Client-supplied text made safe to draw: control characters shown, not run."""
    return _CONTROL.sub(_picture, text)


def fit(text: str, width: int, right: bool = False) -> str:
    """Text cut or padded to exactly `width` terminal cells (an ellipsis marks a cut).

    Cells, not characters: a CJK character takes two, so rows stay aligned.
    """
    if width <= 0:
        return ""
    size = cell_len(text)
    if size > width:
        return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - size)
    return pad + text if right else text + pad
