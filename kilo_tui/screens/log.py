"""The event log: what the gateway and the console reported, newest last."""

from __future__ import annotations

import logging

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import RichLog


class LogScreen(ModalScreen):
    """Starts, stops, upstream failures and warnings, never a secret."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="log.close")]

    def compose(self) -> ComposeResult:
        log = RichLog(id="event-log", wrap=True, markup=False, highlight=False)
        log.border_title = "Event log"
        log.border_subtitle = "escape closes"
        yield log

    def on_mount(self) -> None:
        self._shown = 0
        self._show_new()
        self.set_interval(0.5, self._show_new, name="event-log-tail")

    def _show_new(self) -> None:
        lines = list(self.app.event_log.lines)
        total = self.app.event_log.total
        new = lines[max(len(lines) - (total - self._shown), 0) :]
        log = self.query_one(RichLog)
        for moment, level, text in new:
            name = logging.getLevelName(level).lower()
            log.write(f"{moment:%H:%M:%S} {name:<7} {text}")
        self._shown = total
