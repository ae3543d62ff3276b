"""The request log: a SQLite file written in batches by one writer task."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sqlite3
from collections import deque
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import aiosqlite

from proxy.records import COST_UNPRICED, RequestRecord, Usage, decimal_text, iso_utc

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.25
MAX_BATCH = 2000
MAX_BACKOFF = 5.0
BUSY_TIMEOUT = 10.0
INT64_MAX = 2**63 - 1
# The largest cost cost_pusd can hold; beyond it a cost is junk, stored as unpriced.
MAX_COST = Decimal(INT64_MAX).scaleb(-12)

# Every column of the requests table, in the order record_row() fills them.
COLUMNS = (
    "id",
    "started_at",
    "provider",
    "model",
    "project",
    "surface",
    "gateway_key_id",
    "status",
    "stream",
    "path",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "response_model",
    "cost_usd",
    "cost_pusd",
    "cost_source",
    "latency_ms",
    "ttfb_ms",
    "error",
)

# The columns summed per hour into usage_hourly; the rollup triggers and the queries
# both read this list.
SUMMED = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)

# Breakdown dimension name in usage_hourly -> expression over a requests row.
# "*" is the whole log, for totals; a missing gateway key is "" so it can be a key.
ROLLUP_DIMENSIONS = {
    "*": "''",
    "provider": "{r}.provider",
    "model": "{r}.model",
    "project": "{r}.project",
    "surface": "{r}.surface",
    "gateway_key_id": "coalesce({r}.gateway_key_id, '')",
}


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


def _rollup_statement(row: str, sign: str) -> str:
    """Add (sign "+") or take away (sign "-") one request row in usage_hourly."""
    sums = ", ".join(f"{sign}{row}.{c}" for c in SUMMED)
    values = ",\n    ".join(
        f"('{dim}', {expr.format(r=row)}, substr({row}.started_at, 1, 13), {sign}1, "
        f"{sums}, {sign}coalesce({row}.cost_pusd, 0), "
        f"{sign}({row}.cost_pusd IS NOT NULL))"
        for dim, expr in ROLLUP_DIMENSIONS.items()
    )
    updates = ", ".join(
        f"{c} = {c} + excluded.{c}"
        for c in ("requests", *SUMMED, "cost_pusd", "priced")
    )
    return (
        "INSERT INTO usage_hourly (dim, value, hour, requests, "
        f"{', '.join(SUMMED)}, cost_pusd, priced) VALUES\n    {values}\n"
        f"  ON CONFLICT (dim, value, hour) DO UPDATE SET {updates};"
    )


def _rollup_triggers() -> tuple[str, ...]:
    """Triggers that keep usage_hourly equal to the sums over requests."""
    add, take = _rollup_statement("NEW", "+"), _rollup_statement("OLD", "-")
    return (
        f"CREATE TRIGGER requests_rollup_insert AFTER INSERT ON requests BEGIN\n"
        f"  {add}\nEND",
        f"CREATE TRIGGER requests_rollup_update AFTER UPDATE ON requests BEGIN\n"
        f"  {take}\n  {add}\nEND",
        f"CREATE TRIGGER requests_rollup_delete AFTER DELETE ON requests BEGIN\n"
        f"  {take}\nEND",
    )


_SCHEMA_1 = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    # status has no declared type, so 200 stays an integer and "timeout" stays text.
    """CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        project TEXT NOT NULL,
        surface TEXT NOT NULL,
        gateway_key_id TEXT,
        status,
        stream INTEGER NOT NULL,
        path TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cache_write_1h_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        response_model TEXT,
        cost_usd TEXT,
        cost_pusd INTEGER,
        cost_source TEXT NOT NULL,
        latency_ms REAL,
        ttfb_ms REAL,
        error TEXT
    )""",
    "CREATE INDEX requests_started ON requests (started_at)",
    # Filtered queries (one project, one key) read these; unfiltered breakdowns read
    # usage_hourly instead, whose size does not grow with the number of requests.
    "CREATE INDEX requests_provider ON requests (provider, started_at)",
    "CREATE INDEX requests_model ON requests (model, started_at)",
    "CREATE INDEX requests_project ON requests (project, started_at)",
    "CREATE INDEX requests_surface ON requests (surface, started_at)",
    "CREATE INDEX requests_key ON requests (gateway_key_id, started_at)",
    # Per-hour sums for each breakdown dimension, kept by triggers in the same
    # transaction as the rows, so a 30-day breakdown reads ~720 rows per value.
    """CREATE TABLE usage_hourly (
        dim TEXT NOT NULL,
        value TEXT NOT NULL,
        hour TEXT NOT NULL,
        requests INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_pusd INTEGER NOT NULL,
        priced INTEGER NOT NULL,
        PRIMARY KEY (dim, hour, value)
    ) WITHOUT ROWID""",
    *_rollup_triggers(),
    """CREATE TABLE provider_keys (
        provider TEXT NOT NULL,
        label TEXT NOT NULL,
        last4 TEXT NOT NULL,
        created_at TEXT NOT NULL,
        stored_in TEXT NOT NULL,
        checked_at TEXT,
        check_status TEXT,
        check_latency_ms REAL,
        check_detail TEXT,
        PRIMARY KEY (provider, label)
    )""",
    """CREATE TABLE gateway_keys (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        project TEXT NOT NULL,
        last4 TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
)

