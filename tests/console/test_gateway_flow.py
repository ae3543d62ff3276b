"""The console around a real gateway: traffic shows up live, keys are managed."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from kilo_tui import keys_data
from kilo_tui.app import KiloApp
from kilo_tui.host import GatewayHost
from kilo_tui.screens.detail import DetailScreen
from kilo_tui.screens.keys import KeysScreen
from kilo_tui.widgets.live_table import LiveTable
from kilo_tui.widgets.problem import ProblemBanner
from proxy.config import settings_from_dict
from proxy.mock import MockProvider
from tests.console.conftest import SIZE


@pytest.fixture
async def mock():
    """A mock provider on loopback."""
    provider = MockProvider()
    await provider.start()
    yield provider
    await provider.stop()


def _host(paths, mock: MockProvider, port: int = 0, **tables) -> GatewayHost:
    config = {
        "server": {"port": port},
        "providers": {"openai": {"base_url": mock.url + "/v1"}},
        **tables,
    }
    return GatewayHost(settings_from_dict(config), paths)


async def _until(pilot, condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the console never got there")


async def _running(app: KiloApp, pilot) -> None:
    await _until(pilot, lambda: app.gateway_state in ("running", "failed"))
    assert app.gateway_state == "running", app.host.problem


async def test_a_request_through_the_gateway_appears_live_and_in_detail(
    console_home, mock
):
    app = KiloApp(_host(console_home, mock))
    async with app.run_test(size=SIZE) as pilot:
        await _running(app, pilot)
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.post(
                app.host.base_url + "/v1/chat/completions",
                headers={
                    "Authorization": "Bearer sk-test-0000000000000000",
                    "X-Kilo-Project": "web",
                    "User-Agent": "aider/0.86",
                },
                json={
                    "model": "openai/gpt-4.1-mini",
                    "messages": [{"role": "user", "content": "hello there"}],
                },
            )
        assert answer.status_code == 200
        table = app.screen.query_one(LiveTable)
        # The row shows up when the request starts; wait for it to finish.
        await _until(
            pilot, lambda: table.row_count == 1 and not table.cursor_record.in_flight
        )
        row = table.cursor_record
        assert (row.provider, row.model, row.project) == (
            "openai",
            "gpt-4.1-mini",
            "web",
        )
        assert row.surface == "aider" and row.status == 200
        assert row.usage.output_tokens > 0 and row.cost_usd is not None

        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.record.id == row.id
        await pilot.press("escape")


async def test_add_test_and_remove_a_key_against_the_mock(console_home, mock):
    app = KiloApp(_host(console_home, mock))
    async with app.run_test(size=SIZE) as pilot:
        await _running(app, pilot)
        await pilot.press("3")
        screen = app.screen
        assert isinstance(screen, KeysScreen)
        await _until(pilot, lambda: screen.snapshot is not None)

        # The first row is OpenAI, so the dialog starts on it, at the secret.
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"sk-test-abcdefgh1234", "enter")
        await _until(pilot, lambda: _row(screen, "openai").last4 == "1234")

        await pilot.press("t")
        await _until(pilot, lambda: _row(screen, "openai").check_status == "valid")
        assert _row(screen, "openai").models

        await pilot.press("d")
        await pilot.pause()
        await pilot.click("#yes")
        await _until(pilot, lambda: not _row(screen, "openai").last4)


async def test_a_hanging_key_check_does_not_freeze_the_screen(
    console_home, mock, monkeypatch
):
    silent = await asyncio.start_server(_never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    monkeypatch.setattr(keys_data, "CHECK_TIMEOUT", 1.0)
    host = _host(console_home, mock)
    host.settings.providers["openai"] = keys_data_provider(host, port)
    app = KiloApp(host)
    async with app.run_test(size=SIZE) as pilot:
        await _running(app, pilot)
        await pilot.press("3")
        screen = app.screen
        await _until(pilot, lambda: screen.snapshot is not None)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"sk-test-hanging-0000", "enter")
        await _until(pilot, lambda: _row(screen, "openai").last4 == "0000")
        await pilot.press("t")
        # While the check hangs, the console still moves between screens.
        await pilot.press("1")
        assert app.screen.query_one(LiveTable)
        await pilot.press("3")
        await _until(
            pilot, lambda: _row(screen, "openai").check_status == "unreachable"
        )
    silent.close()


async def test_a_busy_port_is_reported_with_the_port_and_what_to_do(console_home, mock):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        app = KiloApp(_host(console_home, mock, port=port))
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.gateway_state == "failed")
            await pilot.pause()
            banner = app.screen.query_one(ProblemBanner)
            assert banner.display
            text = str(banner.render())
            assert str(port) in text and "config.toml" in text


async def test_a_corrupt_database_is_reported_and_left_alone(console_home, mock):
    database = console_home.database()
    database.write_bytes(b"this is not a database" * 100)
    before = database.read_bytes()
    app = KiloApp(_host(console_home, mock))
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.gateway_state == "failed")
        assert app.host.problem.kind == "database"
        assert app.screen.query_one(ProblemBanner).display
    assert database.read_bytes() == before


def _row(screen: KeysScreen, provider: str) -> keys_data.KeyRow:
    return next(r for r in screen.snapshot.rows if r.provider == provider)


def keys_data_provider(host, port: int):
    from proxy.registry import with_base_url

    return with_base_url(host.settings.providers["openai"], f"http://127.0.0.1:{port}")


async def _never_answer(reader, writer) -> None:
    await reader.read()
