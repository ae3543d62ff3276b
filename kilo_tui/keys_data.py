"""The Keys screen's view of the key store, gateway keys and key checks.

Everything here blocks (keyring, SQLite, network) and runs in workers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from proxy import keycheck
from proxy.gateway_keys import GatewayKeyStore
from proxy.keystore import STORED_FILE, KeyStore

# A check that has not answered by then is reported as unreachable, whatever the
# provider is doing; the screen never waits on it.
CHECK_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One provider key, or a provider without one."""

    provider: str
    provider_name: str
    label: str = ""
    last4: str = ""
    stored: str | None = None  # "keyring", "file", or "memory" in demo mode
    check_status: str | None = None
    latency_ms: float | None = None
    models: int | None = None
    checked_at: str | None = None

    @property
    def row_key(self) -> str:
        return f"{self.provider}/{self.label}"


@dataclass(frozen=True, slots=True)
class GatewayKeyRow:
    """A gateway key as listed: never its secret."""

    id: str
    project: str
    created: str
    revoked: str | None


@dataclass(frozen=True, slots=True)
class KeysSnapshot:
    """What the Keys screen shows."""

    rows: list[KeyRow]
    gateway_keys: list[GatewayKeyRow]
    where: str
    fallback: bool
    # Demo keys live in memory for the session and are never saved.
    demo: bool = False


@dataclass(frozen=True, slots=True)
class Check:
    """A key check's outcome as the screen shows it."""

    status: str
    latency_ms: float | None = None
    models: int | None = None
    detail: str = ""


def keystore(host) -> KeyStore:
    """The host's key store, which its gateway shares, so it sees changes at once.

    In demo mode that store keeps secrets in memory only (see key_stores.key_store).
    """
    return host.keys


def load(host) -> KeysSnapshot:
    """Every provider with its keys, every gateway key, and where keys are kept."""
    store = keystore(host)
    metas = store.list()
    rows = []
    for provider in host.settings.providers.values():
        mine = [m for m in metas if m.provider == provider.id]
        rows += [_row(provider, m, host.demo) for m in mine] or [
            KeyRow(provider.id, provider.name)
        ]
    return KeysSnapshot(
        rows,
        [_gateway_row(k) for k in GatewayKeyStore(host.database).list()],
        store.backend_description,
        store.is_fallback and not host.demo,
        host.demo,
    )


def _row(provider, meta, demo: bool) -> KeyRow:
    if demo:
        stored = "memory"
    else:
        stored = "file" if meta.stored_in == STORED_FILE else "keyring"
    return KeyRow(
        provider.id,
        provider.name,
        meta.label,
        meta.last4,
        stored,
        meta.check_status,
        meta.check_latency_ms,
        _models(meta.check_detail),
        _short_time(meta.checked_at),
    )


def _models(detail: str | None) -> int | None:
    # The store keeps the check's detail line; the model count is written into it.
    if detail and detail.endswith(" models"):
        head = detail.rsplit(" ", 2)[-2]
        return int(head) if head.isdigit() else None
    return None


def _gateway_row(key) -> GatewayKeyRow:
    return GatewayKeyRow(
        key.id, key.project, _short_time(key.created_at), _short_time(key.revoked_at)
    )


def _short_time(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def add(host, provider: str, label: str, secret: str) -> None:
    """Store a provider key."""
    keystore(host).add(provider, secret, label=label)


def remove(host, provider: str, label: str) -> None:
    """Remove a provider key."""
    keystore(host).remove(provider, label)


def import_env(host, environ: dict[str, str]) -> list[str]:
    """Store keys from provider environment variables; the providers found."""
    found = keystore(host).import_from_env(environ, host.settings.providers)
    return [f"{item.provider} ({item.action})" for item in found]


async def test(host, provider_id: str, label: str) -> Check:
    """Check a key against its provider, giving up after CHECK_TIMEOUT."""
    store = keystore(host)
    secret = await asyncio.to_thread(store.secret, provider_id, label)
    if secret is None:
        return Check("invalid", detail="the key could not be read from the key store")
    provider = host.settings.providers[provider_id]
    try:
        result = await asyncio.wait_for(
            keycheck.check_key_async(provider, secret, timeout=CHECK_TIMEOUT),
            CHECK_TIMEOUT + 2,
        )
    except TimeoutError:
        result = None
    check = (
        Check(result.status, result.latency_ms, result.models, result.detail or "")
        if result is not None
        else Check("unreachable", CHECK_TIMEOUT * 1000, detail="no answer in time")
    )
    await asyncio.to_thread(
        store.record_check,
        provider_id,
        label,
        check.status,
        check.latency_ms,
        _detail(check),
    )
    return check


def _detail(check: Check) -> str:
    if check.models is None:
        return check.detail
    return f"{check.detail}, {check.models} models".lstrip(", ")


def failed_check(reason: str) -> Check:
    """A check that could not run at all."""
    return Check("unreachable", detail=reason)


def create_gateway_key(host, project: str) -> tuple[str, str]:
    """A new gateway key for a project: (id, plaintext shown once)."""
    return GatewayKeyStore(host.database).create(project)


def revoke_gateway_key(host, key_id: str) -> None:
    """Revoke a gateway key."""
    GatewayKeyStore(host.database).revoke(key_id)
