"""The Costs screen shows the figures proxy.queries computes, and exports them."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import timedelta

import aiosqlite

from kilo_tui.costs_data import auto_bucket
from kilo_tui.format import count, money
from kilo_tui.screens.costs import CostsScreen
from kilo_tui.seed import seed_database
from kilo_tui.widgets.charts import CostTrend, bucket_labels, ticks
from kilo_tui.widgets.figure import Figure
from proxy import queries
from tests.console.conftest import NOW, SIZE


async def _costs_screen(app, pilot) -> CostsScreen:
    await pilot.press("2")
    screen = app.screen
    assert isinstance(screen, CostsScreen)
    await app.workers.wait_for_complete()
    await pilot.pause()
    return screen


def _figure(screen, key: str) -> str:
    return str(screen.query_one(f"#total-{key}", Figure).render())


async def test_totals_equal_the_database_for_the_period(static_app, console_home):
    seed_database(console_home.database(), NOW)
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _costs_screen(app, pilot)
        async with aiosqlite.connect(console_home.database()) as db:
            expected = await queries.totals(db, NOW - timedelta(days=7), NOW)
        assert _figure(screen, "cost") == money(expected.cost)
        assert _figure(screen, "requests") == count(expected.requests)
        assert _figure(screen, "unpriced") == count(expected.unpriced)
        assert expected.unpriced > 0  # the seed has a model with no price

        rows = screen.data.rows
        assert sum(r.requests for r in rows) == expected.requests
        assert sum(r.cost or 0 for r in rows) == expected.cost


async def test_group_and_period_can_be_changed_by_key(static_app, console_home):
    seed_database(console_home.database(), NOW)
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _costs_screen(app, pilot)
        await pilot.press("g")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.data.by == "provider"
        assert {r.group for r in screen.data.rows} >= {"anthropic", "openai"}
        await pilot.press("p")  # 7 days -> 30 days
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.data.since == NOW - timedelta(days=30)


async def test_export_writes_the_breakdown_and_says_where(static_app, console_home):
    seed_database(console_home.database(), NOW)
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _costs_screen(app, pilot)
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        [path] = (console_home.data_dir / "exports").glob("*.csv")
        assert any(str(path) in n.message for n in app._notifications)
        with path.open() as rows:
            exported = list(csv.DictReader(rows))
        assert [r["group"] for r in exported] == [g.group for g in screen.data.rows]

        await pilot.press("f", "E")
        await app.workers.wait_for_complete()
        [raw] = (console_home.data_dir / "exports").glob("*.json")
        assert len(json.loads(raw.read_text())) == screen.data.totals.requests


async def test_costs_equal_kilo_tui_report_for_the_same_period(
    static_app, console_home, capsys
):
    from proxy.cli import main as cli

    seed_database(console_home.database(), NOW)
    since = "2026-01-10T00:00:00"
    argv = ["report", "--by", "project", "--since", since, "--format", "json"]
    # The command line runs its own event loop, so it gets a thread of its own.
    assert await asyncio.to_thread(cli, argv) == 0
    report = json.loads(capsys.readouterr().out)

    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _costs_screen(app, pilot)
        await pilot.press("g", "g")  # model -> provider -> project
        screen.query_one("#period").value = "custom"
        await pilot.pause()
        await pilot.press(*since, "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = {r.group: r.as_dict()["cost_usd"] for r in screen.data.rows}
    assert shown == {g["group"]: g["cost_usd"] for g in report["groups"]}


def test_buckets_follow_the_window_and_labels_carry_dates_when_needed():
    assert auto_bucket(NOW - timedelta(hours=12), NOW) == "hour"
    assert auto_bucket(NOW - timedelta(days=3), NOW) == "hour"
    assert auto_bucket(NOW - timedelta(days=7), NOW) == "day"
    assert auto_bucket(None, NOW) == "day"
    hours = [NOW - timedelta(hours=n) for n in range(30, 0, -1)]
    labels = bucket_labels(hours, "hour")
    assert labels[0] == "01-14 06:00" and labels[-1] == "01-15 11:00"
    assert len(set(labels)) == len(labels)
    assert bucket_labels(hours[-3:], "hour") == ["09:00", "10:00", "11:00"]
    shown = ticks(720, 11, 140)
    assert shown == sorted(shown) and len(shown) <= 140 // 11


async def test_a_month_by_the_hour_is_labelled_in_time_order(static_app, console_home):
    seed_database(console_home.database(), NOW)
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _costs_screen(app, pilot)
        assert screen.data.trend.bucket == "day"  # 7 days: daily on its own
        await pilot.press("p", "b")  # 30 days, then hourly by choice
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.data.trend.bucket == "hour"
        labels = screen.query_one(CostTrend).labels
        assert len(labels) > 24 * 29 and labels[0].count("-") == 1
        starts = screen.data.trend.starts
        assert starts == sorted(starts)
        await pilot.press("p")  # all time: a new period goes back to automatic
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.data.trend.bucket == "day"
