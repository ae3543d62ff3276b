"""Collects log records from every thread for the event log screen and notifications."""

from __future__ import annotations

import logging
import traceback
from collections import deque
from datetime import datetime
from pathlib import Path

from kilo_tui.format import plain

MAX_LINES = 2000
# HTTP client libraries log every request at INFO: the demo's traffic, key checks.
# The event log is for kilo-tui's own news, so they only speak up for warnings.
QUIET_LOGGERS = ("httpx", "httpcore")
# Warnings that repeat faster than this are shown once as a notification.
_NOTIFY_EVERY = 5.0


class EventLog(logging.Handler):
    """A logging handler that only appends; the app reads it on its own clock.

    Installed on the root logger it also keeps Python from printing warnings over
    the screen, which it would otherwise do when no handler is configured.
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[tuple[datetime, int, str]] = deque(maxlen=MAX_LINES)
        self._unshown: deque[logging.LogRecord] = deque(maxlen=50)
        self._last_notice: dict[str, float] = {}
        # How many lines were ever added, so a reader can tell which ones are new.
        self.total = 0
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def install(self) -> None:
        """Receive every INFO and louder record of this process."""
        root = logging.getLogger()
        root.addHandler(self)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        for name in QUIET_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.WARNING)

    def uninstall(self) -> None:
        """Stop receiving records."""
        logging.getLogger().removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        # Only the message, never the traceback: a traceback never reaches the screen.
        text = self.format_line(record)
        self.lines.append(
            (datetime.fromtimestamp(record.created), record.levelno, text)
        )
        self.total += 1
        if record.levelno >= logging.WARNING:
            self._unshown.append(record)

    def format_line(self, record: logging.LogRecord) -> str:
        """One line for the event log: the logger's name and its message."""
        return f"{record.name}: {message(record)}"

    def flush_to(self, app) -> None:
        """Show new warnings as notifications, each kind at most every few seconds."""
        while self._unshown:
            record = self._unshown.popleft()
            key = f"{record.name}:{record.msg}"
            last = self._last_notice.get(key, 0.0)
            if record.created - last < _NOTIFY_EVERY:
                continue
            self._last_notice[key] = record.created
            severity = "error" if record.levelno >= logging.ERROR else "warning"
            app.notify(
                sentence(record),
                title=_source(record),
                severity=severity,
                timeout=8,
            )

    def write_crash_report(self, directory: Path, error: BaseException | None) -> Path:
        """Write the full traceback of a failure where the user can find it."""
        path = directory / "console-crash.log"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            lines = traceback.format_exception(error) if error else ["(no details)"]
            stamp = datetime.now().isoformat(timespec="seconds")
            with path.open("a", encoding="utf-8") as out:
                out.write(f"--- {stamp}\n{''.join(lines)}\n")
        except OSError:
            return Path("(the crash report could not be written)")
        return path


def message(record: logging.LogRecord) -> str:
    """A record's message on one line, control characters shown, never run."""
    try:
        text = record.getMessage()
    except Exception:
        text = repr(record.msg)
    return plain(" ".join(text.split()))


def sentence(record: logging.LogRecord) -> str:
    """A record's message as a sentence for a notification, without logger names."""
    text = message(record)
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _source(record: logging.LogRecord) -> str:
    """Which side of kilo-tui is speaking, in a word, as the notification's title."""
    return "Gateway" if record.name.split(".")[0] == "proxy" else "kilo-tui"
