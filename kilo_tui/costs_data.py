"""Loads the Costs screen's figures through proxy.queries, as `kilo-tui report` does."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiosqlite

from proxy import queries
from proxy.queries import Figures, Trend
from proxy.store import prepare_database


@dataclass(frozen=True, slots=True)
class Period:
    """A named window of time ending now."""

    key: str
    label: str
    start: Callable[[datetime], datetime | None]


def _today(now: datetime) -> datetime:
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


PERIODS: tuple[Period, ...] = (
    Period("today", "Today", _today),
    Period("7d", "7 days", lambda now: now - timedelta(days=7)),
    Period("30d", "30 days", lambda now: now - timedelta(days=30)),
    Period("all", "All time", lambda now: None),
    Period("custom", "Custom…", lambda now: None),
)
GROUPS = ("model", "provider", "project", "surface", "key")
# Longer windows than this are drawn by the day unless hours are asked for: 72
# hourly bars are about as many as a terminal can tell apart.
HOURLY_UP_TO = timedelta(days=3)


def auto_bucket(since: datetime | None, until: datetime) -> str:
    """ "hour" for windows of up to three days, else "day"."""
    return "hour" if since is not None and until - since <= HOURLY_UP_TO else "day"


@dataclass(frozen=True, slots=True)
class CostsData:
    """Everything the Costs screen shows for one period and grouping."""

    by: str
    since: datetime | None
    until: datetime
    totals: Figures
    rows: list[Figures]
    trend: Trend


async def load_costs(
    path: Path,
    by: str,
    since: datetime | None,
    until: datetime,
    bucket: str,
    top: int = 5,
) -> CostsData:
    """Totals, breakdown and trend for a window, from the request log at `path`."""
    await asyncio.to_thread(prepare_database, path)
    async with aiosqlite.connect(path) as db:
        totals = await queries.totals(db, since, until)
        rows = await queries.breakdown(db, by, since, until)
        trend = await queries.trend(db, by, since, until, bucket, top)
    return CostsData(by, since, until, totals, rows, trend)


async def load_recent(path: Path, limit: int) -> list:
    """The latest `limit` requests in the log, oldest first."""
    await asyncio.to_thread(prepare_database, path)
    async with aiosqlite.connect(path) as db:
        return await queries.recent_records(db, limit)


async def export(
    path: Path,
    target: Path,
    what: str,
    fmt: str,
    data: CostsData,
) -> int:
    """Write the breakdown or the raw rows of a window to `target`; the row count."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if what == "breakdown":
        return await asyncio.to_thread(_write_breakdown, target, fmt, data.rows)
    async with aiosqlite.connect(path) as db:
        out = io.StringIO()
        rows = queries.iter_export_rows(db, data.since, data.until)
        count = await queries.write_export(rows, out, fmt)
    await asyncio.to_thread(target.write_text, out.getvalue(), encoding="utf-8")
    return count


def _write_breakdown(target: Path, fmt: str, rows: list[Figures]) -> int:
    dicts = [row.as_dict() for row in rows]
    with target.open("w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            queries.write_csv_rows(dicts, out)
        else:
            json.dump(dicts, out, indent=2)
            out.write("\n")
    return len(dicts)


def export_path(directory: Path, what: str, by: str, fmt: str, now: datetime) -> Path:
    """A new file name that says what it holds and when it was made."""
    stamp = now.astimezone().strftime("%Y%m%d-%H%M%S")
    name = (
        f"kilo-{what}-{by}-{stamp}.{fmt}"
        if what == "breakdown"
        else (f"kilo-requests-{stamp}.{fmt}")
    )
    return directory / name
