"""How tables, times, token counts and dollars read on a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal


def table(headers: Sequence[str], rows: list[Sequence[str]], left: int = 1) -> str:
    """Columns padded to fit; the first `left` columns left-aligned, others right."""
    widths = [
        max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)
    ]
    lines = []
    for row in (headers, *rows):
        cells = [
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def short_time(text: str | None) -> str:
    """A stored ISO time as "2025-01-31 14:05" (UTC)."""
    return "-" if not text else text[:16].replace("T", " ")


def tokens(count: int) -> str:
    """A token count for reading: 950, 12.3k, 4.56M."""
    value, suffix = float(count), ""
    for bigger in ("k", "M", "B"):
        if round(value) < 1000:
            break
        value, suffix = value / 1000, bigger
    if not suffix:
        return str(count)
    return (f"{value:.3g}" if value < 1000 else f"{value:,.0f}") + suffix


def usd(cost: Decimal | None) -> str:
    """Dollars with at least 4 decimals and 4 significant digits for tiny sums."""
    if cost is None:
        return "—"
    places = 4 if cost == 0 else min(max(4, 3 - cost.adjusted()), 12)
    rounded = cost.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


def plain_number(value: float) -> str:
    """A float in plain positional digits (0.000004, never 4e-06), for CSV cells."""
    return format(Decimal(repr(value)), "f")
