"""Demo mode: imitated tools send real traffic through the gateway to mocks."""

from __future__ import annotations

import socket
import sqlite3

import keyring
import pytest
from keyring.backends import null

from kilo_tui.app import KiloApp
from kilo_tui.demo import DemoHost, headers_for, request_for
from kilo_tui.demo_tools import TOOLS, plan
from kilo_tui.widgets.header import GatewayState
from kilo_tui.widgets.live_table import LiveTable
from proxy.config import settings_from_dict
from proxy.keystore import KeyStore
from tests.console.conftest import SIZE


def test_every_tool_sends_its_identity_and_project():
    import random

    rng = random.Random(3)
    for tool in TOOLS:
        p = plan(tool, rng)
        headers = headers_for(p)
        method, path, body = request_for(p)
        assert headers["X-Kilo-Project"] in tool.projects
        assert method == "POST" and path.startswith(("/v1/", "/google/"))
        assert body


async def test_demo_shows_priced_rows_within_seconds(console_home):
    host = DemoHost(settings_from_dict({"server": {"port": 0}}), console_home, rate=8)
    app = KiloApp(host)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(LiveTable)
        for _ in range(200):
            records = [r for r in app.live.window.records() if not r.in_flight]
            if sum(r.cost_usd is not None and r.cost_usd > 0 for r in records) >= 5:
                break
            await pilot.pause(0.05)
        else:
            raise AssertionError("no priced demo rows within ten seconds")
        assert table.row_count >= 5
        assert {r.project for r in records} <= {
            t for tool in TOOLS for t in tool.projects
        }
        assert "DEMO" in str(app.screen.query_one(".demo-badge").render())
        await pilot.press("ctrl+q")
    demo_rows = _count(console_home.database(demo=True))
    assert demo_rows >= 5
    assert not console_home.database().exists() or _count(console_home.database()) == 0


def _count(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM requests").fetchone()[0]


@pytest.mark.parametrize("real_keyring", ["dict", "none"])
async def test_a_demo_key_never_reaches_the_real_key_store(
    static_app, console_home, real_keyring
):
    # "none": no usable OS keyring, where real keys would go to the secrets file.
    real = keyring.get_keyring() if real_keyring == "dict" else null.Keyring()
    keyring.set_keyring(real)
    app = static_app(demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        screen = app.screen
        await _until(pilot, lambda: screen.snapshot is not None)
        assert "not saved" in str(screen.query_one("#keystore-note").render())
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"sk-demo-abcdefgh1234", "enter")
        await _until(pilot, lambda: _openai(screen).last4 == "1234")
        assert _openai(screen).stored == "memory"
        assert app.host.keys.secret("openai") == "sk-demo-abcdefgh1234"
    assert not console_home.secrets_file.exists()
    assert getattr(real, "secrets", {}) == {}
    assert KeyStore(console_home).list() == []


async def test_demo_never_listens_on_the_configured_port(console_home):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        configured = probe.getsockname()[1]
    settings = settings_from_dict({"server": {"port": configured}})
    host = DemoHost(settings, console_home, rate=0.01)
    app = KiloApp(host)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.gateway_state == "running")
        port = int(host.base_url.rsplit(":", 1)[1])
        assert port not in (configured, 0)
        header = app.screen.query_one(GatewayState).render()
        assert f":{port}" in str(header)
        assert host.gateway.keys is host.keys
        await pilot.press("ctrl+q")


async def _until(pilot, condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the console never got there")


def _openai(screen):
    return next(r for r in screen.snapshot.rows if r.provider == "openai")