# Applied in order; entry n brings a database from schema n to n + 1. Never edit an
# entry once released: add a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_SCHEMA_1,)
SCHEMA_VERSION = len(MIGRATIONS)


def prepare_database(path: Path) -> None:
    """Create or upgrade the database file; StoreError if it cannot be used."""
    connect(path).close()


def connect(path: Path) -> sqlite3.Connection:
    """A plain, autocommit connection to an up-to-date database."""
    _create_private(path)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise _open_error(path, exc) from exc
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
        _enable_wal(conn, path)
        _migrate(conn, path)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise _open_error(path, exc) from exc
        raise
    return conn


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only, before SQLite opens it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        _tighten(path)
    except OSError as exc:
        raise StoreError(f"cannot create the database {path}: {exc}") from exc


def _tighten(path: Path) -> None:
    """Make an existing database private; it holds who used which model and when."""
    try:
        if os.name == "posix" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
            log.info("made %s readable by its owner only", path)
    except OSError as exc:
        log.warning("could not restrict the permissions of %s: %s", path, exc)


def _open_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """Turn a SQLite failure at open into advice the user can act on."""
    if isinstance(exc, sqlite3.OperationalError):
        return StoreError(
            f"cannot open the database {path}: {exc}; check that the disk is not "
            "full and that no other program holds it locked"
        )
    return StoreError(
        f"the database {path} is damaged or is not a SQLite file ({exc}); kilo-tui "
        f"will not overwrite it: move it aside (mv {path} {path}.bad) and start again"
    )


def _enable_wal(conn: sqlite3.Connection, path: Path) -> None:
    """Readers never wait for the writer in WAL mode; the setting is persistent."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal":
        log.warning("%s: SQLite refused WAL mode (%s); readers may wait", path, mode)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to SCHEMA_VERSION, one transaction per migration."""
    if _schema_version(conn, path) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while this one waited for the lock.
        version = _schema_version(conn, path)
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    if version < SCHEMA_VERSION:
        log.info("%s: schema %d -> %d", path, version, SCHEMA_VERSION)


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version: 0 when empty; StoreError when not ours or newer."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    if "schema_version" not in tables:
        if tables:
            raise StoreError(
                f"{path} is a SQLite database but not a kilo-tui one; kilo-tui will "
                "not touch it: move it aside or set KILO_TUI_HOME to another directory"
            )
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    version = row[0] or 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer kilo-tui (schema {version}; this one "
            f"knows up to {SCHEMA_VERSION}); upgrade kilo-tui, or set KILO_TUI_HOME "
            "to another directory"
        )
    return version


def picodollars(cost: Decimal) -> int:
    """A cost in whole pico-dollars (10^-12 USD), exact for up to 12 decimals."""
    with localcontext() as ctx:
        ctx.prec = 60
        # Digits past the 12th decimal are rounded half-even: no request costs less
        # than a pico-dollar per token, so that is below anything a bill shows.
        return int(cost.scaleb(12).to_integral_value(rounding=ROUND_HALF_EVEN))


def record_row(record: RequestRecord) -> tuple:
    """The record as a requests row in COLUMNS order, every value SQLite-safe."""
    u = record.usage
    cost = record.cost_usd
    if cost is not None and not (cost.is_finite() and abs(cost) < MAX_COST):
        log.warning("request %s has a cost of %s; stored as unpriced", record.id, cost)
        cost = None
    return (
        _text(record.id),
        iso_utc(record.started_at),
        _text(record.provider),
        _text(record.model),
        _text(record.project),
        _text(record.surface),
        _text(record.gateway_key_id),
        _status(record.status),
        int(bool(record.stream)),
        _text(record.path),
        _count(u.input_tokens),
        _count(u.cache_read_tokens),
        _count(u.cache_write_tokens),
        _count(u.cache_write_1h_tokens),
        _count(u.output_tokens),
        _count(u.reasoning_tokens),
        _text(u.response_model),
        decimal_text(cost),
        None if cost is None else picodollars(cost),
        COST_UNPRICED if cost is None else _text(record.cost_source),
        _millis(record.latency_ms),
        _millis(record.ttfb_ms),
        _text(record.error),
    )


