"""Runs the gateway inside the console's process and says plainly when it cannot."""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kilo_tui.feed import LiveFeed
from kilo_tui.key_stores import key_store
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
        self._keys = None
        self._keys_lock = threading.Lock()

    @property
    def keys(self):
        """The key store the gateway and the Keys screen share (made on first use)."""
        with self._keys_lock:
            if self._keys is None:
                self._keys = key_store(self.paths, self.demo)
            return self._keys

    @property
    def base_url(self) -> str | None:
        """Where tools reach the gateway, once it listens."""
        return self.gateway.base_url if self.state == RUNNING else None

    @property
    def expected_url(self) -> str:
        """Where tools reach the gateway, or will once it listens."""
        if self.base_url:
            return self.base_url
        host, port = self.settings.host, self.settings.port
        host = f"[{host}]" if ":" in host else host
        # Port 0 means "any free port", known only once the gateway listens.
        return f"http://{host}:{port or 'PORT'}"

    @property
    def database(self):
        """The request log this console reads."""
        return self.paths.database(self.demo)

    def start(self) -> Problem | None:
        """Start serving (blocks until bound); returns the problem if it could not."""
        self.state = STARTING
        try:
            self.serve()
        except Exception as exc:
            return self.failed(exc)
        self.state = RUNNING
        return None

    def serve(self) -> None:
        """Open the log and listen; raises whatever went wrong."""
        from proxy.gateway import Gateway, GatewayThread

        self.paths.ensure()
        self.gateway = Gateway(
            self.settings,
            self.paths,
            demo=self.demo,
            keystore=self.keys,
            capture=True,
        )
        self.gateway.bus.subscribe(self.feed)
        self._thread = GatewayThread(self.gateway)
        self._thread.start(self.settings.host, self.settings.port)

    def failed(self, exc: BaseException) -> Problem:
        """Take the gateway down after a failed start, and say why and what to do."""
        report = None
        if not isinstance(exc, _expected_errors()):
            # The screen gets one line; the whole story goes to a file.
            report = write_report(self.paths.data_dir / "gateway-start.log", exc)
        return self._failed(start_problem(exc, self, report))

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


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The failures with advice of their own; none if the gateway cannot load."""
    try:
        from proxy.gateway import GatewayBindError
        from proxy.store import StoreError
    except Exception:
        return ()
    return GatewayBindError, StoreError


def write_report(path: Path, exc: BaseException) -> Path | None:
    """Append the full traceback of a failure to `path`; None if it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now().isoformat(timespec="seconds")
        with path.open("a", encoding="utf-8") as out:
            out.write(f"--- {stamp}\n{''.join(traceback.format_exception(exc))}\n")
    except OSError:
        return None
    return path


def start_problem(
    exc: BaseException, owner: GatewayHost, report: Path | None = None
) -> Problem:
    """What the banner says for any failure to start: one line, and what to do."""
    from_gateway = _expected_errors()
    if from_gateway and isinstance(exc, from_gateway[0]):
        return bind_problem(exc.host, exc.port, exc.reason, owner)
    if from_gateway and isinstance(exc, from_gateway[1]):
        return database_problem(str(exc), owner)
    details = f" The full error is in {report}." if report else ""
    if isinstance(exc, ImportError):
        return Problem(
            "Gateway did not start",
            f"Part of kilo-tui could not be loaded: {_one_line(exc)}.{details}",
            "The installation looks incomplete: reinstall kilo-tui (for example "
            "pip install --force-reinstall kilo-tui) and start it again. " + _MEANWHILE,
        )
    report_it = "report it with that file" if report else "report it"
    return Problem(
        "Gateway did not start",
        f"{type(exc).__name__}: {_one_line(exc)}.{details}",
        f"Start kilo-tui again; if it fails the same way, {report_it}. " + _MEANWHILE,
    )


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()).rstrip(".") or "no details"
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MEANWHILE = (
    "Keys, Costs and Connect still work meanwhile; nothing in your data changed."
)


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
