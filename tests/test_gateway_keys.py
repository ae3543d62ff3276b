"""Gateway keys: shown once, stored as hashes, looked up fast, revoked promptly."""

from __future__ import annotations

import hashlib
import re
import sqlite3

import pytest

from proxy import gateway_keys
from proxy.gateway_keys import (
    PREFIX,
    GatewayKeyError,
    GatewayKeyIndex,
    GatewayKeyStore,
    is_gateway_key,
)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "kilo.sqlite3"


@pytest.fixture
def keys(db):
    return GatewayKeyStore(db)


def test_create_returns_an_id_and_a_token_stored_only_as_a_hash(keys, db):
    key_id, token = keys.create("  website  ")
    assert re.fullmatch(r"gk_[0-9a-f]{8}", key_id)
    assert token.startswith(PREFIX) and len(token) == len(PREFIX) + 43
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT id, hash, project FROM gateway_keys").fetchone()
    assert row == (key_id, hashlib.sha256(token.encode()).hexdigest(), "website")
    raw = b"".join(p.read_bytes() for p in db.parent.glob("kilo.sqlite3*"))
    assert token.encode() not in raw
    assert token[len(PREFIX) : -4].encode() not in raw


def test_tokens_and_ids_are_unique(keys):
    made = [keys.create("p") for _ in range(20)]
    assert len({i for i, _ in made}) == len({t for _, t in made}) == 20


def test_list_is_masked(keys):
    key_id, token = keys.create("site")
    (key,) = keys.list()
    assert (key.id, key.project, key.active) == (key_id, "site", True)
    assert key.masked == f"{PREFIX}…{token[-4:]}"


@pytest.mark.parametrize("project", ["", "   ", "x" * 65, "tab\there"])
def test_project_names_are_checked(keys, project):
    with pytest.raises(GatewayKeyError, match="project name"):
        keys.create(project)


async def test_index_lookup(keys, db):
    key_id, token = keys.create("site")
    index = GatewayKeyIndex(db)
    assert await index.refresh()
    assert len(index) == 1
    found = index.lookup(token)
    assert (found.id, found.project) == (key_id, "site")
    assert index.lookup(token + "x") is None
    assert index.lookup(token[:-1]) is None
    assert index.lookup("sk-proj-notours") is None
    assert index.lookup("") is None


async def test_lookup_confirms_in_constant_time(keys, db, monkeypatch):
    _, token = keys.create("site")
    index = GatewayKeyIndex(db)
    await index.refresh()
    calls = []
    real = gateway_keys.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(gateway_keys.hmac, "compare_digest", spy)
    assert index.lookup(token) is not None
    assert calls == [(gateway_keys.token_hash(token),) * 2]


async def test_revoke_takes_effect_on_refresh(keys, db):
    key_id, token = keys.create("site")
    index = GatewayKeyIndex(db)
    await index.refresh()
    revoked = keys.revoke(key_id)
    assert not revoked.active and revoked.revoked_at
    assert index.lookup(token) is not None  # until the next refresh
    await index.refresh()
    assert index.lookup(token) is None
    assert keys.list()[0].revoked_at == revoked.revoked_at


def test_revoking_twice_keeps_the_first_time(keys):
    key_id, _ = keys.create("site")
    first = keys.revoke(key_id)
    assert keys.revoke(key_id).revoked_at == first.revoked_at


@pytest.mark.parametrize("bad", ["gk_00000000", "gk_zz", "drop table"])
def test_revoking_an_unknown_key_is_an_error(keys, bad):
    keys.create("site")
    with pytest.raises(GatewayKeyError):
        keys.revoke(bad)


async def test_a_new_key_is_found_on_a_miss(keys, db):
    index = GatewayKeyIndex(db)
    await index.refresh()
    _, token = keys.create("late")
    assert index.lookup(token) is None
    found = await index.lookup_or_refresh(token, min_age=0)
    assert found is not None and found.project == "late"


async def test_misses_reload_at_most_once_per_min_age(keys, db):
    index = GatewayKeyIndex(db)
    await index.refresh()
    _, token = keys.create("late")
    assert await index.lookup_or_refresh(token, min_age=60) is None
    assert not index.refresh_sync(min_age=60)
    assert index.refresh_sync(min_age=0)
    assert index.lookup(token) is not None


def test_is_gateway_key_by_prefix_alone():
    assert is_gateway_key("sk-kilo-anything")
    assert not is_gateway_key("sk-proj-abc")
    assert not is_gateway_key("Bearer sk-kilo-abc")