def _text(value: object) -> str | None:
    """Text SQLite can store, None kept as NULL."""
    if value is None:
        return None
    text = str(value)
    if text.isascii():
        return text
    # A client's JSON escapes can carry lone surrogates: no UTF-8 database takes
    # them, and one such row would fail its whole batch again and again.
    return text.encode("utf-8", "replace").decode("utf-8")


def _count(value: object) -> int:
    """A token count that fits SQLite's integers, whatever a provider sent."""
    try:
        return min(max(int(value), 0), INT64_MAX)
    except (TypeError, ValueError, OverflowError):
        return 0


def _status(value: object) -> int | str:
    """An HTTP status stays an int, a named outcome stays a string."""
    if isinstance(value, bool) or not isinstance(value, int):
        return _text(value)
    return min(max(value, -INT64_MAX), INT64_MAX)


def _millis(value: float | None) -> float | None:
    """A duration SQLite and JSON can both hold (no NaN, no infinity)."""
    if value is None:
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def record_from_row(row: sqlite3.Row | tuple) -> RequestRecord:
    """The record a requests row (in COLUMNS order) was made from."""
    v = dict(zip(COLUMNS, row, strict=True))
    usage = Usage(
        input_tokens=v["input_tokens"],
        cache_read_tokens=v["cache_read_tokens"],
        cache_write_tokens=v["cache_write_tokens"],
        cache_write_1h_tokens=v["cache_write_1h_tokens"],
        output_tokens=v["output_tokens"],
        reasoning_tokens=v["reasoning_tokens"],
        response_model=v["response_model"],
        complete=True,
    )
    return RequestRecord(
        id=v["id"],
        started_at=parse_iso(v["started_at"]),
        provider=v["provider"],
        model=v["model"],
        project=v["project"],
        surface=v["surface"],
        gateway_key_id=v["gateway_key_id"],
        status=v["status"],
        stream=bool(v["stream"]),
        path=v["path"],
        usage=usage,
        cost_usd=None if v["cost_usd"] is None else Decimal(v["cost_usd"]),
        cost_source=v["cost_source"],
        latency_ms=v["latency_ms"] or 0.0,
        ttfb_ms=v["ttfb_ms"],
        error=v["error"],
    )


