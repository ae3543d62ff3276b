"""An unexpected failure never puts a traceback on the screen."""

from __future__ import annotations

import pytest

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
