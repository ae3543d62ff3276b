"""Breakdowns, totals, trends and exports agree with a plain sum over the records."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from proxy import queries
from proxy.records import RequestRecord, Usage, iso_utc
from proxy.store import RequestStore, picodollars

T0 = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
FIELDS = {
    "model": "model",
    "provider": "provider",
    "project": "project",
    "surface": "surface",
    "key": "gateway_key_id",
}


def synthetic(n: int, rnd: random.Random) -> RequestRecord:
    """A record somewhere in a 3-day span; some unpriced, some without a key."""
    priced = rnd.random() > 0.2
    return RequestRecord(
        id=f"r{n:05d}",
        started_at=T0 + timedelta(seconds=rnd.randrange(3 * 86400)),
        provider=rnd.choice(["openai", "anthropic", "deepseek"]),
        model=rnd.choice(["gpt-4o", "claude-sonnet-4-5", "deepseek-chat", "odd"]),
        project=rnd.choice(["default", "site", "agent"]),
        surface=rnd.choice(["cline", "aider", "unknown"]),
        gateway_key_id=rnd.choice([None, "gk_00000001", "gk_00000002"]),
        status=rnd.choice([200, 200, 429, "timeout"]),
        usage=Usage(
            input_tokens=rnd.randrange(5000),
            cache_read_tokens=rnd.randrange(500),
            cache_write_tokens=rnd.randrange(50),
            output_tokens=rnd.randrange(900),
            reasoning_tokens=rnd.randrange(90),
        ),
        cost_usd=Decimal(rnd.randrange(10**8)).scaleb(-11) if priced else None,
        cost_source="computed" if priced else "unpriced",
    )


@pytest.fixture(scope="module")
def records() -> list[RequestRecord]:
    rnd = random.Random(42)
    return [synthetic(n, rnd) for n in range(600)]


@pytest.fixture
async def db(tmp_path, records):
    store = RequestStore(tmp_path / "kilo.sqlite3")
    await store.open()
    for record in records:
        store.submit(record)
    await store.flush()
    yield store.reader
    await store.close()


def expected(records, by, since=None, until=None) -> dict:
    """Brute force: group value -> (requests, tokens..., pusd or None, unpriced)."""
    groups = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, 0, 0])
    for r in records:
        if (since and r.started_at < since) or (until and r.started_at >= until):
            continue
        g = groups[None if by is None else getattr(r, FIELDS[by])]
        u = r.usage
        g[0] += 1
        for i, v in enumerate(
            (u.input_tokens, u.cache_read_tokens, u.cache_write_tokens),
            start=1,
        ):
            g[i] += v
        g[4] += u.output_tokens
        g[5] += u.reasoning_tokens
        if r.cost_usd is None:
            g[8] += 1
        else:
            g[6] += picodollars(r.cost_usd)
            g[7] += 1
    return {
        k: (*v[:6], Decimal(v[6]).scaleb(-12) if v[7] else None, v[8])
        for k, v in groups.items()
    }


def figures_tuple(f: queries.Figures) -> tuple:
    return (
        f.requests,
        f.input_tokens,
        f.cache_read_tokens,
        f.cache_write_tokens,
        f.output_tokens,
        f.reasoning_tokens,
        f.cost,
        f.unpriced,
    )


def windows():
    """Whole-hour, cut-hour, inside-one-hour, open-ended and empty windows."""
    rnd = random.Random(3)
    yield None, None
    yield T0 + timedelta(hours=5), T0 + timedelta(hours=30)
    yield T0 + timedelta(hours=2, minutes=10), None
    yield None, T0 + timedelta(hours=40, seconds=7)
    yield T0 + timedelta(hours=7, minutes=5), T0 + timedelta(hours=7, minutes=50)
    yield T0 + timedelta(hours=7, minutes=55), T0 + timedelta(hours=8, minutes=5)
    yield T0 + timedelta(days=9), None
    for _ in range(6):
        a = T0 + timedelta(seconds=rnd.randrange(3 * 86400))
        yield a, a + timedelta(seconds=rnd.randrange(1, 2 * 86400))


@pytest.mark.parametrize("by", list(FIELDS))
async def test_breakdown_matches_a_plain_sum(db, records, by):
    for since, until in windows():
        got = await queries.breakdown(db, by, since, until)
        want = expected(records, by, since, until)
        assert {f.group: figures_tuple(f) for f in got} == want, (since, until)


async def test_totals_match_a_plain_sum(db, records):
    for since, until in windows():
        got = await queries.totals(db, since, until)
        want = expected(records, None, since, until).get(None)
        assert figures_tuple(got) == (want or (0, 0, 0, 0, 0, 0, None, 0))


async def test_filtered_breakdown_matches_a_plain_sum(db, records):
    since, until = T0 + timedelta(hours=3, minutes=3), T0 + timedelta(days=2)
    site = [r for r in records if r.project == "site"]
    got = await queries.breakdown(db, "model", since, until, {"project": "site"})
    assert {f.group: figures_tuple(f) for f in got} == expected(
        site, "model", since, until
    )
    no_key = [r for r in records if r.gateway_key_id is None]
    got = await queries.totals(db, filters={"key": None})
    assert figures_tuple(got) == expected(no_key, None)[None]


async def test_breakdown_is_ranked_and_shares_add_up(db):
    rows = await queries.breakdown(db, "model")
    costs = [r.cost or 0 for r in rows]
    assert costs == sorted(costs, reverse=True)
    assert sum(r.share for r in rows) == pytest.approx(1.0)


async def test_unpriced_requests_are_never_zero_dollars(tmp_path):
    store = RequestStore(tmp_path / "kilo.sqlite3")
    await store.open()
    store.submit(RequestRecord("a", T0, "x", "mystery", cost_usd=None))
    store.submit(RequestRecord("b", T0, "x", "known", cost_usd=Decimal("0.5")))
    store.submit(
        RequestRecord("c", T0, "x", "known", cost_usd=None, cost_source="unpriced")
    )
    await store.close()
    rows = {f.group: f for f in await queries.breakdown(store.path, "model")}
    assert rows["mystery"].cost is None and rows["mystery"].unpriced == 1
    assert rows["known"].cost == Decimal("0.5") and rows["known"].unpriced == 1
    assert rows["mystery"].as_dict()["cost_usd"] is None
    total = await queries.totals(store.path)
    assert (total.cost, total.unpriced, total.requests) == (Decimal("0.5"), 2, 3)


async def test_requests_without_a_gateway_key_group_as_none(db, records):
    groups = {f.group for f in await queries.breakdown(db, "key")}
    assert groups == {None, "gk_00000001", "gk_00000002"}


async def test_unknown_dimension_is_refused(db):
    with pytest.raises(ValueError, match="cannot break down by 'colour'"):
        await queries.breakdown(db, "colour")


async def test_trend_keeps_the_top_groups_and_sums_the_rest(db, records):
    since, until = T0 + timedelta(hours=1, minutes=30), T0 + timedelta(days=2)
    trend = await queries.trend(db, "model", since, until, bucket="hour", top=2)
    ranked = await queries.breakdown(db, "model", since, until)
    assert [s.group for s in trend.series] == [
        ranked[0].group,
        ranked[1].group,
        queries.OTHER,
    ]
    assert trend.series[-1].other
    assert trend.starts[0] == T0 + timedelta(hours=1)
    assert trend.starts[-1] == until - timedelta(hours=1)
    steps = {b - a for a, b in zip(trend.starts, trend.starts[1:], strict=False)}
    assert steps == {timedelta(hours=1)}
    total = await queries.totals(db, since, until)
    assert sum(sum(s.costs) for s in trend.series) == total.cost
    assert sum(sum(s.requests) for s in trend.series) == total.requests
    for s, r in zip(trend.series, ranked, strict=False):
        if not s.other:
            assert sum(s.costs) == r.cost


async def test_daily_trend_over_everything(db, records):
    trend = await queries.trend(db, "provider", bucket="day", top=5)
    assert trend.starts[:3] == [T0 + timedelta(days=d) for d in range(3)]
    assert not any(s.other for s in trend.series)
    assert sum(sum(s.requests) for s in trend.series) == len(records)
    with pytest.raises(ValueError):
        await queries.trend(db, "model", bucket="week")


async def test_trend_of_an_empty_window(db):
    trend = await queries.trend(db, "model", T0 + timedelta(days=30))
    assert trend.starts == [] and trend.series == []


async def test_export_rows_are_the_records_as_dicts(db, records):
    since = T0 + timedelta(days=1)
    got = await queries.export_rows(db, since)
    want = sorted(
        (r for r in records if r.started_at >= since),
        key=lambda r: (r.started_at, r.id),
    )
    assert got == [r.as_dict() for r in want]
    assert tuple(got[0]) == queries.EXPORT_FIELDS


async def test_export_and_queries_accept_a_path(tmp_path, records):
    store = RequestStore(tmp_path / "kilo.sqlite3")
    await store.open()
    store.submit(records[0])
    await store.close()
    assert await queries.export_rows(store.path) == [records[0].as_dict()]
    assert (await queries.totals(str(store.path))).requests == 1


async def test_csv_export_reads_back(db, records):
    out = io.StringIO()
    count = await queries.write_export(queries.iter_export_rows(db), out, "csv")
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == len(table) == len(records)
    by_id = {r.id: r for r in records}
    for row in table:
        record = by_id[row["id"]]
        assert row["cost_usd"] == (queries.csv_value(record.as_dict()["cost_usd"]))
        assert row["status"] == str(record.status)
        assert row["stream"] in ("true", "false")


async def test_json_export_reads_back(db, records):
    out = io.StringIO()
    await queries.write_export(queries.iter_export_rows(db), out, "json")
    data = json.loads(out.getvalue())
    assert len(data) == len(records)
    statuses = {type(row["status"]) for row in data}
    assert statuses == {int, str}
    assert all(
        row["cost_usd"] is None or isinstance(row["cost_usd"], str) for row in data
    )


async def test_json_export_of_nothing_is_an_empty_list(tmp_path):
    out = io.StringIO()
    path = tmp_path / "empty.sqlite3"
    await queries.write_export(queries.iter_export_rows(path), out, "json")
    assert json.loads(out.getvalue()) == []


async def test_recent_records_are_the_latest_oldest_first(db, records):
    recent = await queries.recent_records(db, 5)
    latest = sorted(records, key=lambda r: r.started_at)[-5:]
    assert [r.id for r in recent] == [r.id for r in latest]


def test_parse_since_relative_and_absolute():
    now = datetime(2025, 5, 10, 12, 0, tzinfo=UTC)
    assert queries.parse_since("7d", now) == now - timedelta(days=7)
    assert queries.parse_since("24h", now) == now - timedelta(hours=24)
    assert queries.parse_since("30m", now) == now - timedelta(minutes=30)
    assert queries.parse_since("2w", now) == now - timedelta(weeks=2)
    assert queries.parse_since("2025-01-31") == datetime(2025, 1, 31, tzinfo=UTC)
    assert queries.parse_since("2025-01-31T10:00:00") == datetime(
        2025, 1, 31, 10, tzinfo=UTC
    )
    moment = queries.parse_since("2025-01-31T10:00:00+02:00")
    assert iso_utc(moment) == "2025-01-31T08:00:00.000000Z"


@pytest.mark.parametrize("text", ["", "yesterday", "7x", "-3d", "2025-13-01"])
def test_parse_since_refuses_nonsense(text):
    with pytest.raises(ValueError, match="use 7d, 24h, 30m"):
        queries.parse_since(text)