def parse_iso(text: str) -> datetime:
    """A datetime from the started_at text iso_utc() wrote."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_UPSERT = (
    f"INSERT INTO requests ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
)


def insert_rows(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Write rows in one transaction; a row with a known id replaces the old one."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(_UPSERT, rows)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


class RequestStore:
    """The request log: submit() queues, one writer task commits in batches."""

    def __init__(
        self,
        path: Path,
        *,
        flush_interval: float = FLUSH_INTERVAL,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.path = Path(path)
        self.unsaved_path = self.path.with_name(self.path.name + ".unsaved.jsonl")
        self._interval = flush_interval
        self._max_batch = max_batch
        self._pending: deque[tuple] = deque()
        self._submitted = 0
        self._written = 0
        self._failures = 0
        self._flushers: list[asyncio.Future] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._db: aiosqlite.Connection | None = None
        self.reader: aiosqlite.Connection | None = None
        # The last write failure, secret-free, or None while writes succeed.
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Records submitted and not yet committed."""
        return len(self._pending)

    async def open(self) -> None:
        """Create or upgrade the database and start the writer; StoreError if bad."""
        await asyncio.to_thread(self._prepare)
        self._db = await _connect(self.path)
        try:
            self.reader = await _connect(self.path, query_only=True)
        except BaseException:
            await self._db.close()
            raise
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="kilo-tui store writer")

    def _prepare(self) -> None:
        """Migrate, then add records an earlier run could not write."""
        conn = connect(self.path)
        try:
            recover_unsaved(conn, self.unsaved_path)
        finally:
            conn.close()

    def submit(self, record: RequestRecord) -> None:
        """Queue a finished record for the next batch; never blocks, never awaits.

        Call it on the event loop that opened the store (the gateway's).
        """
        if self._task is not None and self._task.done():
            raise StoreError(f"the request log {self.path} is closed")
        self._pending.append(record_row(record))
        self._submitted += 1
        if self._wake is not None and len(self._pending) >= self._max_batch:
            self._wake.set()

    async def flush(self) -> None:
        """Commit everything submitted so far; StoreError if the write fails."""
        if self._task is None or self._task.done():
            raise StoreError(f"the request log {self.path} is not open")
        target = self._submitted
        while self._written < target:
            waiter = asyncio.get_running_loop().create_future()
            self._flushers.append(waiter)
            self._wake.set()
            await waiter
            if self._written < target and self.last_error:
                raise StoreError(
                    f"could not write {self.pending} request records to {self.path} "
                    f"({self.last_error}); they are kept and retried"
                )

    async def close(self) -> None:
        """Write everything queued, stop the writer and close the database."""
        if self._task is None:
            return
        try:
            await self._final_flush()
        finally:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            for conn in (self._db, self.reader):
                await conn.close()
            self._db = self.reader = None

    async def _final_flush(self) -> None:
        """Try a few times, then keep what could not be written in a side file."""
        for attempt in range(3):
            try:
                return await self.flush()
            except StoreError:
                await asyncio.sleep(0.2 * (attempt + 1))
        save_unsaved(self.unsaved_path, list(self._pending))
        log.error(
            "saved %d unwritten request records to %s; they are added the next "
            "time the request log opens",
            len(self._pending),
            self.unsaved_path,
        )

    async def _run(self) -> None:
        """The single writer: wake on a timer or a request, write what is queued."""
        delay = self._interval
        while True:
            await self._sleep(delay)
            if await self._drain():
                delay = self._interval
            else:
                delay = min(delay * 2, MAX_BACKOFF)

    async def _sleep(self, delay: float) -> None:
        """Wait for the interval to pass or for someone to ask for a write."""
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def _drain(self) -> bool:
        """Write every queued record, a batch per transaction; False on failure."""
        try:
            while self._pending:
                batch = list(itertools.islice(self._pending, self._max_batch))
                await self._insert(batch)
                for _ in batch:
                    self._pending.popleft()
                self._written += len(batch)
        except Exception as exc:
            self._note_failure(exc)
            return False
        else:
            self._note_success()
            return True
        finally:
            self._wake_flushers()

    async def _insert(self, batch: list[tuple]) -> None:
        """One transaction for the whole batch; rolled back if any row fails."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.executemany(_UPSERT, batch)
            await self._db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await self._db.execute("ROLLBACK")
            raise

    def _note_failure(self, exc: Exception) -> None:
        """Remember and log a failed write once per streak; records stay queued."""
        self.last_error = f"{type(exc).__name__}: {exc}"
        self._failures += 1
        if self._failures == 1:
            log.error(
                "could not write %d request records to %s (%s); keeping them and "
                "retrying",
                len(self._pending),
                self.path,
                self.last_error,
            )

    def _note_success(self) -> None:
        """Clear the failure streak, saying so if there was one."""
        if self._failures:
            log.warning(
                "request log writable again after %d failed attempts", self._failures
            )
        self._failures = 0
        self.last_error = None

    def _wake_flushers(self) -> None:
        """Let every flush() waiting on this attempt look at the outcome."""
        waiters, self._flushers = self._flushers, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


async def _connect(path: Path, *, query_only: bool = False) -> aiosqlite.Connection:
    """An aiosqlite connection in autocommit mode; transactions are explicit."""
    conn = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        await conn.execute("PRAGMA synchronous=NORMAL")
        if query_only:
            await conn.execute("PRAGMA query_only=ON")
    except BaseException:
        # Its worker thread would otherwise keep the process alive at exit.
        await conn.close()
        raise
    return conn


async def open_reader(path: Path) -> aiosqlite.Connection:
    """A read-only connection to an up-to-date database, for reports and exports."""
    await asyncio.to_thread(prepare_database, path)
    return await _connect(path, query_only=True)


def save_unsaved(path: Path, rows: list[tuple]) -> None:
    """Append rows the database refused to a private JSON-lines side file."""
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
        out.flush()
        os.fsync(out.fileno())


def recover_unsaved(conn: sqlite3.Connection, path: Path) -> int:
    """Add the rows of an earlier run's side file, then remove it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0
    rows, bad = [], 0
    for line in lines:
        try:
            row = tuple(json.loads(line))
        except ValueError:
            bad += 1
            continue
        if len(row) == len(COLUMNS):
            rows.append(row)
        else:
            bad += 1
    insert_rows(conn, rows)
    if bad:
        path.rename(path.with_name(path.name + ".bad"))
        log.error("%s: %d unreadable lines kept in %s.bad", path, bad, path.name)
    else:
        path.unlink()
    log.warning("added %d request records saved by an earlier run", len(rows))
    return len(rows)
