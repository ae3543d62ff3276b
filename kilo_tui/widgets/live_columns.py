"""The columns of the Live table and how each turns a request into a cell."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kilo_tui.format import clock, count, duration, is_error, money, status_label
from proxy.records import RequestRecord

# A cell: its text and the name of the component style it is drawn in ("" = plain).
Cell = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Column:
    """One column: header, width, alignment and how to fill it."""

    key: str
    title: str
    width: int
    cell: Callable[[RequestRecord, datetime], Cell]
    right: bool = False
    # Flexible columns share whatever width the fixed ones leave over.
    flexible: bool = False


def _status(record: RequestRecord, now: datetime) -> Cell:
    label = status_label(record)
    if record.in_flight:
        return label, "streaming"
    return label, "error" if is_error(record) else "ok"


def _tokens(value: int, running: bool) -> Cell:
    if running and value == 0:
        return "…", "muted"
    return count(value), "muted" if value == 0 else ""


def _cost(record: RequestRecord, now: datetime) -> Cell:
    if record.in_flight:
        return "…", "muted"
    if record.cost_usd is None:
        return "unpriced", "unpriced"
    return money(record.cost_usd), ""


def _took(record: RequestRecord, now: datetime) -> Cell:
    if record.in_flight:
        elapsed = (now - record.started_at).total_seconds() * 1000
        return duration(max(elapsed, record.latency_ms)), "streaming"
    return duration(record.latency_ms), ""


COLUMNS: tuple[Column, ...] = (
    Column("time", "Time", 8, lambda r, now: (clock(r.started_at), "muted")),
    Column("status", "Status", 9, _status),
    Column("provider", "Provider", 10, lambda r, now: (r.provider, "")),
    Column("model", "Model", 22, lambda r, now: (r.model, ""), flexible=True),
    Column("project", "Project", 12, lambda r, now: (r.project, "")),
    Column("surface", "Surface", 12, lambda r, now: (r.surface, "")),
    Column(
        "input",
        "Input",
        9,
        lambda r, now: _tokens(r.usage.input_tokens, r.in_flight),
        right=True,
    ),
    Column(
        "cached",
        "Cached",
        9,
        lambda r, now: _tokens(r.usage.cache_read_tokens, r.in_flight),
        right=True,
    ),
    Column(
        "output",
        "Output",
        8,
        lambda r, now: _tokens(r.usage.output_tokens, r.in_flight),
        right=True,
    ),
    Column("cost", "Cost", 10, _cost, right=True),
    Column(
        "ttfb", "TTFB", 7, lambda r, now: (duration(r.ttfb_ms), "muted"), right=True
    ),
    Column("duration", "Took", 7, _took, right=True),
)

GAP = 2


def column_widths(total: int) -> list[int]:
    """Widths that fill `total` cells, giving spare room to the flexible column."""
    fixed = sum(c.width for c in COLUMNS) + GAP * (len(COLUMNS) - 1)
    spare = total - fixed
    return [c.width + max(spare, 0) if c.flexible else c.width for c in COLUMNS]


def fit(text: str, width: int, right: bool) -> str:
    """Text cut or padded to exactly `width` cells (an ellipsis marks a cut)."""
    if len(text) > width:
        return text[: max(width - 1, 0)] + "…"
    return text.rjust(width) if right else text.ljust(width)
