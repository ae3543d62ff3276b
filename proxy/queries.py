"""Cost breakdowns, totals, trends and exports over the request log.

The console's Costs screen and `kilo-tui report` both call these, so their figures
agree to the pico-dollar. Unfiltered queries read whole hours from usage_hourly and
only the cut-off edges of the window from the requests table.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import aiosqlite

from proxy.records import RequestRecord, decimal_text, iso_utc, utc_now
from proxy.store import (
    COLUMNS,
    ROLLUP_DIMENSIONS,
    SUMMED,
    open_reader,
    record_from_row,
)

# Breakdown name -> requests column.
DIMENSIONS = {
    "model": "model",
    "provider": "provider",
    "project": "project",
    "surface": "surface",
    "key": "gateway_key_id",
}
BUCKETS = {"hour": 13, "day": 10}
EXPORT_FIELDS = tuple(
    RequestRecord("", datetime(2000, 1, 1, tzinfo=UTC), "", "").as_dict()
)
EXPORT_FORMATS = ("csv", "json")
OTHER = "(other)"
# Queries take an open connection, or the database's path to open one themselves.
Source = aiosqlite.Connection | Path | str
_FETCH = 2000


@dataclass(frozen=True, slots=True)
class Figures:
    """Requests, tokens and cost of one group, or of the whole window (totals)."""

    # None in totals, and by key for requests made without a gateway key.
    group: str | None
    requests: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    # Sum over the priced requests, each rounded to the pico-dollar; None when
    # none of them had a price.
    cost: Decimal | None = None
    # Requests with no known price: counted here, never as $0 in cost.
    unpriced: int = 0
    # This group's part of the total cost, 0..1, for display only.
    share: float = 0.0

    def as_dict(self) -> dict:
        """JSON-ready values, the cost as an exact decimal string."""
        return {
            "group": self.group,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": decimal_text(self.cost),
            "unpriced_requests": self.unpriced,
            "share": round(self.share, 6),
        }


@dataclass(frozen=True, slots=True)
class Series:
    """One group's cost and request count per bucket of a trend."""

    group: str | None
    costs: list[Decimal]
    requests: list[int]
    # True for the sum of every group outside the top ones.
    other: bool = False


@dataclass(frozen=True, slots=True)
class Trend:
    """Cost over time: bucket start times and one series per top group."""

    bucket: str
    starts: list[datetime]
    series: list[Series] = field(default_factory=list)


@contextlib.asynccontextmanager
async def _reading(db: Source) -> AsyncIterator[aiosqlite.Connection]:
    """The connection given, or a read-only one opened on a path and closed after."""
    if isinstance(db, aiosqlite.Connection):
        yield db
        return
    conn = await open_reader(Path(db))
    try:
        yield conn
    finally:
        await conn.close()


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A moment from "7d", "24h", "30m", "2w", or an ISO date/time (UTC if naive)."""
    text = text.strip()
    match = re.fullmatch(r"(\d+)\s*([mhdw])", text.lower())
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
        return (now or utc_now()) - timedelta(**{unit: int(match[1])})
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(
            f"cannot read the time {text!r}: use 7d, 24h, 30m or a date like 2025-01-31"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def breakdown(
    db: Source,
    by: str,
    since: datetime | None = None,
    until: datetime | None = None,
    filters: dict[str, str | None] | None = None,
) -> list[Figures]:
    """Figures per model|provider|project|surface|key, costliest first."""
    async with _reading(db) as conn:
        rows = await _aggregate(conn, _column(by), None, since, until, filters)
    groups = [_figures(_group(by, grp), sums) for _, grp, sums in rows]
    total = sum((g.cost for g in groups if g.cost is not None), Decimal(0))
    groups = [_with_share(g, total) for g in groups]
    return sorted(groups, key=_rank)


async def totals(
    db: Source,
    since: datetime | None = None,
    until: datetime | None = None,
    filters: dict[str, str | None] | None = None,
) -> Figures:
    """Figures over every request in the window."""
    async with _reading(db) as conn:
        rows = await _aggregate(conn, None, None, since, until, filters)
    if not rows:
        return Figures(None)
    figures = _figures(None, rows[0][2])
    return _with_share(figures, figures.cost or Decimal(0))


async def trend(
    db: Source,
    by: str,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str = "hour",
    top: int = 5,
    filters: dict[str, str | None] | None = None,
) -> Trend:
    """Cost per hour or day of the top groups by cost, the rest summed as other."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}, not {bucket!r}")
    async with _reading(db) as conn:
        ranked = await breakdown(conn, by, since, until, filters)
        leaders = [g.group for g in ranked[:top]]
        keep = ["" if g is None else g for g in leaders]
        rows = await _aggregate(
            conn, _column(by), BUCKETS[bucket], since, until, filters, keep=keep
        )
    if not rows:
        return Trend(bucket, [])
    keys = _bucket_keys(bucket, since, until, [r[0] for r in rows])
    index = {k: i for i, k in enumerate(keys)}
    series = {g: _empty_series(g, len(keys)) for g in leaders}
    for key, grp, sums in rows:
        # Groups outside the leaders come back as NULL, summed by the query.
        group = OTHER if grp is None else _group(by, grp)
        if group not in series:
            series[group] = _empty_series(group, len(keys), other=group == OTHER)
        series[group].costs[index[key]] += _cost(sums[6])
        series[group].requests[index[key]] += sums[0]
    return Trend(bucket, [_bucket_start(k) for k in keys], list(series.values()))


