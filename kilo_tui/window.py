"""The Live screen's bounded window of recent requests, newest last."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from proxy.records import RequestRecord


@dataclass(slots=True)
class Changes:
    """What one batch did to the window."""

    added: list[RequestRecord] = field(default_factory=list)
    updated: list[RequestRecord] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)


class LiveWindow:
    """Holds at most `size` requests, keyed by id, dropping the oldest first."""

    def __init__(self, size: int = 1000) -> None:
        self.size = max(1, size)
        self._records: OrderedDict[str, RequestRecord] = OrderedDict()

    def apply(self, latest: dict[str, RequestRecord]) -> Changes:
        """Add new requests and replace running ones with their newer copies."""
        changes = Changes()
        for record_id, record in latest.items():
            if record_id in self._records:
                self._records[record_id] = record
                changes.updated.append(record)
            else:
                self._records[record_id] = record
                changes.added.append(record)
        while len(self._records) > self.size:
            old_id, _ = self._records.popitem(last=False)
            changes.evicted.append(old_id)
        if changes.evicted:
            gone = set(changes.evicted)
            changes.added = [r for r in changes.added if r.id not in gone]
            changes.updated = [r for r in changes.updated if r.id not in gone]
        return changes

    def sort(self, seqs: dict[str, int]) -> None:
        """Put the window in arrival order, so the oldest are evicted first."""
        ordered = sorted(self._records.items(), key=lambda item: seqs.get(item[0], 0))
        self._records = OrderedDict(ordered)

    def get(self, record_id: str) -> RequestRecord | None:
        """A request still in the window."""
        return self._records.get(record_id)

    def records(self) -> list[RequestRecord]:
        """Every request in the window, oldest first."""
        return list(self._records.values())

    def clear(self) -> None:
        """Forget every request (the log on disk keeps them)."""
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)
