"""The console application: screens by mode, app-wide bindings, the live clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.signal import Signal

from kilo_tui.costs_data import load_recent
from kilo_tui.events_log import EventLog
from kilo_tui.host import GatewayHost, Problem
from kilo_tui.live_state import Batch, LiveState
from kilo_tui.messages import GatewayFailed, GatewayStarted, RecentLoaded
from kilo_tui.screens.connect import ConnectScreen
from kilo_tui.screens.costs import CostsScreen
from kilo_tui.screens.help import HelpScreen
from kilo_tui.screens.keys import KeysScreen
from kilo_tui.screens.live import LiveScreen
from kilo_tui.screens.log import LogScreen
from proxy.records import utc_now

log = logging.getLogger(__name__)

DRAIN_INTERVAL = 0.25


class KiloApp(App):
    """Watches the embedded gateway's traffic and manages keys and costs."""

    CSS_PATH = "kilo.tcss"
    TITLE = "kilo-tui"
    MODES = {
        "live": LiveScreen,
        "costs": CostsScreen,
        "keys": KeysScreen,
        "connect": ConnectScreen,
    }
    DEFAULT_MODE = "live"
    BINDINGS = [
        Binding("1", "switch_mode('live')", "Live", id="app.live"),
        Binding("2", "switch_mode('costs')", "Costs", id="app.costs"),
        Binding("3", "switch_mode('keys')", "Keys", id="app.keys"),
        Binding("4", "switch_mode('connect')", "Connect", id="app.connect"),
        Binding("question_mark,f1", "help", "Help", id="app.help", key_display="?"),
        Binding("ctrl+l", "event_log", "Log", id="app.log", show=False),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    gateway_state = reactive("starting")

    def __init__(
        self,
        host: GatewayHost,
        *,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.host = host
        self.clock = clock
        self.monotonic = monotonic
        self.live = LiveState(host.settings.live_window)
        self.live_changed: Signal[Batch] = Signal(self, "live_changed")
        self.event_log = EventLog()
        # Gateway keys made in this session, id -> (project, plaintext): the only
        # time a plaintext exists, so Connect can fill it in. Never written anywhere.
        self.session_keys: dict[str, tuple[str, str]] = {}
        if host.demo:
            self.sub_title = "DEMO"

    def on_mount(self) -> None:
        self.event_log.install()
        self.set_interval(DRAIN_INTERVAL, self.drain, name="drain-live-feed")
        self.run_worker(
            self._start_gateway,
            thread=True,
            name="gateway-start",
            description="Start the gateway on its own thread",
            exit_on_error=False,
        )

    def _start_gateway(self) -> None:
        try:
            problem = self.host.start()
        except Exception as exc:
            # Whatever a host lets through still ends in a banner, never in silence.
            problem = self.host.failed(exc)
        self.post_message(GatewayFailed(problem) if problem else GatewayStarted())

    def on_gateway_started(self, _: GatewayStarted) -> None:
        self.gateway_state = "running"
        self._load_recent()
        log.info("gateway serving at %s", self.host.base_url)

    @work(name="live-preload", group="live", exit_on_error=False)
    async def _load_recent(self) -> None:
        """Show the latest logged requests in Live, as they were before a restart."""
        try:
            records = await load_recent(self.host.database, self.live.window.size)
        except Exception as exc:
            log.warning("could not read recent requests: %s", exc)
            return
        self.post_message(RecentLoaded(records))

    def on_recent_loaded(self, message: RecentLoaded) -> None:
        batch = self.live.preload(message.records)
        if not batch.empty:
            self.live_changed.publish(batch)

    def on_gateway_failed(self, message: GatewayFailed) -> None:
        self.gateway_state = "failed"
        self.report_problem(message.problem)

    def report_problem(self, problem: Problem) -> None:
        """Log the problem; the warning becomes a notification, the banner stays."""
        log.warning("%s: %s", problem.title, problem.detail)

    def notify(self, message: str, *, markup: bool = True, **options) -> None:
        """Notifications carry paths, errors and config lines: never markup."""
        super().notify(message, markup=False, **options)

    def drain(self) -> None:
        """Fold everything the gateway announced since the last tick into one batch."""
        events = self.host.feed.drain()
        batch = self.live.ingest(events, self.monotonic()) if events else None
        if batch is not None and not batch.empty:
            self.live_changed.publish(batch)
        self.event_log.flush_to(self)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_event_log(self) -> None:
        if not isinstance(self.screen, LogScreen):
            self.push_screen(LogScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every named binding of the current screen and app, also in the palette."""
        builtin = list(super().get_system_commands(screen))
        yield from builtin
        # Textual's own "Quit" runs our action_quit; "Keys" is its key panel.
        seen = {command.title for command in builtin}
        for active in screen.active_bindings.values():
            binding = active.binding
            title = _palette_title(binding)
            if binding.id is None or title in seen or not active.enabled:
                continue
            seen.add(title)
            key = self.get_key_display(binding)
            yield SystemCommand(
                title,
                binding.tooltip or f"{binding.description} ({key})",
                partial(self._run_bound, active.node, binding.action),
            )

    def _run_bound(self, node, action: str) -> None:
        self.run_action(action, node)

    async def action_quit(self) -> None:
        """Stop the gateway (flushing the log) before the app goes."""
        self.notify("Flushing the request log…", timeout=2)
        worker = self.run_worker(
            self.host.stop,
            thread=True,
            name="gateway-stop",
            description="Stop the gateway and flush the log",
            exit_on_error=False,
        )
        await worker.wait()
        self.exit()

    def _handle_exception(self, error: Exception) -> None:
        self._crash = error
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        # An unexpected failure is written in full to a file; the terminal gets one
        # plain line instead of a traceback.
        error = getattr(self, "_crash", None)
        path = self.event_log.write_crash_report(self.host.paths.data_dir, error)
        self._exit_renderables.append(
            f"kilo-tui stopped after an unexpected error. Details: {path}"
        )
        self._close_messages_no_wait()

    @property
    def config_file(self) -> Path:
        """Where the user's settings live, for messages that point at it."""
        return self.host.paths.config_file


def _palette_title(binding: Binding) -> str:
    # "Keys" alone would read like Textual's key panel: screens say they are screens.
    if binding.action.startswith("switch_mode("):
        return f"{binding.description} screen"
    return binding.description
