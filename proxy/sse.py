"""Server-sent event parsing that survives any split of the byte stream."""

from __future__ import annotations

from typing import NamedTuple

# Longest line kept; a longer one is dropped whole so a runaway upstream line
# cannot grow the buffer without bound.
MAX_LINE_BYTES = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"


class SSEEvent(NamedTuple):
    """One dispatched event: its type (None when unnamed) and its data lines."""

    event: str | None
    data: str


class SSEParser:
    """Turns stream bytes, split anywhere, into events once their blank line arrives.

    Lines may end in LF, CRLF or CR; comment lines (":...") are skipped; several
    data lines join with "\\n". Bytes are decoded one whole line at a time, so a
    split inside a multi-byte character never matters.
    """

    __slots__ = (
        "_pending",
        "_pending_len",
        "_skip_lf",
        "_event",
        "_data",
        "_first_line",
        "_max_line",
    )

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._pending: list[bytes] = []
        self._pending_len = 0
        # The last feed ended in CR: a leading LF now is the rest of a CRLF.
        self._skip_lf = False
        self._event: str | None = None
        self._data: list[str] = []
        self._first_line = True
        self._max_line = max_line

    def feed(self, data: bytes) -> list[SSEEvent]:
        """The events completed by these bytes, in order."""
        if self._skip_lf and data:
            self._skip_lf = False
            if data[0] == 0x0A:
                data = data[1:]
        if b"\n" not in data and b"\r" not in data:
            self._hold(data)
            return []
        events = []
        for line in self._lines(data):
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SSEEvent]:
        """Nothing: an event without its closing blank line is never dispatched."""
        return []

    def _hold(self, part: bytes) -> None:
        """Keep the start of a line that has not ended yet."""
        self._pending_len += len(part)
        if self._pending_len <= self._max_line:
            self._pending.append(part)
        else:
            self._pending.clear()

    def _lines(self, data: bytes) -> list[bytes | None]:
        """The complete lines in pending + data (None for an oversized one)."""
        if b"\r" in data:
            self._skip_lf = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        parts = data.split(b"\n")
        tail = parts.pop()
        lines: list[bytes | None] = [self._join(parts[0])]
        lines.extend(p if len(p) <= self._max_line else None for p in parts[1:])
        self._hold(tail)
        return lines

    def _join(self, head: bytes) -> bytes | None:
        """The held start of a line with its end, or None when it was too long."""
        size = self._pending_len + len(head)
        pending = self._pending
        self._pending = []
        self._pending_len = 0
        if size > self._max_line:
            return None
        return b"".join(pending) + head if pending else head

    def _line(self, raw: bytes | None) -> SSEEvent | None:
        """Apply one line; return the event a blank line completes."""
        if raw is None:
            return None
        if self._first_line:
            self._first_line = False
            raw = raw.removeprefix(_BOM)
        if not raw:
            return self._dispatch()
        if raw[0] == 0x3A:  # ":" starts a comment (keep-alive)
            return None
        name, _, value = raw.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace") or None
        return None

    def _dispatch(self) -> SSEEvent | None:
        """The event gathered so far; none when it had no data line."""
        data, event = self._data, self._event
        self._data = []
        self._event = None
        if not data:
            return None
        return SSEEvent(event, data[0] if len(data) == 1 else "\n".join(data))
