"""Cutting an event stream into whole raw events, for the rare stream that is edited."""

from __future__ import annotations

import json
import re

# An event ends at a blank line, whichever line ending the server uses.
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class EventSplitter:
    """Buffers bytes and hands back each complete event with its terminator."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The events completed by this chunk, as raw bytes."""
        data = self.pending + chunk
        events = []
        start = 0
        for match in _EVENT_END.finditer(data):
            events.append(data[start : match.end()])
            start = match.end()
        self.pending = data[start:]
        return events


def is_usage_only_chunk(event: bytes) -> bool:
    """Whether an event is the usage-only chunk that include_usage adds at the end."""
    if b'"usage"' not in event or b'"choices"' not in event:
        return False
    for line in event.splitlines():
        if not line.startswith(b"data:"):
            continue
        try:
            chunk = json.loads(line[5:])
        except ValueError:
            return False
        return (
            isinstance(chunk, dict)
            and chunk.get("choices") == []
            and isinstance(chunk.get("usage"), dict)
        )
    return False
