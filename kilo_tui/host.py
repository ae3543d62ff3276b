"""Runs the gateway inside the console's process and says plainly when it cannot."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kilo_tui.feed import LiveFeed
from proxy.config import Paths, Settings

log = logging.getLogger(__name__)

STARTING = "starting"
RUNNING = "running"
FAILED = "failed"
STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the gateway is not serving, and what the user can do about it."""

    title: str
    detail: str
    advice: str
    # "bind", "database" or "other", for code that reacts to one kind.
    kind: str = "other"


class GatewayHost:
    """Owns the gateway thread; the console reads its state and drains its feed."""

    def __init__(self, settings: Settings, paths: Paths, *, demo: bool = False):
        self.settings = settings
        self.paths = paths
        self.demo = demo
        self.feed = LiveFeed()
        self.state = STOPPED
        self.problem: Problem | None = None
        self.gateway = None
        self._thread = None

    @property
    def base_url(self) -> str | None:
        """Where tools reach the gateway, once it listens."""
        return self.gateway.base_url if self.state == RUNNING else None

    @property
    def database(self):
        """The request log this console reads."""
        return self.paths.database(self.demo)

    def start(self) -> Problem | None:
        """Start serving (blocks until bound); returns the problem if it could not."""
        from proxy.gateway import Gateway, GatewayBindError, GatewayThread
        from proxy.keystore import KeyStore
        from proxy.store import StoreError

        self.state = STARTING
        try:
            self.paths.ensure()
            self.gateway = Gateway(
                self.settings,
                self.paths,
                demo=self.demo,
                keystore=KeyStore(self.paths, database=self.paths.database(self.demo)),
                capture=True,
            )
            self.gateway.bus.subscribe(self.feed)
            self._thread = GatewayThread(self.gateway)
            self._thread.start(self.settings.host, self.settings.port)
        except GatewayBindError as exc:
            return self._failed(bind_problem(exc.host, exc.port, exc.reason, self))
        except StoreError as exc:
            return self._failed(database_problem(str(exc), self))
        except Exception as exc:
            log.exception("the gateway could not start")
            return self._failed(Problem("Gateway did not start", str(exc), _LOG_HINT))
        self.state = RUNNING
        return None

    def _failed(self, problem: Problem) -> Problem:
        self.state = FAILED
        self.problem = problem
        # The gateway has already closed what it opened; only its loop is left.
        if self._thread is not None:
            self._thread.loop.call_soon_threadsafe(self._thread.loop.stop)
            self._thread = None
        return problem

    def stop(self) -> None:
        """Stop serving and flush every record to disk."""
        self._stop_thread()
        if self.state != FAILED:
            self.state = STOPPED

    def _stop_thread(self) -> None:
        if self._thread is None:
            return
        try:
            self._thread.stop()
        except Exception:
            log.exception("the gateway did not stop cleanly")
        self._thread = None

    def call(self, func, *args) -> None:
        """Call a plain function on the gateway's loop, if it runs."""
        if self._thread is not None and self.state == RUNNING:
            self._thread.call(func, *args)

    def keys_changed(self) -> None:
        """Tell the gateway a provider key was added or removed."""
        if self.gateway is not None:
            self.call(self.gateway.forget_secrets)


class StaticHost(GatewayHost):
    """A host whose gateway never starts: screens over an existing log, for pictures."""

    def __init__(
        self, settings, paths, *, demo=False, base_url="http://127.0.0.1:8787"
    ):
        super().__init__(settings, paths, demo=demo)
        self._url = base_url

    @property
    def base_url(self) -> str | None:
        return self._url

    def start(self) -> Problem | None:
        self.paths.ensure()
        self.state = RUNNING
        return None


_LOG_HINT = "Press ctrl+l to see the event log; nothing was written to your data."


def bind_problem(host: str, port: int, reason: str, owner: GatewayHost) -> Problem:
    """The port cannot be bound: which one, and how to pick another."""
    return Problem(
        f"Port {port} is not available",
        f"The gateway cannot listen on {host}:{port} ({reason}).",
        f"Another program (perhaps another kilo-tui) is using port {port}. Stop it, "
        f"or choose a free port in {owner.paths.config_file}:\n"
        f"  [server]\n  port = {port + 1}\n"
        "then start kilo-tui again. Keys, Costs and Connect still work meanwhile.",
        kind="bind",
    )


def database_problem(reason: str, owner: GatewayHost) -> Problem:
    """The request log cannot be opened: say so and leave the file alone."""
    return Problem(
        "The request log cannot be opened",
        reason,
        f"The file {owner.database} was left exactly as it is. Move it aside (or "
        "upgrade kilo-tui if it was written by a newer version) and start again.",
        kind="database",
    )
