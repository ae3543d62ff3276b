"""Screens at 80x24 and odd text: nothing cut to a wrong figure, nothing run as code."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rich.cells import cell_len
from textual.widgets import Static

from kilo_tui.screens.costs import CostsScreen
from kilo_tui.screens.detail import DetailScreen
from kilo_tui.seed import seed_database
from kilo_tui.widgets.breakdown import BreakdownTable
from kilo_tui.widgets.figure import Figure
from kilo_tui.widgets.live_table import LiveTable
from proxy.events import Phase
from proxy.store import connect, insert_rows, record_row
from tests.console.conftest import NOW, SIZE
from tests.console.records import record

SMALL = (80, 24)


def _lines(table: LiveTable) -> list[str]:
    """The table's visible lines as text, header first."""
    return [table.render_line(y).text for y in range(table.size.height)]


async def _show(app, pilot, *records) -> LiveTable:
    for r in records:
        app.host.feed(Phase.FINISHED, r)
    app.drain()
    await pilot.pause()
    return app.screen.query_one(LiveTable)


async def test_first_run_says_what_to_do(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = " ".join(_lines(app.screen.query_one(LiveTable)))
        assert "No requests yet" in text and "3 Keys" in text and "4 Connect" in text
        assert "http://127.0.0.1:8787/v1" in text


async def test_a_filter_that_matches_nothing_says_so(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await _show(app, pilot, record(1))
        await pilot.press("slash", *"provider:nobody", "enter")
        await pilot.pause()
        text = " ".join(_lines(app.screen.query_one(LiveTable)))
        assert "matches the filter" in text


async def test_at_80_columns_cost_and_tokens_stay_in_view(static_app):
    app = static_app()
    async with app.run_test(size=SMALL) as pilot:
        embedding = record(2, cost_usd=Decimal("0.00000004"), output_tokens=0)
        lost = record(3, status="client_disconnected", cost_usd=Decimal(0))
        table = await _show(app, pilot, record(1), embedding, lost)
        header, *rows = _lines(table)
        for title in ("Status", "Model", "Input", "Output", "Cost"):
            assert title in header
        assert table.max_scroll_x == 0
        assert "$0.00056" in rows[2] and "<$0.000001" in rows[1]
        assert "disconn" in rows[0] and "…" not in rows[0]


async def test_a_wide_character_project_keeps_the_row_aligned(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await _show(
            app, pilot, record(1, project="日本語のプロジェクト"), record(2)
        )
        _, cjk, ascii_ = _lines(table)[:3]
        assert cell_len(cjk) == cell_len(ascii_) == table.size.width

        def cost_end(line: str) -> int:
            return cell_len(line[: line.index("$0.00056") + len("$0.00056")])

        assert cost_end(cjk) == cost_end(ascii_)


async def test_markup_and_escape_codes_in_a_record_are_shown_literally(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        odd = record(1, model="[red]x\x1b[2J", project="p\x07")
        table = await _show(app, pilot, odd)
        line = _lines(table)[1]
        assert "[red]x␛[2J" in line and "\x1b" not in line and "\x07" not in line

        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        for static in app.screen.query(Static):
            region = static.content_region
            for strip in static.render_lines(region.reset_offset):
                assert "\x1b" not in strip.text and "\x07" not in strip.text
        title = app.screen.query_one("#detail-title").render_lines(
            app.screen.query_one("#detail-title").region.reset_offset
        )
        assert "[red]x␛[2J" in "".join(s.text for s in title)


def _seed_with_long_names(paths) -> None:
    seed_database(paths.database(), NOW)
    long = record(
        9000,
        model="a-very-long-fine-tuned-model-name-from-some-provider-2026-01-01",
        started_at=NOW - timedelta(minutes=5),
        cost_usd=Decimal("5.5"),
    )
    conn = connect(paths.database())
    try:
        insert_rows(conn, [record_row(long)])
    finally:
        conn.close()


async def test_costs_at_80x24_never_show_a_cut_number(static_app, console_home):
    _seed_with_long_names(console_home)
    app = static_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("2")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CostsScreen)

        for figure in screen.query(Figure):
            if not figure.display:
                continue
            shown = str(figure.render())
            assert shown in (figure.text, figure.short) or shown.endswith("…")

        table = screen.query_one(BreakdownTable)
        assert table.max_scroll_x == 0
        assert table.display and table.size.height >= 6
        shares = [str(row[-1]).strip() for row in _rows(table)]
        assert shares and all(s.endswith("%") for s in shares)
        long_row = next(r for r in _rows(table) if str(r[0]).startswith("a-very"))
        assert str(long_row[0]).rstrip().endswith("…")


def _rows(table: BreakdownTable) -> list[list]:
    return [table.get_row_at(i) for i in range(table.row_count)]