def _empty_series(group: str | None, size: int, other: bool = False) -> Series:
    """A series of zeros, one per bucket."""
    return Series(group, [Decimal(0)] * size, [0] * size, other)


async def iter_export_rows(
    db: Source,
    since: datetime | None = None,
    until: datetime | None = None,
    filters: dict[str, str | None] | None = None,
) -> AsyncIterator[dict]:
    """Every request in the window, oldest first, as RequestRecord.as_dict()."""
    where, params = _raw_where(since, until, filters)
    sql = f"SELECT {', '.join(COLUMNS)} FROM requests {where} ORDER BY started_at, id"
    async with _reading(db) as conn, conn.execute(sql, params) as cursor:
        while rows := await cursor.fetchmany(_FETCH):
            for row in rows:
                yield record_from_row(row).as_dict()


async def export_rows(
    db: Source,
    since: datetime | None = None,
    until: datetime | None = None,
    filters: dict[str, str | None] | None = None,
) -> list[dict]:
    """Every request in the window as a list; iter_export_rows() streams instead."""
    return [row async for row in iter_export_rows(db, since, until, filters)]


async def recent_records(db: Source, limit: int = 1000) -> list[RequestRecord]:
    """The latest requests, oldest first, to fill a live view at start."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM requests ORDER BY started_at DESC LIMIT ?"
    async with _reading(db) as conn:
        rows = await conn.execute_fetchall(sql, (limit,))
    return [record_from_row(row) for row in reversed(list(rows))]


async def write_export(rows: AsyncIterator[dict], out: TextIO, fmt: str) -> int:
    """Write export rows as CSV (header first) or a JSON array; the row count."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be csv or json, not {fmt!r}")
    count = 0
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writerow(EXPORT_FIELDS)
    else:
        out.write("[")
    async for row in rows:
        if writer:
            writer.writerow(csv_value(row[k]) for k in EXPORT_FIELDS)
        else:
            out.write(("," if count else "") + "\n" + json.dumps(row))
        count += 1
    if not writer:
        out.write("\n]\n" if count else "]\n")
    return count


