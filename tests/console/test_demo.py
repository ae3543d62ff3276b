"""Demo mode: imitated tools send real traffic through the gateway to mocks."""

from __future__ import annotations

import sqlite3

from kilo_tui.app import KiloApp
from kilo_tui.demo import DemoHost, headers_for, request_for
from kilo_tui.demo_tools import TOOLS, plan
from kilo_tui.widgets.live_table import LiveTable
from proxy.config import settings_from_dict
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
