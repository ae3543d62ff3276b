"""The request log: schema, exact costs, batching, and never losing a record."""

from __future__ import annotations

import asyncio
import inspect
import json
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from proxy import store as store_mod
from proxy.records import RequestRecord, Usage
from proxy.store import (
    SCHEMA_VERSION,
    RequestStore,
    StoreError,
    picodollars,
    prepare_database,
    record_from_row,
    record_row,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make(n: int, **kw) -> RequestRecord:
    """A finished request record, different for every n."""
    usage = kw.pop("usage", Usage(input_tokens=100 + n, output_tokens=10 + n))
    return RequestRecord(
        id=kw.pop("id", f"req-{n}"),
        started_at=kw.pop("started_at", T0 + timedelta(minutes=n)),
        provider=kw.pop("provider", "openai"),
        model=kw.pop("model", "gpt-4o"),
        status=kw.pop("status", 200),
        usage=usage,
        cost_usd=kw.pop("cost_usd", Decimal("0.00125")),
        cost_source=kw.pop("cost_source", "computed"),
        **kw,
    )


def rows(path, sql="SELECT * FROM requests ORDER BY started_at"):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "kilo.sqlite3"


@pytest.fixture
async def store(db_path):
    s = RequestStore(db_path)
    await s.open()
    yield s
    await s.close()


async def test_open_creates_a_private_wal_database(store, db_path):
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    assert rows(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert rows(db_path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


async def test_existing_database_is_made_private(db_path):
    prepare_database(db_path)
    db_path.chmod(0o644)
    prepare_database(db_path)
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600


async def test_status_keeps_its_type_and_cost_is_exact(store, db_path):
    store.submit(make(1, status=200, cost_usd=Decimal("0.000123456789012")))
    store.submit(make(2, status="client_disconnected", cost_usd=None))
    await store.flush()
    got = rows(
        db_path,
        "SELECT status, typeof(status), cost_usd, cost_pusd, cost_source "
        "FROM requests ORDER BY id",
    )
    assert got == [
        (200, "integer", "0.000123456789012", 123456789, "computed"),
        ("client_disconnected", "text", None, None, "unpriced"),
    ]


def test_picodollars_are_exact_and_round_half_even():
    assert picodollars(Decimal("0.00204")) == 2_040_000_000
    assert picodollars(Decimal("12345.678901234567")) == 12345678901234567
    assert picodollars(Decimal("0.0000000000005")) == 0
    assert picodollars(Decimal("0.0000000000015")) == 2
    assert picodollars(Decimal("0")) == 0


def test_a_row_turns_back_into_the_same_record():
    record = make(
        3,
        status="timeout",
        stream=True,
        path="/v1/chat/completions",
        gateway_key_id="gk_0123abcd",
        project="site",
        surface="cline",
        latency_ms=12.3456,
        ttfb_ms=1.5,
        error="upstream timed out",
        usage=Usage(1, 2, 3, 1, 4, 5, response_model="gpt-4o-2024-08-06"),
    )
    back = record_from_row(record_row(record))
    assert back.as_dict() == record.as_dict()
    assert back.usage.cache_write_1h_tokens == 1
    assert back.usage.response_model == "gpt-4o-2024-08-06"


def test_junk_values_are_made_storable():
    record = make(4, latency_ms=float("nan"), ttfb_ms=float("inf"))
    record.usage.input_tokens = 10**30
    record.usage.output_tokens = -5
    record.cost_usd = Decimal("NaN")
    row = dict(zip(store_mod.COLUMNS, record_row(record), strict=True))
    assert row["input_tokens"] == 2**63 - 1
    assert row["output_tokens"] == 0
    assert row["latency_ms"] is None and row["ttfb_ms"] is None
    assert row["cost_usd"] is None and row["cost_source"] == "unpriced"


def test_submit_is_a_plain_call_that_never_awaits():
    assert not inspect.iscoroutinefunction(RequestStore.submit)


async def test_submit_before_open_is_kept(db_path):
    s = RequestStore(db_path)
    s.submit(make(1))
    await s.open()
    await s.close()
    assert len(rows(db_path)) == 1


async def test_records_reach_disk_without_flush(store, db_path):
    store.submit(make(1))
    for _ in range(40):
        await asyncio.sleep(0.05)
        if rows(db_path):
            break
    assert len(rows(db_path)) == 1


async def test_a_batch_is_one_transaction(db_path, monkeypatch):
    s = RequestStore(db_path, flush_interval=60)
    await s.open()
    batches = []
    original = s._insert

    async def spy(batch):
        batches.append(len(batch))
        await original(batch)

    monkeypatch.setattr(s, "_insert", spy)
    for n in range(500):
        s.submit(make(n))
    await s.flush()
    await s.close()
    assert batches == [500]
    assert len(rows(db_path)) == 500


async def test_close_writes_everything(db_path):
    s = RequestStore(db_path, flush_interval=60)
    await s.open()
    for n in range(2500):
        s.submit(make(n))
    await s.close()
    assert len(rows(db_path)) == 2500


async def test_failed_batch_is_kept_and_retried(store, db_path, monkeypatch, caplog):
    original = store._insert
    failures = {"left": 1}

    async def flaky(batch):
        if failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("disk I/O error")
        await original(batch)

    monkeypatch.setattr(store, "_insert", flaky)
    for n in range(3):
        store.submit(make(n))
    with pytest.raises(StoreError, match="kept and retried"):
        await store.flush()
    assert store.pending == 3
    assert "disk I/O error" in caplog.text
    await store.flush()
    assert store.pending == 0 and store.last_error is None
    assert len(rows(db_path)) == 3


async def test_unwritable_records_survive_close_and_come_back(db_path, monkeypatch):
    s = RequestStore(db_path)
    await s.open()

    async def broken(batch):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(s, "_insert", broken)
    s.submit(make(1, status="timeout"))
    s.submit(make(2))
    await s.close()
    assert rows(db_path) == []
    assert stat.S_IMODE(s.unsaved_path.stat().st_mode) == 0o600

    again = RequestStore(db_path)
    await again.open()
    await again.close()
    assert not again.unsaved_path.exists()
    got = rows(db_path, "SELECT id, status FROM requests ORDER BY id")
    assert got == [("req-1", "timeout"), ("req-2", 200)]


async def test_resubmitting_a_record_replaces_it(store, db_path):
    store.submit(make(1, cost_usd=Decimal("1")))
    await store.flush()
    store.submit(make(1, cost_usd=Decimal("2")))
    await store.flush()
    assert rows(db_path, "SELECT cost_usd FROM requests") == [("2",)]
    hourly = rows(
        db_path, "SELECT requests, cost_pusd FROM usage_hourly WHERE dim = '*'"
    )
    assert hourly == [(1, 2 * 10**12)]


async def test_submit_after_close_is_refused(db_path):
    s = RequestStore(db_path)
    await s.open()
    await s.close()
    with pytest.raises(StoreError):
        s.submit(make(1))


async def test_flush_on_a_store_never_opened_says_so(db_path):
    with pytest.raises(StoreError, match="not open"):
        await RequestStore(db_path).flush()


async def test_corrupt_file_is_reported_and_left_alone(db_path):
    db_path.parent.mkdir(parents=True)
    junk = b"this is not a database, it is a shopping list\n" * 100
    db_path.write_bytes(junk)
    with pytest.raises(StoreError, match="damaged.*move it aside"):
        await RequestStore(db_path).open()
    assert db_path.read_bytes() == junk


async def test_newer_schema_is_refused(db_path):
    prepare_database(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="newer kilo-tui.*upgrade"):
        await RequestStore(db_path).open()
    assert rows(db_path, "SELECT version FROM schema_version") == [(99,)]


async def test_foreign_database_is_refused(db_path):
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    with pytest.raises(StoreError, match="not a kilo-tui one"):
        prepare_database(db_path)
    assert rows(db_path, "SELECT name FROM sqlite_master") == [("recipes",)]


async def test_unreadable_lines_of_the_side_file_are_kept_aside(db_path):
    prepare_database(db_path)
    unsaved = db_path.with_name(db_path.name + ".unsaved.jsonl")
    good = json.dumps(list(record_row(make(7))))
    unsaved.write_text(good + "\n" + good[:20] + "\n")
    s = RequestStore(db_path)
    await s.open()
    await s.close()
    assert [r[0] for r in rows(db_path)] == ["req-7"]
    assert unsaved.with_name(unsaved.name + ".bad").exists()
