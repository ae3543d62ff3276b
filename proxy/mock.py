"""A mock provider on loopback speaking OpenAI, Anthropic and Gemini wire formats.

It answers with realistic usage, streams at a configurable token rate, injects faults
on request (the `x-mock-fault` header), and can replay a recorded answer exactly.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import time
import zlib
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

FAULTS = (
    "status:NNN",  # answer with that status and a provider-shaped error body
    "hang",  # accept and never answer
    "stall",  # start a stream, then go silent
    "cut",  # end a stream in the middle of an event
    "error-event",  # an error event inside a 200 stream
    "bad-json",  # a 200 whose body is not JSON
    "bad-utf8",  # a 200 answer with invalid UTF-8 inside its text
    "gzip",  # a gzip-encoded answer, whole or streamed
    "close",  # accept the request, then close the connection without answering
    "slow-read",  # read the request body slowly, as a congested provider does
)
# Where a request keeps what the mock saw of it, for the writes that follow.
_SEEN = web.RequestKey("mock.received", object)
# How fast "slow-read" takes in a request body.
SLOW_READ_BYTES = 256 * 1024
SLOW_READ_PAUSE = 0.01


@dataclass(slots=True)
class Received:
    """One request as the mock saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    # Every byte the mock wrote back, in order, for byte-exact comparisons.
    sent: bytearray = field(default_factory=bytearray)

    @property
    def json(self) -> dict | None:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(slots=True)
class Ended:
    """How the mock's handling of one request ended, and when."""

    path: str
    # "finished", "cancelled" (the caller went away) or the exception's name.
    outcome: str
    at: float  # time.monotonic()


