"""Fixtures for the gateway tests: an isolated home, key store and mock provider."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pytest

from proxy.config import Paths, resolve_paths, settings_from_dict
from proxy.gateway import Gateway
from proxy.keystore import MemoryKeyring
from proxy.mock import MockProvider

CASES_DIR = Path(__file__).parent / "cases"


def load_cases() -> list[dict]:
    """Every request case, in a stable order."""
    return [json.loads(p.read_text()) for p in sorted(CASES_DIR.glob("*.json"))]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch) -> Paths:
    """A fresh KILO_TUI_HOME and an in-memory keyring for every test."""
    home = tmp_path / "home"
    monkeypatch.setenv("KILO_TUI_HOME", str(home))
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "KILO_TUI_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    paths = resolve_paths()
    paths.ensure()
    yield paths
    keyring.set_keyring(previous)


@pytest.fixture
async def mock_provider():
    """A mock provider listening on loopback."""
    mock = MockProvider()
    await mock.start()
    yield mock
    await mock.stop()


@pytest.fixture
async def start_gateway(isolated_home):
    """Start gateways on free loopback ports from a config dict; all stop at the end."""
    started: list[Gateway] = []

    async def start(config: dict | None = None, keys: dict[str, str] | None = None):
        settings = settings_from_dict(config or {})
        gateway = Gateway(settings, isolated_home)
        for provider, secret in (keys or {}).items():
            gateway.keys.add(provider, secret)
        await gateway.start("127.0.0.1", 0)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()


def point_at(mock: MockProvider, provider: str, base_path: str = "") -> dict:
    """A [providers.X] table sending X's traffic to the mock."""
    return {"providers": {provider: {"base_url": mock.url + base_path}}}


async def stored_records(gateway: Gateway) -> list[dict]:
    """Every record the gateway logged, as export shows them, oldest first."""
    from proxy import queries

    await gateway.store.flush()
    return await queries.export_rows(gateway.store.path, since=None)
