"""A fast mock OpenAI provider for the benchmark: raw asyncio on uvloop.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length request bodies) to answer
chat completions as JSON or as SSE streams whose chunk count and spacing the request
names. It must cost far less CPU per request than any gateway it feeds.

    python bench/mock.py --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from payloads import completion_body, parse_request, stream_events  # noqa: E402

_JSON_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"x-request-id: bench\r\nContent-Length: "
)
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\nx-request-id: bench\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_HEALTH = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
_END = b"0\r\n\r\n"


def _framed(data: bytes) -> bytes:
    """One chunk of chunked transfer encoding."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class MockProtocol(asyncio.Protocol):
    """One client connection: parse requests in turn, answer each."""

    __slots__ = ("transport", "buffer", "timer", "pending", "busy", "loop")

    def __init__(self) -> None:
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None
        self.pending: list[bytes] = []
        self.busy = False
        self.transport = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next_request()

    def _next_request(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end]
        length = _content_length(head)
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        body = self.buffer[end + 4 : total]
        self.buffer = self.buffer[total:]
        self._answer(head, body)

    def _answer(self, head: bytes, body: bytes) -> None:
        line = head[: head.find(b"\r\n")]
        if line.startswith(b"GET "):
            self.transport.write(_HEALTH if b"/health" in line else _NOT_FOUND)
            return self._next_request()
        if b"/chat/completions" not in line:
            self.transport.write(_NOT_FOUND)
            return self._next_request()
        model, nonce, stream, usage, chunks, delay = parse_request(body)
        if not stream:
            payload = completion_body(model, nonce, chunks)
            self.transport.write(
                b"%s%d\r\n\r\n%s" % (_JSON_HEAD, len(payload), payload)
            )
            return self._next_request()
        events = stream_events(model, nonce, chunks, usage)
        if delay <= 0:
            framed = b"".join(_framed(e) for e in events)
            self.transport.write(_STREAM_HEAD + framed + _END)
            return self._next_request()
        self.busy = True
        self.transport.write(_STREAM_HEAD + _framed(events[0]))
        self.pending = events[1:]
        self._schedule(delay / 1000.0)

    def _schedule(self, delay: float) -> None:
        self.timer = self.loop.call_later(delay, self._tick, delay)

    def _tick(self, delay: float) -> None:
        self.timer = None
        if self.transport is None:
            return
        if self.pending:
            self.transport.write(_framed(self.pending.pop(0)))
        if self.pending:
            self._schedule(delay)
            return
        self.transport.write(_END)
        self.busy = False
        self._next_request()


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    start = at + 17
    stop = lower.find(b"\r\n", start)
    return int(lower[start : stop if stop >= 0 else None])


async def serve(host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        MockProtocol, host, port, reuse_address=True, backlog=4096
    )
    print(f"mock listening on {host}:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
