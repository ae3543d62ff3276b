"""The Live screen: requests as they happen, rates above them, a filter line."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Input, Static

from kilo_tui.filters import Filter, FilterError, parse
from kilo_tui.format import plain
from kilo_tui.live_state import Batch
from kilo_tui.screens.base import ConsoleScreen
from kilo_tui.screens.detail import DetailScreen
from kilo_tui.widgets.live_table import LiveTable
from kilo_tui.widgets.stats_strip import StatsStrip

FILTER_HINT = "filter: provider:anthropic model:sonnet status:5xx project:web cost>0.01"


class LiveScreen(ConsoleScreen):
    """Newest request first; running streams update in place."""

    MODE = "live"
    CSS_PATH = "live.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("space", "pause", "Pause", id="live.pause"),
        Binding("space", "follow", "Follow", id="live.follow"),
        Binding("slash", "focus_filter", "Filter", id="live.filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", id="live.clear", show=False),
        Binding("x", "clear_window", "Clear", id="live.clear_window"),
    ]

    following = reactive(True)

    def __init__(self) -> None:
        super().__init__()
        self.filter = Filter()
        self._stale = False
        self._held = 0

    def compose_body(self) -> ComposeResult:
        yield StatsStrip()
        yield Input(placeholder=FILTER_HINT, id="filter")
        yield Static("", id="live-status")
        yield LiveTable(clock=self.app.clock, id="live-table")

    def on_mount(self) -> None:
        self.app.live_changed.subscribe(self, self._on_batch, immediate=True)
        self.watch(self.app, "gateway_state", lambda _: self._show_status(), init=False)
        self.set_interval(1.0, self._tick, name="live-rates")
        self.query_one(LiveTable).focus()
        self._rebuild()
        self._tick()

    def on_screen_resume(self) -> None:
        if self._stale:
            self._rebuild()

    def _on_batch(self, batch: Batch) -> None:
        if not self.is_active or not self.following:
            self._stale = True
            self._held += len(batch.changes.added)
            self._show_status()
            return
        self._apply(batch)

    def _apply(self, batch: Batch) -> None:
        changes = batch.changes
        upserts = [
            (batch.seqs[r.id], r)
            for r in (*changes.added, *changes.updated)
            if self.filter.matches(r)
        ]
        removed = set(changes.evicted)
        removed.update(r.id for r in changes.updated if not self.filter.matches(r))
        self.query_one(LiveTable).apply(upserts, removed)
        self._show_status()
        self._show_rates()

    def _rebuild(self) -> None:
        live = self.app.live
        rows = [
            (live.seq(r.id), r) for r in live.window.records() if self.filter.matches(r)
        ]
        self.query_one(LiveTable).replace_all(rows)
        self._stale = False
        self._held = 0
        self._show_status()

    def _show_rates(self) -> None:
        live = self.app.live
        rates = live.meter.rates(self.app.monotonic(), len(live.in_flight))
        self.query_one(StatsStrip).show(rates)

    def _tick(self) -> None:
        self._show_rates()
        if self.app.live.in_flight and self.following:
            # Running requests show their elapsed time, so repaint even when idle.
            self.query_one(LiveTable).refresh()

    def _show_status(self) -> None:
        table = self.query_one(LiveTable)
        shown = f"{table.row_count:,} of {len(self.app.live.window):,} in window"
        if self.filter.active:
            shown += f" · filter: {plain(self.filter.text)}"
        if not self.following:
            shown = f"PAUSED · {self._held:,} new · " + shown
        # Text, not markup: the filter is whatever the user typed.
        self.query_one("#live-status", Static).update(Text(shown))
        self.query_one("#live-status").set_class(not self.following, "paused")
        table.show_placeholder(self._placeholder(table))

    def _placeholder(self, table: LiveTable) -> str:
        """What the empty table says: why it is empty and what to do next."""
        if table.row_count:
            return ""
        if self.filter.active and len(self.app.live.window):
            return "No request in the window matches the filter (escape clears it)."
        host = self.app.host
        if self.app.gateway_state == "failed":
            return "The gateway is not running: see the message above."
        if host.demo:
            return "Waiting for the first demo requests…"
        return (
            "No requests yet. Add a provider key (3 Keys) and point a tool at "
            f"{host.expected_url}/v1 (4 Connect)."
        )

    def action_pause(self) -> None:
        self.following = False

    def action_follow(self) -> None:
        self.following = True

    def watch_following(self, following: bool) -> None:
        if following and self.is_mounted:
            self._rebuild()
        if self.is_mounted:
            self._show_status()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # Space pauses while following and follows while paused.
        if action == "pause":
            return self.following
        if action == "follow":
            return not self.following
        return True

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if field.value:
            field.value = ""
            self._set_filter(Filter())
        self.query_one(LiveTable).focus()

    def action_clear_window(self) -> None:
        self.app.live.clear()
        self._rebuild()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        try:
            new_filter = parse(event.value)
        except FilterError as exc:
            self.notify(str(exc), title="Filter", severity="warning")
            return
        self._set_filter(new_filter)
        self.query_one(LiveTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        try:
            new_filter = parse(event.value)
        except FilterError:
            return  # Keep the last good filter while the user is still typing.
        self._set_filter(new_filter)

    def _set_filter(self, new_filter: Filter) -> None:
        if new_filter.text == self.filter.text:
            return
        self.filter = new_filter
        self._rebuild()

    @on(LiveTable.RequestChosen)
    def _open_detail(self, event: LiveTable.RequestChosen) -> None:
        self.app.push_screen(DetailScreen(event.record))
