"""The top line of every screen: name, DEMO badge, screen tabs, gateway state."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static, Tab, Tabs

SCREENS = (
    ("live", "1 Live"),
    ("costs", "2 Costs"),
    ("keys", "3 Keys"),
    ("connect", "4 Connect"),
)


class GatewayState(Static):
    """The gateway's address when it serves, or why it does not."""

    def on_mount(self) -> None:
        self.watch(self.app, "gateway_state", self._show, init=True)

    def _show(self, state: str) -> None:
        host = self.app.host
        self.set_classes(f"gateway-{state}")
        if state == "running":
            self.update(f"● {host.base_url}")
        elif state == "failed" and host.problem:
            self.update(f"✖ {host.problem.title}")
        else:
            self.update(f"○ gateway {state}")


class AppHeader(Horizontal):
    """Tabs to move between screens by mouse, and what the gateway is doing."""

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        yield Static("kilo-tui", classes="brand")
        if self.app.host.demo:
            yield Static(" DEMO ", classes="demo-badge")
        tabs = [Tab(label, id=f"tab-{mode}") for mode, label in SCREENS]
        tabs = Tabs(*tabs, active=f"tab-{self.current}")
        # Screens are switched by number keys; the tabs are there for the mouse.
        tabs.can_focus = False
        yield tabs
        yield GatewayState()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        mode = event.tab.id.removeprefix("tab-")
        if mode != self.current:
            self.app.switch_mode(mode)
