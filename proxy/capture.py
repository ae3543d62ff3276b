"""A bounded, in-memory copy of recent requests' headers and bodies, for inspection.

Off by default: the console turns it on to show a request in detail. Credentials are
masked before anything is kept, and nothing here is ever written to disk.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-goog-api-key", "proxy-authorization", "cookie"}
)


@dataclass(slots=True)
class Capture:
    """One request and its answer, as far as the gateway saw them."""

    request_headers: dict[str, str]
    request_body: bytes
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytearray = field(default_factory=bytearray)
    truncated: bool = False


class CaptureBuffer:
    """Keeps the newest requests, each body cut at a limit, oldest dropped first."""

    def __init__(self, size: int = 200, body_limit: int = 256 * 1024) -> None:
        self.size = size
        self.body_limit = body_limit
        self._items: OrderedDict[str, Capture] = OrderedDict()

    def begin(self, record_id: str, headers, body: bytes) -> None:
        """Keep a request as the client sent it, credentials masked."""
        kept = body[: self.body_limit]
        self._items[record_id] = Capture(masked_headers(headers), kept)
        self._items[record_id].truncated = len(body) > len(kept)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def answer(self, record_id: str, headers) -> None:
        """Keep the provider's response headers."""
        capture = self._items.get(record_id)
        if capture is not None:
            capture.response_headers = masked_headers(headers)

    def body(self, record_id: str, chunk: bytes) -> None:
        """Append response bytes up to the limit."""
        capture = self._items.get(record_id)
        if capture is None:
            return
        room = self.body_limit - len(capture.response_body)
        if room <= 0:
            capture.truncated = True
            return
        capture.response_body += chunk[:room]

    def get(self, record_id: str) -> Capture | None:
        """The capture of a recent request, if it is still kept."""
        return self._items.get(record_id)


def masked_headers(headers) -> dict[str, str]:
    """Headers with every credential cut to its last four characters."""
    return {
        name: mask(value) if name.lower() in SECRET_HEADERS else value
        for name, value in headers.items()
    }


def mask(secret: str) -> str:
    """A secret as "…abcd"; short ones are hidden whole."""
    return "…" + secret[-4:] if len(secret) > 12 else "…"
