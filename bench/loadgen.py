"""One load-generator process: raw HTTP/1.1 keep-alive connections on uvloop.

Each connection sends one request at a time (fixed concurrency). Requests that start
inside the measuring window are timed; every answer is checked against the exact
bytes the mock sent. Writes one JSON object with the raw figures.

    python bench/loadgen.py '{"port": 9100, "conns": 8, "out": "/tmp/t.json"}'
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from payloads import (  # noqa: E402
    MODEL,
    completion_body,
    request_body,
    stream_body,
    stream_text,
)

_SIZE, _DATA, _DATA_END, _LAST = range(4)
_GAP_SAMPLE = 20000


class Closed(Exception):
    """The server closed the connection before the answer was complete."""


class Answer:
    """One response as it arrives: status, body and when its parts came."""

    __slots__ = ("status", "body", "first", "marks", "chunked", "length", "done")

    def __init__(self) -> None:
        self.status = 0
        self.body = bytearray()
        self.first = 0.0
        self.marks: list[float] = []
        self.chunked = False
        self.length = -1
        self.done = False


class Conn(asyncio.Protocol):
    """A client connection that parses content-length and chunked answers."""

    def __init__(self) -> None:
        self.transport = None
        self.waiter: asyncio.Future | None = None
        self.answer: Answer | None = None
        self.buf = b""
        self.in_body = False
        self.state = _SIZE
        self.left = 0
        self.closed = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._fail(Closed())

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def send(self, data: bytes, timeout: float) -> asyncio.Future:
        """Write a request; the future resolves to its Answer."""
        loop = asyncio.get_running_loop()
        self.answer = Answer()
        self.in_body = False
        self.state = _SIZE
        self.buf = b""
        self.waiter = loop.create_future()
        self.timer = loop.call_later(timeout, self._fail, TimeoutError())
        self.transport.write(data)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None:
            return
        if not self.in_body:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self._head(answer, self.buf[:end])
            data = self.buf[end + 4 :]
            self.buf = b""
            self.in_body = True
        if data:
            if answer.chunked:
                self._chunked(answer, data)
            else:
                self._plain(answer, data)
        if answer.done and not self.waiter.done():
            self.timer.cancel()
            self.waiter.set_result(answer)

    def _head(self, answer: Answer, head: bytes) -> None:
        answer.status = int(head[9:12])
        lower = head.lower()
        answer.chunked = b"transfer-encoding: chunked" in lower
        at = lower.find(b"content-length:")
        if at >= 0:
            stop = lower.find(b"\r\n", at)
            answer.length = int(lower[at + 15 : stop if stop >= 0 else None])
            answer.done = answer.length == 0

    def _plain(self, answer: Answer, data: bytes) -> None:
        self._add(answer, data)
        if answer.length >= 0 and len(answer.body) >= answer.length:
            answer.done = True

    def _add(self, answer: Answer, piece: bytes) -> None:
        now = time.perf_counter()
        if not answer.body:
            answer.first = now
        tail = answer.body[-1:] + piece[:1]
        if b"\n\n" in piece or tail == b"\n\n":
            answer.marks.append(now)
        answer.body += piece

    def _chunked(self, answer: Answer, data: bytes) -> None:
        buf = self.buf + data
        self.buf = b""
        pos = 0
        while pos < len(buf):
            if self.state == _DATA:
                piece = buf[pos : pos + self.left]
                self._add(answer, piece)
                self.left -= len(piece)
                pos += len(piece)
                if self.left == 0:
                    self.state = _DATA_END
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                self.buf = buf[pos:]
                return
            if self.state == _SIZE:
                self.left = int(buf[pos:end].split(b";")[0], 16)
                self.state = _DATA if self.left else _LAST
            elif self.state == _DATA_END:
                self.state = _SIZE
            elif self.state == _LAST:
                answer.done = True
            pos = end + 2


@dataclass
class Plan:
    """What one process does."""

    host: str = "127.0.0.1"
    port: int = 9100
    path: str = "/v1/chat/completions"
    model: str = MODEL
    upstream_model: str = MODEL
    stream: bool = False
    chunks: int = 20
    delay_ms: int = 0
    conns: int = 1
    start_at: float = 0.0
    warmup: float = 0.5
    duration: float = 2.0
    per_conn: int = 0  # >0: exactly this many requests per connection, no window
    check: str = "exact"  # exact: bytes identical; content: same text re-encoded
    timeout: float = 60.0
    nonce_base: int = 0
    auth: str = "sk-bench-0000000000000000"


@dataclass
class Tally:
    """Raw figures gathered by one process; times in seconds from the common start."""

    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    mismatched: int = 0
    first_error: str = ""

    def error(self, kind: str, detail: str) -> None:
        """Count one failed request."""
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.first_error = self.first_error or detail


class Runner:
    """Drives the connections of one process according to its plan."""

    def __init__(self, plan: Plan, index: int) -> None:
        self.plan = plan
        self.tally = Tally()
        self.nonce = plan.nonce_base + index * 10_000_000
        self.head = (
            f"POST {plan.path} HTTP/1.1\r\nHost: {plan.host}:{plan.port}\r\n"
            f"Authorization: Bearer {plan.auth}\r\n"
            "Content-Type: application/json\r\nUser-Agent: kilo-bench/1\r\n"
            "Accept: */*\r\n"
        ).encode()
        self.zero = 0.0
        self.stop_at = 0.0

    async def connect(self) -> Conn:
        """Open one keep-alive connection."""
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(Conn, self.plan.host, self.plan.port)
        return conn

    def build(self) -> tuple[int, bytes]:
        """The next request's nonce and bytes."""
        self.nonce += 1
        plan = self.plan
        body = request_body(
            plan.model, self.nonce, plan.stream, plan.chunks, plan.delay_ms
        )
        return self.nonce, b"%sContent-Length: %d\r\n\r\n%s" % (
            self.head,
            len(body),
            body,
        )

    async def run(self) -> Tally:
        """Connect, wait for the common start, then drive every connection."""
        plan = self.plan
        conns = await asyncio.gather(*(self.connect() for _ in range(plan.conns)))
        plan.start_at = plan.start_at or time.time()
        await asyncio.sleep(max(0.0, plan.start_at - time.time()))
        # The same zero in every process: the wall-clock start, on this clock.
        self.zero = time.perf_counter() - (time.time() - plan.start_at)
        self.stop_at = self.zero + plan.warmup + plan.duration
        await asyncio.gather(*(self.drive(conn) for conn in conns))
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
        return self.tally

    async def drive(self, conn: Conn) -> None:
        """Send requests one after another on one connection."""
        done = 0
        while True:
            if self.plan.per_conn:
                if done >= self.plan.per_conn:
                    return
            elif time.perf_counter() >= self.stop_at:
                return
            done += 1
            conn = await self.one(conn)

    async def one(self, conn: Conn) -> Conn:
        """Send one request, time it and check it; returns a usable connection."""
        nonce, data = self.build()
        tally = self.tally
        if conn.closed:
            conn = await self.connect()
        start = time.perf_counter()
        tally.sent += 1
        try:
            answer = await conn.send(data, self.plan.timeout)
        except (Closed, OSError, TimeoutError) as exc:
            tally.error(type(exc).__name__, repr(exc))
            conn.transport.close()
            return await self.connect()
        end = time.perf_counter()
        self.settle(nonce, answer, start, end)
        return conn

    def settle(self, nonce: int, answer: Answer, start: float, end: float) -> None:
        """Check one answer and keep its timings."""
        tally = self.tally
        if answer.status != 200:
            tally.error(f"http_{answer.status}", bytes(answer.body[:300]).decode())
            return
        if not self.matches(nonce, bytes(answer.body)):
            tally.mismatched += 1
            tally.first_error = tally.first_error or bytes(answer.body[:300]).decode()
            return
        tally.ok += 1
        tally.starts.append(round(start - self.zero, 6))
        tally.ends.append(round(end - self.zero, 6))
        tally.ttfb.append(round((answer.first - start) * 1000.0, 4))
        tally.spread.append(self.spread(answer.marks))

    def spread(self, marks: list[float]) -> float:
        """Mean time between chunk arrivals in ms (-1 if not a stream); keeps gaps."""
        if not self.plan.stream or len(marks) < 2:
            return -1.0
        if len(self.tally.gaps) < _GAP_SAMPLE:
            self.tally.gaps.extend(
                round((b - a) * 1000.0, 4)
                for a, b in zip(marks, marks[1:], strict=False)
            )
        return round((marks[-1] - marks[0]) * 1000.0 / max(1, self.plan.chunks - 1), 4)

    def matches(self, nonce: int, body: bytes) -> bool:
        """Whether the body is what the mock sent for this nonce."""
        plan = self.plan
        if plan.check == "exact":
            if plan.stream:
                expected = stream_body(plan.upstream_model, nonce, plan.chunks, True)
            else:
                expected = completion_body(plan.upstream_model, nonce, plan.chunks)
            return body == expected
        return _content_of(body, plan.stream) == stream_text(nonce, plan.chunks)


def _content_of(body: bytes, stream: bool) -> str:
    """The assistant text of an answer however it was encoded."""
    try:
        if not stream:
            return json.loads(body)["choices"][0]["message"]["content"]
        parts = []
        for line in body.split(b"\n"):
            if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
                continue
            for choice in json.loads(line[5:]).get("choices") or ():
                parts.append((choice.get("delta") or {}).get("content") or "")
        return "".join(parts)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""


def main() -> None:
    """Run the plan given as JSON; write the tally as JSON to the file it names."""
    raw = json.loads(sys.argv[1])
    index = int(raw.pop("index", 0))
    out = Path(raw.pop("out"))
    plan = Plan(**raw)
    import uvloop

    tally = uvloop.run(Runner(plan, index).run())
    # A file, not stdout: the event loop leaves stdout non-blocking, and a full pipe
    # would cut the figures short.
    out.write_text(json.dumps(tally.__dict__))


if __name__ == "__main__":
    main()
