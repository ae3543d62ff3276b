"""How fast the cost queries answer over a large request log.

Seeds a temporary database with synthetic requests (1,000,000 over 30 days by
default) through the real schema and triggers, then times each query the Costs
screen and `kilo-tui report` run. Prints figures; asserts nothing.

    python bench/query_speed.py [--rows 1000000] [--days 30] [--keep PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from proxy import queries
from proxy.records import RequestRecord, Usage
from proxy.store import connect, insert_rows, open_reader, record_row

BATCH = 5000
PROVIDERS = [f"provider-{i}" for i in range(8)]
MODELS = [f"model-{i}" for i in range(40)]
PROJECTS = [f"project-{i}" for i in range(20)]
SURFACES = [f"surface-{i}" for i in range(10)]
KEYS = [None] + [f"gk_{i:08x}" for i in range(10)]


def synthetic(rnd: random.Random, n: int, start: datetime, step: float):
    """A request record with realistic spread; 5% unpriced, 3% failed."""
    priced = rnd.random() > 0.05
    failed = rnd.random() < 0.03
    return RequestRecord(
        id=f"req-{n:09d}",
        started_at=start + timedelta(seconds=n * step + rnd.random() * step),
        provider=rnd.choice(PROVIDERS),
        model=rnd.choice(MODELS),
        project=rnd.choice(PROJECTS),
        surface=rnd.choice(SURFACES),
        gateway_key_id=rnd.choice(KEYS),
        status=rnd.choice([429, 500, "timeout"]) if failed else 200,
        stream=rnd.random() < 0.7,
        path="/v1/chat/completions",
        usage=Usage(
            input_tokens=rnd.randrange(200_000),
            cache_read_tokens=rnd.randrange(50_000),
            output_tokens=rnd.randrange(8_000),
            reasoning_tokens=rnd.randrange(2_000),
        ),
        cost_usd=Decimal(rnd.randrange(10**9)).scaleb(-12) if priced else None,
        cost_source="computed" if priced else "unpriced",
        latency_ms=rnd.random() * 20_000,
        ttfb_ms=rnd.random() * 2_000,
    )


def seed(path: Path, rows: int, days: int, now: datetime) -> float:
    """Fill the database in batches, as the writer would; the seconds it took."""
    rnd = random.Random(7)
    start = now - timedelta(days=days)
    step = days * 86400 / rows
    conn = connect(path)
    began = time.perf_counter()
    try:
        for first in range(0, rows, BATCH):
            batch = range(first, min(first + BATCH, rows))
            insert_rows(
                conn, [record_row(synthetic(rnd, n, start, step)) for n in batch]
            )
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return time.perf_counter() - began


async def timed(label: str, run: Callable[[], Awaitable], repeat: int = 3) -> None:
    """Print the first (cold) and best of a few runs of a query."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await run()
        times.append((time.perf_counter() - began) * 1000)
    print(f"  {label:<42} first {times[0]:8.1f} ms   best {min(times):8.1f} ms")


async def measure(path: Path, days: int, now: datetime) -> None:
    """Time every breakdown, the totals, trends and a filtered query."""
    db = await open_reader(path)
    since = now - timedelta(days=days)
    try:
        for by in queries.DIMENSIONS:
            await timed(
                f"breakdown by {by}, {days} days",
                lambda by=by: queries.breakdown(db, by, since, now),
            )
        await timed("totals", lambda: queries.totals(db, since, now))
        for bucket in queries.BUCKETS:
            await timed(
                f"trend by model per {bucket}, top 5",
                lambda b=bucket: queries.trend(db, "model", since, now, bucket=b),
            )
        await timed(
            "breakdown by model, one project (filtered)",
            lambda: queries.breakdown(
                db, "model", since, now, {"project": "project-3"}
            ),
        )
        await timed(
            "breakdown by model, last 24 h",
            lambda: queries.breakdown(db, "model", now - timedelta(days=1), now),
        )
    finally:
        await db.close()


def main() -> None:
    """Seed, then measure; the database is deleted unless --keep names a path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="write the database here")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.sqlite3"
        print(f"seeding {args.rows:,} requests over {args.days} days into {path}")
        seconds = seed(path, args.rows, args.days, now)
        size = path.stat().st_size / 1e6
        with sqlite3.connect(path) as conn:
            hourly = conn.execute("SELECT COUNT(*) FROM usage_hourly").fetchone()[0]
        print(f"  seeded in {seconds:.1f} s, {size:.0f} MB, {hourly:,} rollup rows")
        asyncio.run(measure(path, args.days, now))


if __name__ == "__main__":
    main()
