"""SVG snapshots of every screen at a fixed size, clock and seeded log."""

from __future__ import annotations

import pytest

from kilo_tui.seed import seed_database
from proxy.events import Phase
from tests.console.conftest import NOW, SIZE
from tests.console.records import record


@pytest.fixture
def seeded(static_app, console_home):
    """An app over a seeded week of requests."""
    for demo in (False, True):
        seed_database(console_home.database(demo), NOW)
    return static_app


async def _settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_live(snap_compare, seeded):
    async def run_before(pilot):
        await _settle(pilot)
        running = record(9001, started_at=NOW, in_flight=True, stream=True, status=0)
        pilot.app.host.feed(Phase.STARTED, running)
        pilot.app.drain()
        await pilot.pause()

    assert snap_compare(seeded(demo=True), terminal_size=SIZE, run_before=run_before)


def test_live_filtered(snap_compare, seeded):
    async def run_before(pilot):
        await _settle(pilot)
        await pilot.press("slash", *"provider:anthropic cost>0.05", "enter")
        await pilot.pause()

    assert snap_compare(seeded(), terminal_size=SIZE, run_before=run_before)


def test_detail(snap_compare, seeded):
    async def run_before(pilot):
        await _settle(pilot)
        await pilot.press("slash", *"model:sonnet", "enter", "enter")
        await pilot.pause()
        await pilot.press("right")
        await pilot.pause()

    assert snap_compare(seeded(), terminal_size=SIZE, run_before=run_before)


def test_costs(snap_compare, seeded):
    async def run_before(pilot):
        await pilot.press("2")
        await _settle(pilot)

    assert snap_compare(seeded(), terminal_size=SIZE, run_before=run_before)


def test_connect(snap_compare, seeded):
    async def run_before(pilot):
        await pilot.press("4")
        await _settle(pilot)

    assert snap_compare(seeded(), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, seeded):
    async def run_before(pilot):
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(seeded(), terminal_size=SIZE, run_before=run_before)


def test_keys(snap_compare, seeded, console_home, monkeypatch):
    from kilo_tui import keys_data
    from kilo_tui.seed import seed_keys

    ids = iter(["0a1b2c3d", "4e5f6a7b"])
    monkeypatch.setattr("proxy.gateway_keys.secrets.token_hex", lambda n: next(ids))
    seed_keys(console_home)
    # Creation times are stored as they happen; pin them for the picture.
    monkeypatch.setattr(keys_data, "_short_time", lambda value: value and "01-15 12:00")

    async def run_before(pilot):
        await pilot.press("3")
        await _settle(pilot)

    assert snap_compare(seeded(), terminal_size=SIZE, run_before=run_before)


def test_live_at_80x24(snap_compare, seeded):
    async def run_before(pilot):
        await _settle(pilot)

    assert snap_compare(seeded(), terminal_size=(80, 24), run_before=run_before)


def test_costs_at_80x24(snap_compare, seeded):
    async def run_before(pilot):
        await pilot.press("2")
        await _settle(pilot)

    assert snap_compare(seeded(), terminal_size=(80, 24), run_before=run_before)


def test_first_run(snap_compare, static_app):
    async def run_before(pilot):
        await _settle(pilot)

    assert snap_compare(static_app(), terminal_size=SIZE, run_before=run_before)
