"""Messages workers post when slow work is done; handlers update the widgets."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from kilo_tui.host import Problem
from kilo_tui.keys_data import KeysSnapshot


class GatewayStarted(Message):
    """The gateway is listening."""


class GatewayFailed(Message):
    """The gateway could not start, and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__()
        self.problem = problem


class CostsLoaded(Message):
    """Figures for the Costs screen were read from the log."""

    def __init__(self, data) -> None:
        super().__init__()
        self.data = data


class WorkFailed(Message):
    """Slow work could not be done; the text says what and why, plainly."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__()
        self.what = what
        self.reason = reason


class ExportWritten(Message):
    """An export file was written."""

    def __init__(self, path: Path, rows: int) -> None:
        super().__init__()
        self.path = path
        self.rows = rows


class RecentLoaded(Message):
    """The latest requests were read from the log, oldest first."""

    def __init__(self, records: list) -> None:
        super().__init__()
        self.records = records


class KeysLoaded(Message):
    """Provider and gateway keys were read from the key store."""

    def __init__(self, snapshot: KeysSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class KeyTested(Message):
    """A key check finished (or gave up)."""

    def __init__(self, provider: str, label: str, result) -> None:
        super().__init__()
        self.provider = provider
        self.label = label
        self.result = result


class KeysChanged(Message):
    """Keys were added, removed, imported or revoked; the note says what."""

    def __init__(self, note: str) -> None:
        super().__init__()
        self.note = note


class GatewayKeyCreated(Message):
    """A gateway key was made; its plaintext exists only in this message."""

    def __init__(self, key_id: str, project: str, secret: str) -> None:
        super().__init__()
        self.key_id = key_id
        self.project = project
        self.secret = secret
