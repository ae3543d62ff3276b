"""Console test fixtures: a private home, a private keyring, a fixed clock and TZ."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import keyring
import pytest
from keyring.backend import KeyringBackend

from kilo_tui.app import KiloApp
from kilo_tui.host import StaticHost
from proxy.config import Settings, resolve_paths

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
SIZE = (160, 48)


class DictKeyring(KeyringBackend):
    """Secrets in a dict for the length of one test."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.secrets.get((service, username))

    def set_password(self, service, username, password):
        self.secrets[(service, username)] = password

    def delete_password(self, service, username):
        self.secrets.pop((service, username), None)


@pytest.fixture(autouse=True)
def console_home(tmp_path, monkeypatch):
    """KILO_TUI_HOME in tmp_path, an in-memory keyring, and UTC wall-clock times."""
    monkeypatch.setenv("KILO_TUI_HOME", str(tmp_path / "kilo-home"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    previous = keyring.get_keyring()
    keyring.set_keyring(DictKeyring())
    paths = resolve_paths()
    paths.ensure()
    yield paths
    keyring.set_keyring(previous)
    monkeypatch.delenv("TZ")
    os.environ.pop("TZ", None)
    time.tzset()


@pytest.fixture
def static_app(console_home):
    """An app over the log in the test home, with no gateway and a fixed clock."""

    def make(settings: Settings | None = None, demo: bool = False) -> KiloApp:
        host = StaticHost(settings or Settings(), console_home, demo=demo)
        return KiloApp(host, clock=lambda: NOW, monotonic=lambda: 1000.0)

    return make
