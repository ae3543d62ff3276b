"""The Live table's columns: how each fills a cell, and which fit a given width."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kilo_tui.format import (
    clock,
    compact,
    count,
    duration,
    is_error,
    money,
    plain,
    short_status,
)
from proxy.records import RequestRecord

# A cell: its text and the name of the component style it is drawn in ("" = plain).
Cell = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Column:
    """One column: header, width, alignment, how to fill it, and how much it matters."""

    key: str
    title: str
    width: int
    cell: Callable[[RequestRecord, datetime], Cell]
    right: bool = False
    # Spare width is shared out by these weights; 0 keeps the column at its width.
    grow: int = 0
    # The most cells a growing column takes (0: no limit).
    most: int = 0
    # When the width runs short, columns are dropped lowest rank first; 0 stays.
    rank: int = 0


def _status(record: RequestRecord, now: datetime) -> Cell:
    label = short_status(record)
    if record.in_flight:
        return label, "streaming"
    return label, "error" if is_error(record) else "ok"


def _tokens(value: int, running: bool) -> Cell:
    if running and value == 0:
        return "…", "muted"
    # Past a million (long-context prompts) "1.2M" keeps the column narrow.
    text = count(value) if value < 1_000_000 else compact(value)
    return text, "muted" if value == 0 else ""


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


def _text(value: str) -> Cell:
    # Client-supplied text: control characters are shown, never sent to the terminal.
    return plain(value), ""


# Costs read "<$0.000001" at their longest below $100,000, so Cost needs 10 cells.
COLUMNS: tuple[Column, ...] = (
    Column("time", "Time", 8, lambda r, now: (clock(r.started_at), "muted"), rank=5),
    Column("status", "Status", 9, _status),
    Column("provider", "Provider", 10, lambda r, now: _text(r.provider), rank=6),
    Column("model", "Model", 14, lambda r, now: _text(r.model), grow=3),
    Column("project", "Project", 9, lambda r, now: _text(r.project), grow=1, most=20),
    Column("surface", "Surface", 10, lambda r, now: _text(r.surface), rank=1),
    Column(
        "input",
        "Input",
        8,
        lambda r, now: _tokens(r.usage.input_tokens, r.in_flight),
        right=True,
        rank=7,
    ),
    Column(
        "cached",
        "Cached",
        8,
        lambda r, now: _tokens(r.usage.cache_read_tokens, r.in_flight),
        right=True,
        rank=3,
    ),
    Column(
        "output",
        "Output",
        7,
        lambda r, now: _tokens(r.usage.output_tokens, r.in_flight),
        right=True,
        rank=8,
    ),
    Column("cost", "Cost", 10, _cost, right=True),
    Column(
        "ttfb",
        "TTFB",
        6,
        lambda r, now: (duration(r.ttfb_ms), "muted"),
        right=True,
        rank=2,
    ),
    Column("duration", "Took", 6, _took, right=True, rank=4),
)

GAP = 2


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns shown at one width, and how wide each is drawn."""

    columns: tuple[Column, ...]
    widths: tuple[int, ...]


def _needed(columns: list[Column]) -> int:
    return sum(c.width for c in columns) + GAP * (len(columns) - 1)


def layout(total: int, columns: tuple[Column, ...] = COLUMNS) -> Layout:
    """The columns that fit in `total` cells, the spare room shared by growing ones."""
    shown = list(columns)
    for column in sorted((c for c in columns if c.rank), key=lambda c: c.rank):
        if _needed(shown) <= total:
            break
        shown.remove(column)
    widths = [c.width for c in shown]
    spare = max(total - _needed(shown), 0)
    growing = [i for i, c in enumerate(shown) if c.grow]
    # Capped columns first, so what they cannot take goes to the others.
    growing.sort(key=lambda i: (shown[i].most == 0, i))
    weight = sum(shown[i].grow for i in growing)
    for i in growing:
        share = spare * shown[i].grow // weight if weight else 0
        if shown[i].most:
            share = min(share, max(shown[i].most - widths[i], 0))
        widths[i] += share
        spare -= share
        weight -= shown[i].grow
    return Layout(tuple(shown), tuple(widths))
