"""What the console knows of recent traffic: the window, the rates, arrival order."""

from __future__ import annotations

from dataclasses import dataclass, field

from kilo_tui.feed import latest_by_id
from kilo_tui.stats import RateMeter
from kilo_tui.window import Changes, LiveWindow
from proxy.events import Phase
from proxy.records import RequestRecord


@dataclass(slots=True)
class Batch:
    """One drain's worth of changes, with each request's place in arrival order."""

    changes: Changes
    seqs: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        changes = self.changes
        return not (changes.added or changes.updated or changes.evicted)


class LiveState:
    """Folds drained events into the bounded window and the rate meter."""

    def __init__(self, window: int = 1000) -> None:
        self.window = LiveWindow(window)
        self.meter = RateMeter()
        self._seq: dict[str, int] = {}
        self._next = 0
        self.in_flight: set[str] = set()

    def ingest(self, events: list[tuple[Phase, RequestRecord]], now: float) -> Batch:
        """Apply a drained batch; finished requests are counted by the meter."""
        for phase, record in events:
            if phase is Phase.FINISHED:
                self.meter.add(record, now)
                self.in_flight.discard(record.id)
            else:
                self.in_flight.add(record.id)
        latest = latest_by_id(events)
        for record_id in latest:
            if record_id not in self._seq:
                self._next += 1
                self._seq[record_id] = self._next
        changes = self.window.apply(latest)
        for record_id in changes.evicted:
            self._seq.pop(record_id, None)
            self.in_flight.discard(record_id)
        return Batch(
            changes, {rid: self._seq[rid] for rid in latest if rid in self._seq}
        )

    def preload(self, records: list[RequestRecord]) -> Batch:
        """Fill the window with requests from the log, older than anything live."""
        fresh = [r for r in records if r.id not in self._seq]
        room = self.window.size - len(self.window)
        fresh = fresh[-room:] if room > 0 else []
        first = min(self._seq.values(), default=1) - len(fresh)
        for offset, record in enumerate(fresh):
            self._seq[record.id] = first + offset
        changes = self.window.apply({r.id: r for r in fresh})
        self.window.sort(self._seq)
        return Batch(changes, {r.id: self._seq[r.id] for r in fresh})

    def seq(self, record_id: str) -> int:
        """A request's place in arrival order (higher is newer)."""
        return self._seq.get(record_id, 0)

    def clear(self) -> None:
        """Empty the window; the log on disk keeps everything."""
        self.window.clear()
        self._seq.clear()
        self.in_flight.clear()
