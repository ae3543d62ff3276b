"""The gateway announces request events; storage and screens subscribe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum

from proxy.records import RequestRecord

log = logging.getLogger(__name__)


class Phase(Enum):
    """Where a request is in its life."""

    STARTED = "started"
    STREAMING = "streaming"
    FINISHED = "finished"


Listener = Callable[[Phase, RequestRecord], None]


class EventBus:
    """Calls every listener synchronously on the gateway's loop; listeners must be fast.

    A listener that needs to do slow work (disk, painting) queues the record and
    does the work in its own batch, on its own clock.
    """

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        """Add a listener for every later event."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling a listener."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, phase: Phase, record: RequestRecord) -> None:
        """Hand an event to every listener; a failing one never breaks a request."""
        for listener in self._listeners:
            try:
                listener(phase, record)
            except Exception:
                log.exception("event listener %r failed", listener)
