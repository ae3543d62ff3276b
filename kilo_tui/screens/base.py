"""What every console screen shares: the header on top, the footer below."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from kilo_tui.widgets.header import AppHeader
from kilo_tui.widgets.problem import ProblemBanner


class ConsoleScreen(Screen):
    """A top-level screen of the console; subclasses compose their body."""

    MODE = ""

    def compose(self) -> ComposeResult:
        yield AppHeader(self.MODE)
        yield ProblemBanner()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between header and footer."""
        yield from ()
