"""Gateway keys: tokens clients present to the gateway, stored only as hashes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from proxy.records import iso_utc, utc_now
from proxy.store import connect

log = logging.getLogger(__name__)

PREFIX = "sk-kilo-"
_ID = re.compile(r"gk_[0-9a-f]{8}")
_COLUMNS = "id, project, last4, created_at, revoked_at"
# A miss reloads at most this often, so random tokens cannot hammer the database.
MISS_REFRESH_AGE = 0.25


class GatewayKeyError(Exception):
    """A gateway key operation cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class GatewayKey:
    """A gateway key as stored: who it belongs to, never the token itself."""

    id: str
    project: str
    last4: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the gateway accepts it."""
        return self.revoked_at is None

    @property
    def masked(self) -> str:
        """The token as it may be shown."""
        return f"{PREFIX}…{self.last4}"


def is_gateway_key(token: str) -> bool:
    """Whether a credential is one of ours, told apart by its prefix alone."""
    return token.startswith(PREFIX)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest a token is stored and looked up as."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_project(project: str) -> str:
    """A project name, trimmed; GatewayKeyError if empty, long or unprintable."""
    project = project.strip()
    if not project or len(project) > 64 or not project.isprintable():
        raise GatewayKeyError("the project name must be 1 to 64 printable characters")
    return project


class GatewayKeyStore:
    """Creates, lists and revokes gateway keys in the database."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self, project: str) -> tuple[str, str]:
        """A new key for a project: (id, token). The token is never stored."""
        project = check_project(project)
        token = PREFIX + secrets.token_urlsafe(32)
        with contextlib.closing(connect(self.path)) as db:
            key_id = self._insert(db, project, token)
        log.info("created gateway key %s for project %s", key_id, project)
        return key_id, token

    def _insert(self, db: sqlite3.Connection, project: str, token: str) -> str:
        """Insert under a fresh id, drawing again on the rare id collision."""
        for _ in range(10):
            key_id = "gk_" + secrets.token_hex(4)
            try:
                db.execute(
                    f"INSERT INTO gateway_keys ({_COLUMNS}, hash) "
                    "VALUES (?, ?, ?, ?, NULL, ?)",
                    (
                        key_id,
                        project,
                        token[-4:],
                        iso_utc(utc_now()),
                        token_hash(token),
                    ),
                )
                return key_id
            except sqlite3.IntegrityError:
                continue
        raise GatewayKeyError("could not find a free gateway key id; try again")

    def list(self) -> list[GatewayKey]:
        """Every key, revoked ones included, oldest first."""
        with contextlib.closing(connect(self.path)) as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM gateway_keys ORDER BY created_at, id"
            ).fetchall()
        return [GatewayKey(*row) for row in rows]

    def revoke(self, key_id: str) -> GatewayKey:
        """Stop a key from working; revoking twice keeps the first time."""
        if not _ID.fullmatch(key_id):
            raise GatewayKeyError(f"{key_id!r} is not a gateway key id (gk_ + 8 hex)")
        with contextlib.closing(connect(self.path)) as db:
            db.execute(
                "UPDATE gateway_keys SET revoked_at = ? "
                "WHERE id = ? AND revoked_at IS NULL",
                (iso_utc(utc_now()), key_id),
            )
            row = db.execute(
                f"SELECT {_COLUMNS} FROM gateway_keys WHERE id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise GatewayKeyError(
                f"there is no gateway key {key_id}; see: kilo-tui gateway-key list"
            )
        log.info("revoked gateway key %s", key_id)
        return GatewayKey(*row)


class GatewayKeyIndex:
    """The active keys in memory, for a fast lookup on every request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # token hash -> (the same hash as stored, the key)
        self._by_hash: dict[str, tuple[str, GatewayKey]] = {}
        self._loaded_at: float | None = None

    def __len__(self) -> int:
        return len(self._by_hash)

    def lookup(self, token: str) -> GatewayKey | None:
        """The active key a token belongs to, or None; never touches the disk."""
        if not is_gateway_key(token):
            return None
        digest = token_hash(token)
        # A dict probe by SHA-256 digest can only leak bits of the digest, which do
        # not help forge a token; the match itself is confirmed in constant time.
        entry = self._by_hash.get(digest)
        if entry is not None and hmac.compare_digest(entry[0], digest):
            return entry[1]
        return None

    async def lookup_or_refresh(
        self, token: str, min_age: float = MISS_REFRESH_AGE
    ) -> GatewayKey | None:
        """lookup(), reloading once on a miss so a key made a moment ago works."""
        key = self.lookup(token)
        if key is None and is_gateway_key(token) and await self.refresh(min_age):
            key = self.lookup(token)
        return key

    async def refresh(self, min_age: float = 0.0) -> bool:
        """refresh_sync() on a worker thread, for the gateway's event loop."""
        return await asyncio.to_thread(self.refresh_sync, min_age)

    def refresh_sync(self, min_age: float = 0.0) -> bool:
        """Reload the active keys unless the last load is younger than min_age."""
        now = time.monotonic()
        if self._loaded_at is not None and now - self._loaded_at < min_age:
            return False
        with contextlib.closing(connect(self.path)) as db:
            rows = db.execute(
                f"SELECT {_COLUMNS}, hash FROM gateway_keys WHERE revoked_at IS NULL"
            ).fetchall()
        # Swap the whole map so a lookup on another thread sees the old or new set.
        self._by_hash = {row[5]: (row[5], GatewayKey(*row[:5])) for row in rows}
        self._loaded_at = now
        return True