def csv_value(value: object) -> str:
    """A CSV cell: empty for null, true/false for flags, exact text otherwise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv_rows(rows: Iterable[dict], out: TextIO) -> None:
    """Plain dict rows as CSV with their keys as the header."""
    writer = None
    for row in rows:
        if writer is None:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(row)
        writer.writerow(csv_value(v) for v in row.values())


# --- SQL --------------------------------------------------------------------------

_SUMS = ", ".join(f"SUM({c})" for c in ("requests", *SUMMED, "cost_pusd", "priced"))
_ROLLUP_COLS = ", ".join(("requests", *SUMMED, "cost_pusd", "priced"))
# Named like usage_hourly's columns, so a UNION may start with either source.
_RAW_COLS = ", ".join(
    (
        "1 AS requests",
        *SUMMED,
        "coalesce(cost_pusd, 0) AS cost_pusd",
        "cost_pusd IS NOT NULL AS priced",
    )
)


def _column(by: str) -> str:
    """The requests column behind a breakdown name; ValueError for an unknown one."""
    try:
        return DIMENSIONS[by]
    except KeyError:
        raise ValueError(
            f"cannot break down by {by!r}: use one of {', '.join(DIMENSIONS)}"
        ) from None


async def _aggregate(
    db: Source,
    column: str | None,
    bucket_len: int | None,
    since: datetime | None,
    until: datetime | None,
    filters: dict[str, str | None] | None,
    keep: list[str] | None = None,
) -> list[tuple[str, str | None, tuple]]:
    """(bucket, group, sums) rows; sums = requests, SUMMED..., cost_pusd, priced.

    With keep, every group not in it is summed into one group named None.
    """
    parts, params = _sources(column, bucket_len, since, until, filters)
    grp = "grp"
    if keep is not None:
        grp = f"CASE WHEN grp IN ({', '.join('?' * len(keep))}) THEN grp END"
        params = [*keep, *params]
    sql = (
        f"SELECT bucket, {grp} AS g, {_SUMS} FROM ({' UNION ALL '.join(parts)}) "
        "GROUP BY bucket, g HAVING SUM(requests) > 0"
    )
    rows = await db.execute_fetchall(sql, params)
    return [(r[0], r[1], tuple(r[2:])) for r in rows]


def _sources(column, bucket_len, since, until, filters) -> tuple[list[str], list]:
    """SELECTs that together cover the window exactly once."""
    dim = "*" if column is None else column
    raw_group = ROLLUP_DIMENSIONS[dim].format(r="requests")
    if filters:
        hours, raw = None, [(since, until)]
    else:
        hours, raw = _split(since, until)
    parts, params = [], []
    if hours is not None:
        sql, args = _rollup_select(dim, bucket_len, *hours)
        parts.append(sql)
        params += args
    for lo, hi in raw:
        where, args = _raw_where(lo, hi, filters)
        bucket = f"substr(started_at, 1, {bucket_len})" if bucket_len else "''"
        parts.append(
            f"SELECT {bucket} AS bucket, {raw_group} AS grp, "
            f"{_RAW_COLS} FROM requests {where}"
        )
        params += args
    return parts, params


def _rollup_select(dim, bucket_len, lo, hi) -> tuple[str, list]:
    """Whole hours [lo, hi) of one dimension from usage_hourly."""
    bucket = f"substr(hour, 1, {bucket_len})" if bucket_len else "''"
    where, params = ["dim = ?"], [dim]
    if lo is not None:
        where.append("hour >= ?")
        params.append(iso_utc(lo)[:13])
    if hi is not None:
        where.append("hour < ?")
        params.append(iso_utc(hi)[:13])
    sql = (
        f"SELECT {bucket} AS bucket, value AS grp, {_ROLLUP_COLS} "
        f"FROM usage_hourly WHERE {' AND '.join(where)}"
    )
    return sql, params


def _split(since, until) -> tuple[tuple | None, list[tuple]]:
    """The whole hours inside [since, until) and the raw edges around them."""
    lo = None if since is None else _ceil_hour(since)
    hi = None if until is None else _floor_hour(until)
    if lo is not None and hi is not None and lo > hi:
        return None, [(since, until)]
    raw = []
    if since is not None and since < lo:
        raw.append((since, lo))
    if until is not None and hi < until:
        raw.append((hi, until))
    return (lo, hi), raw


def _raw_where(since, until, filters) -> tuple[str, list]:
    """A WHERE clause over requests for a window and exact-match filters."""
    where, params = [], []
    if since is not None:
        where.append("started_at >= ?")
        params.append(iso_utc(since))
    if until is not None:
        where.append("started_at < ?")
        params.append(iso_utc(until))
    for name, value in (filters or {}).items():
        column = _column(name)
        where.append(f"{column} IS NULL" if value is None else f"{column} = ?")
        params += [] if value is None else [value]
    return ("WHERE " + " AND ".join(where)) if where else "", params


def _floor_hour(moment: datetime) -> datetime:
    """The start of the UTC hour holding a moment."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    """The first whole-hour boundary at or after a moment."""
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


# --- shaping results --------------------------------------------------------------


def _cost(pusd: int | None) -> Decimal | None:
    """Pico-dollars back to exact dollars."""
    return None if pusd is None else Decimal(pusd).scaleb(-12)


def _figures(group: str | None, sums: tuple) -> Figures:
    """Figures from (requests, SUMMED..., cost_pusd, priced) sums."""
    requests, *tokens, pusd, priced = (v or 0 for v in sums)
    return Figures(
        group,
        requests,
        *tokens,
        cost=_cost(pusd) if priced else None,
        unpriced=requests - priced,
    )


def _with_share(figures: Figures, total: Decimal) -> Figures:
    """The same figures with their part of a total cost filled in."""
    share = float(figures.cost / total) if total and figures.cost else 0.0
    return replace(figures, share=share)


def _group(by: str, value: str) -> str | None:
    """A stored group value for display; no gateway key is None, not ""."""
    return None if by == "key" and value == "" else value


def _rank(figures: Figures) -> tuple:
    """Costliest first, then busiest, then by name."""
    return (-(figures.cost or 0), -figures.requests, figures.group or "")


def _bucket_keys(
    bucket: str, since: datetime | None, until: datetime | None, seen: list[str]
) -> list[str]:
    """Every bucket key from the window's start to its end, gaps included."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    first = _bucket_start(min(seen)) if since is None else _truncate(since, bucket)
    end = utc_now() if until is None else until - timedelta(microseconds=1)
    last = max(_truncate(end, bucket), _bucket_start(max(seen)))
    keys, moment = [], first
    while moment <= last:
        keys.append(iso_utc(moment)[: BUCKETS[bucket]])
        moment += step
    return keys


def _truncate(moment: datetime, bucket: str) -> datetime:
    """The start of the UTC hour or day holding a moment."""
    hour = _floor_hour(moment)
    return hour if bucket == "hour" else hour.replace(hour=0)


def _bucket_start(key: str) -> datetime:
    """The moment a bucket key ("2025-01-31" or "2025-01-31T14") starts."""
    if len(key) == BUCKETS["day"]:
        return datetime.fromisoformat(key).replace(tzinfo=UTC)
    return datetime.fromisoformat(key + ":00").replace(tzinfo=UTC)
