"""The Live screen: events arrive in batches, rows update in place, filters, detail."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from kilo_tui.screens.detail import DetailScreen
from kilo_tui.widgets.live_table import LiveTable
from proxy.config import Settings
from proxy.events import Phase
from tests.console.conftest import SIZE
from tests.console.records import record


async def test_a_stream_is_one_row_that_updates_in_place(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        running = record(1, in_flight=True, stream=True, status=0)
        app.host.feed(Phase.STARTED, running)
        app.drain()
        await pilot.pause()
        table = app.screen.query_one(LiveTable)
        assert table.row_ids() == ["req0001"]
        assert table.cursor_record.in_flight

        app.host.feed(Phase.FINISHED, replace(running, in_flight=False, status=200))
        app.drain()
        await pilot.pause()
        assert table.row_ids() == ["req0001"]
        assert table.cursor_record.status == 200


async def test_newest_first_and_the_window_is_bounded(static_app):
    app = static_app(Settings(live_window=5))
    async with app.run_test(size=SIZE) as pilot:
        for n in range(1, 9):
            app.host.feed(Phase.FINISHED, record(n))
        app.drain()
        await pilot.pause()
        table = app.screen.query_one(LiveTable)
        assert table.row_ids() == [f"req{n:04d}" for n in (8, 7, 6, 5, 4)]


async def test_one_drain_handles_a_burst(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        for n in range(1, 401):
            app.host.feed(Phase.STARTED, record(n, in_flight=True))
            app.host.feed(Phase.FINISHED, record(n))
        app.drain()
        await pilot.pause()
        assert len(app.host.feed) == 0
        assert app.screen.query_one(LiveTable).row_count == 400


async def test_filter_line_narrows_the_table(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        app.host.feed(Phase.FINISHED, record(1))
        app.host.feed(Phase.FINISHED, record(2, provider="anthropic", status=529))
        app.host.feed(Phase.FINISHED, record(3, cost_usd=Decimal("0.5")))
        app.drain()
        await pilot.pause()
        await pilot.press("slash", *"status:5xx", "enter")
        table = app.screen.query_one(LiveTable)
        assert table.row_ids() == ["req0002"]

        # A request arriving later is filtered too.
        app.host.feed(Phase.FINISHED, record(4, status=503))
        app.host.feed(Phase.FINISHED, record(5))
        app.drain()
        await pilot.pause()
        assert table.row_ids() == ["req0004", "req0002"]

        await pilot.press("escape")
        assert len(table.row_ids()) == 5


async def test_a_bad_filter_is_reported_and_the_last_good_one_kept(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        app.host.feed(Phase.FINISHED, record(1))
        app.drain()
        await pilot.press("slash", *"cost>x", "enter")
        await pilot.pause()
        assert any("not a number" in n.message for n in app._notifications)
        assert app.screen.filter.text != "cost>x"


async def test_pause_holds_the_table_and_follow_catches_up(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        app.host.feed(Phase.FINISHED, record(1))
        app.drain()
        await pilot.pause()
        await pilot.press("space")
        app.host.feed(Phase.FINISHED, record(2))
        app.drain()
        await pilot.pause()
        table = app.screen.query_one(LiveTable)
        assert table.row_ids() == ["req0001"]
        await pilot.press("space")
        assert table.row_ids() == ["req0002", "req0001"]


async def test_enter_opens_the_request_in_detail(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        app.host.feed(Phase.FINISHED, record(1, model="gpt-4.1-mini"))
        app.drain()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.record.id == "req0001"
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_the_palette_carries_every_named_action_of_the_screen(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Pause", "Filter", "Details", "Costs screen", "Help"} <= set(titles)
        # Textual's key panel keeps "Keys"; ours says it is a screen.
        assert titles.count("Keys") == 1 and "Keys screen" in titles
        assert len(titles) == len(set(titles)), "no title twice in the palette"
        await pilot.press("2")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Export", "Group by", "Period"} <= titles


async def test_names_that_look_like_markup_are_shown_as_they_are(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        odd = record(1, project="[bold]web[/", model="[red]m", surface="x[/]")
        app.host.feed(Phase.FINISHED, odd)
        app.drain()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert "[bold]web[/" in str(app.screen.query_one("#detail-title").render())
