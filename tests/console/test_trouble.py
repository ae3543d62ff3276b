"""Failures are said plainly: a banner, a notification, never a traceback."""

from __future__ import annotations

import logging
import sys

import pytest

from kilo_tui.app import KiloApp
from kilo_tui.host import GatewayHost
from kilo_tui.widgets.header import GatewayState
from kilo_tui.widgets.problem import ProblemBanner
from proxy.config import Settings
from tests.console.conftest import SIZE


class Boom(Exception):
    """A failure nobody planned for."""


async def test_an_unexpected_error_leaves_one_line_and_a_crash_report(
    static_app, console_home, capsys
):
    app = static_app()

    def explode() -> None:
        raise Boom("something broke")

    with pytest.raises(Boom):
        async with app.run_test(size=SIZE) as pilot:
            app.call_later(explode)
            await pilot.pause()
    report = console_home.data_dir / "console-crash.log"
    assert "Boom: something broke" in report.read_text()
    printed = capsys.readouterr().err
    assert "stopped after an unexpected error" in printed
    assert "Traceback" not in printed and "something broke" not in printed


@pytest.mark.parametrize(
    "failure",
    ["import", "other"],
)
async def test_any_failure_to_start_shows_the_banner_and_is_logged(
    console_home, monkeypatch, failure
):
    if failure == "import":
        # As when a dependency is missing: importing the gateway fails.
        monkeypatch.setitem(sys.modules, "proxy.gateway", None)
    else:

        def explode(self) -> None:
            raise RuntimeError("the disk\nis on fire")

        monkeypatch.setattr(GatewayHost, "serve", explode)
    app = KiloApp(GatewayHost(Settings(), console_home))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(100):
            if app.gateway_state != "starting":
                break
            await pilot.pause(0.05)
        assert app.gateway_state == "failed"
        banner = app.screen.query_one(ProblemBanner)
        assert banner.display
        title, detail, advice = str(banner.render()).split("\n")[:3]
        assert title == "Gateway did not start"
        assert ("proxy.gateway" if failure == "import" else "the disk is on fire") in (
            detail
        )
        assert "gateway-start.log" in detail and advice
        assert "Gateway did not start" in str(
            app.screen.query_one(GatewayState).render()
        )
        app.drain()
        assert any(
            "Gateway did not start" in line for _, _, line in app.event_log.lines
        )
    report = console_home.data_dir / "gateway-start.log"
    assert "Traceback" in report.read_text()


async def test_notifications_are_sentences_without_logger_names(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        logging.getLogger("proxy.forward").warning(
            "upstream %s failed for model %s: %s", "openai", "gpt-4.1", "timed out"
        )
        app.drain()
        await pilot.pause()
        [note] = [n for n in app._notifications if "upstream" in n.message.lower()]
        assert note.message == "Upstream openai failed for model gpt-4.1: timed out."
        assert note.title == "Gateway" and "proxy." not in note.message
