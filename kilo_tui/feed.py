"""Carries request events from the gateway's thread to the console's, in batches."""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from proxy.events import Phase
from proxy.records import RequestRecord

# Enough for minutes of heavy traffic should painting stall; older events are dropped
# rather than growing without bound.
_MAX_PENDING = 100_000


class LiveFeed:
    """A bus listener that only copies and appends; the app drains it on a timer."""

    def __init__(self, max_pending: int = _MAX_PENDING) -> None:
        # deque.append and popleft are atomic, so no lock is needed between threads.
        self._pending: deque[tuple[Phase, RequestRecord]] = deque(maxlen=max_pending)

    def __call__(self, phase: Phase, record: RequestRecord) -> None:
        """Take a copy of the record, since the gateway keeps changing its own."""
        self._pending.append((phase, replace(record, usage=replace(record.usage))))

    def drain(self, limit: int = 20_000) -> list[tuple[Phase, RequestRecord]]:
        """Everything that arrived since the last drain, oldest first."""
        batch = []
        pending = self._pending
        while pending and len(batch) < limit:
            batch.append(pending.popleft())
        return batch

    def __len__(self) -> int:
        return len(self._pending)


def latest_by_id(
    batch: list[tuple[Phase, RequestRecord]],
) -> dict[str, RequestRecord]:
    """The newest copy of each request in a batch, in order of first appearance."""
    latest: dict[str, RequestRecord] = {}
    for _, record in batch:
        latest[record.id] = record
    return latest