@dataclass(slots=True)
class Scripted:
    """An exact answer to give: status, headers, and a body or chunks to stream."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    chunks: list[bytes] = field(default_factory=list)
    chunk_delay: float = 0.0


@dataclass(slots=True)
class MockOptions:
    """How generated answers behave."""

    tokens_per_second: float = 0.0  # 0 streams as fast as it can
    chunks: int = 8
    output_tokens: int = 64
    seed: int | None = None


class MockProvider:
    """An aiohttp server on 127.0.0.1 that imitates the providers' wire formats."""

    def __init__(self, options: MockOptions | None = None) -> None:
        self.options = options or MockOptions()
        self.received: list[Received] = []
        self.script: deque[Scripted] = deque()
        self.keep_received = True
        # Requests being handled now, and how each finished handling ended.
        self.active = 0
        self.ended: list[Ended] = []
        self._random = random.Random(self.options.seed)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The mock's root URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        """Listen on loopback; port 0 picks a free one."""
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        # A deep accept queue: a load test opens hundreds of connections at once.
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def replay(self, upstream: dict) -> None:
        """Queue the exact answer of a case's `upstream` section."""
        chunks = [_chunk_bytes(c) for c in upstream.get("chunks", [])]
        body = upstream.get("body")
        raw = json.dumps(body).encode() if body is not None else None
        self.script.append(
            Scripted(
                upstream.get("status", 200), upstream.get("headers", {}), raw, chunks
            )
        )

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        outcome = "finished"
        try:
            return await self._answer(request)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self.active -= 1
            self.ended.append(Ended(request.path, outcome, time.monotonic()))

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("x-mock-fault") == "slow-read":
            body = await _read_slowly(request)
        else:
            body = await request.read()
        if self.keep_received:
            seen = Received(
                request.method,
                request.path,
                request.query_string,
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
            self.received.append(seen)
            request[_SEEN] = seen
        if self.script:
            return await _play(request, self.script.popleft())
        return await self._generate(request, body)

    async def _generate(self, request: web.Request, body: bytes) -> web.StreamResponse:
        fault = request.headers.get("x-mock-fault", "")
        dialect = _dialect(request.path)
        # A provider's thinking time before its first byte, for realistic demos.
        delay_ms = _number(request.headers.get("x-mock-delay-ms"))
        if delay_ms > 0:
            await asyncio.sleep(min(delay_ms, 60_000) / 1000)
        if fault.startswith("status:"):
            return _error(dialect, int(fault.split(":", 1)[1]))
        if fault == "hang":
            await asyncio.sleep(3600)
        if fault == "close":
            request.transport.close()
            await asyncio.sleep(3600)
        if fault == "bad-json":
            return web.Response(body=b"{not json", content_type="application/json")
        if request.method == "GET":
            return web.json_response({"object": "list", "data": _MODELS})
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return _error(dialect, 400)
        stream = (
            payload.get("stream") is True or "streamGenerateContent" in request.path
        )
        plan = self._plan(payload, request)
        if not stream:
            answer = _whole(dialect, plan)
            data = json.dumps(answer).encode()
            if fault == "bad-utf8":
                data = data.replace(b"the ", b"th\xff\xfe ", 1)
            if fault == "gzip":
                return web.Response(
                    body=gzip.compress(data),
                    headers={
                        "content-type": "application/json",
                        "content-encoding": "gzip",
                    },
                )
            return web.Response(body=data, content_type="application/json")
        events = _stream_events(dialect, plan, payload)
        return await self._stream(request, events, fault)

    def _plan(self, payload: dict, request: web.Request) -> dict:
        text = json.dumps(payload.get("messages") or payload.get("contents") or "")
        wanted = request.headers.get("x-mock-output-tokens")
        output = int(wanted) if wanted else self.options.output_tokens
        cached = int(request.headers.get("x-mock-cached-tokens", "0"))
        return {
            "model": payload.get("model") or _path_model(request.path) or "mock-model",
            "input": max(1, len(text) // 4) + cached,
            "cached": cached,
            "output": output,
            "chunks": max(1, min(self.options.chunks, output)),
        }

    async def _stream(
        self, request: web.Request, events: list[bytes], fault: str
    ) -> web.StreamResponse:
        headers = {"content-type": "text/event-stream"}
        if fault == "gzip":
            headers["content-encoding"] = "gzip"
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        write = _writer(request, response, gzipped=fault == "gzip")
        delay = self._delay(len(events))
        for index, event in enumerate(events):
            if fault == "stall" and index == len(events) // 2:
                await asyncio.sleep(3600)
            if fault == "cut" and index == len(events) // 2:
                await write(event[: len(event) // 2])
                request.transport.close()
                return response
            if fault == "error-event" and index == len(events) // 2:
                await write(_error_event(_dialect(request.path)))
                break
            if fault == "bad-utf8" and index == 1:
                event = event.replace(b"data: ", b"data: \xff\xfe", 1)
            await write(event)
            if delay:
                await asyncio.sleep(delay)
        await write(b"", last=True)
        await response.write_eof()
        return response

    def _delay(self, count: int) -> float:
        rate = self.options.tokens_per_second
        if rate <= 0:
            return 0.0
        return self.options.output_tokens / rate / max(1, count)


def _writer(request: web.Request, response: web.StreamResponse, gzipped: bool):
    """A write function that keeps a copy of what was sent, gzip-encoded if asked."""
    seen: Received | None = request.get(_SEEN)
    packer = zlib.compressobj(wbits=31) if gzipped else None

    async def write(data: bytes, last: bool = False) -> None:
        if seen is not None:
            seen.sent += data
        if packer is not None:
            # A sync flush per event keeps a compressed stream streaming.
            data = packer.compress(data) + packer.flush(
                zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH
            )
        if data:
            await response.write(data)

    return write


async def _read_slowly(request: web.Request) -> bytes:
    """The whole body, taken in at a trickle."""
    parts = []
    while chunk := await request.content.read(SLOW_READ_BYTES):
        parts.append(chunk)
        await asyncio.sleep(SLOW_READ_PAUSE)
    return b"".join(parts)


async def _play(request: web.Request, scripted: Scripted) -> web.StreamResponse:
    if not scripted.chunks:
        return web.Response(
            status=scripted.status, body=scripted.body or b"", headers=scripted.headers
        )
    response = web.StreamResponse(status=scripted.status, headers=scripted.headers)
    await response.prepare(request)
    for chunk in scripted.chunks:
        await response.write(chunk)
        await asyncio.sleep(scripted.chunk_delay)
    await response.write_eof()
    return response


def _chunk_bytes(chunk: str | dict) -> bytes:
    if isinstance(chunk, dict):
        return bytes.fromhex(chunk["hex"])
    return chunk.encode()


def _number(text: str | None) -> float:
    """A header's number, 0 when it is missing or not a number."""
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0


def _dialect(path: str) -> str:
    if path.endswith("/messages") or "/messages/" in path:
        return "anthropic"
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    return "openai"


def _path_model(path: str) -> str | None:
    if "models/" not in path:
        return None
    return path.split("models/", 1)[1].split(":", 1)[0]


def _error(dialect: str, status: int) -> web.Response:
    message = f"mock provider error {status}"
    if dialect == "anthropic":
        kind = "overloaded_error" if status == 529 else "api_error"
        body = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        body = {"error": {"message": message, "type": "mock_error", "code": status}}
    headers = {"retry-after": "1"} if status in (429, 503, 529) else {}
    if status == 429:
        headers["x-ratelimit-remaining-requests"] = "0"
    headers["x-mock-request-id"] = f"req-{status}"
    return web.json_response(body, status=status, headers=headers)


def _error_event(dialect: str) -> bytes:
    if dialect == "anthropic":
        error = {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
        }
        return b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n"
    return b'data: {"error": {"message": "upstream overloaded", "code": 502}}\n\n'


def _words(count: int) -> list[str]:
    vocabulary = ("the ", "gateway ", "records ", "every ", "token ", "and ", "cost ")
    return [vocabulary[i % len(vocabulary)] for i in range(count)]


def _whole(dialect: str, plan: dict) -> dict:
    text = "".join(_words(plan["output"]))
    if dialect == "anthropic":
        return {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": plan["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": _anthropic_usage(plan),
        }
    if dialect == "gemini":
        return {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}],
            "usageMetadata": _gemini_usage(plan),
            "modelVersion": plan["model"],
        }
    return {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1767000000,
        "model": plan["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": _openai_usage(plan),
    }


def _openai_usage(plan: dict) -> dict:
    return {
        "prompt_tokens": plan["input"],
        "completion_tokens": plan["output"],
        "total_tokens": plan["input"] + plan["output"],
        "prompt_tokens_details": {"cached_tokens": plan["cached"]},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _anthropic_usage(plan: dict) -> dict:
    return {
        "input_tokens": plan["input"] - plan["cached"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": plan["cached"],
        "output_tokens": plan["output"],
    }


def _gemini_usage(plan: dict) -> dict:
    return {
        "promptTokenCount": plan["input"],
        "cachedContentTokenCount": plan["cached"],
        "candidatesTokenCount": plan["output"],
        "totalTokenCount": plan["input"] + plan["output"],
    }


def _stream_events(dialect: str, plan: dict, payload: dict) -> list[bytes]:
    words = _words(plan["output"])
    per = max(1, len(words) // plan["chunks"])
    pieces = ["".join(words[i : i + per]) for i in range(0, len(words), per)]
    if dialect == "anthropic":
        return _anthropic_events(plan, pieces)
    if dialect == "gemini":
        return [_data(_gemini_piece(plan, p, last=False)) for p in pieces[:-1]] + [
            _data(_gemini_piece(plan, pieces[-1], last=True))
        ]
    return _openai_events(plan, pieces, payload)


def _data(obj: dict) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _gemini_piece(plan: dict, text: str, last: bool) -> dict:
    piece = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}],
        "modelVersion": plan["model"],
    }
    if last:
        # Gemini closes a stream with the finish reason and the final usage.
        piece["candidates"][0]["finishReason"] = "STOP"
        piece["usageMetadata"] = _gemini_usage(plan)
    return piece


def _openai_events(plan: dict, pieces: list[str], payload: dict) -> list[bytes]:
    options = payload.get("stream_options") or {}
    with_usage = isinstance(options, dict) and options.get("include_usage") is True
    base = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1767000000,
        "model": plan["model"],
    }
    events = []
    for index, text in enumerate(pieces):
        delta = {"content": text} if index else {"role": "assistant", "content": text}
        chunk = dict(
            base, choices=[{"index": 0, "delta": delta, "finish_reason": None}]
        )
        if with_usage:
            chunk["usage"] = None
        events.append(_data(chunk))
    events.append(
        _data(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    )
    if with_usage:
        events.append(_data(dict(base, choices=[], usage=_openai_usage(plan))))
    events.append(b"data: [DONE]\n\n")
    return events


def _anthropic_events(plan: dict, pieces: list[str]) -> list[bytes]:
    usage = _anthropic_usage(plan)
    start_usage = dict(usage, output_tokens=1)
    message = {
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": plan["model"],
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    events = [
        _event("message_start", {"type": "message_start", "message": message}),
        _event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    for text in pieces:
        delta = {"type": "text_delta", "text": text}
        events.append(
            _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": delta},
            )
        )
    events += [
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": plan["output"]},
            },
        ),
        _event("message_stop", {"type": "message_stop"}),
    ]
    return events


def _event(name: str, obj: dict) -> bytes:
    return f"event: {name}\ndata: ".encode() + json.dumps(obj).encode() + b"\n\n"


_MODELS = [
    {"id": "mock-small", "object": "model", "owned_by": "mock"},
    {"id": "mock-large", "object": "model", "owned_by": "mock"},
]
