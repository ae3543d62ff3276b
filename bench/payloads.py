"""The benchmark's requests and the exact answers the mock gives to them.

Both the mock and the load generator build bytes here, so a client can check that
what reached it through a gateway is, byte for byte, what the mock sent.
"""

from __future__ import annotations

import json
import re

MODEL = "gpt-4o-mini"
CREATED = 1700000000
PROMPT_TOKENS = 12
# The request's only message carries the nonce and the stream's shape, so a
# gateway that forwards messages unchanged also forwards the mock's instructions.
_SHAPE = re.compile(rb"bench n=(\d+) chunks=(\d+) delay=(\d+)")
_MODEL = re.compile(rb'"model"\s*:\s*"([^"]+)"')
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_INCLUDE_USAGE = re.compile(rb'"include_usage"\s*:\s*true')


def request_body(
    model: str, nonce: int, stream: bool, chunks: int = 20, delay_ms: int = 0
) -> bytes:
    """The JSON body a bench client sends."""
    payload: dict = {
        "model": model,
        "messages": [
            {
                "role": "user",
                "content": f"bench n={nonce} chunks={chunks} delay={delay_ms}",
            }
        ],
    }
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return json.dumps(payload, separators=(",", ":")).encode()


def parse_request(body: bytes) -> tuple[str, int, bool, bool, int, int]:
    """Model, nonce, stream, include_usage, chunks and delay (ms) from a body."""
    shape = _SHAPE.search(body)
    nonce, chunks, delay = (int(g) for g in shape.groups()) if shape else (0, 3, 0)
    found = _MODEL.search(body)
    model = found.group(1).decode() if found else MODEL
    stream = _STREAM.search(body) is not None
    usage = _INCLUDE_USAGE.search(body) is not None
    return model, nonce, stream, usage, chunks, delay


def _usage(chunks: int) -> str:
    total = PROMPT_TOKENS + chunks
    return (
        f'{{"prompt_tokens":{PROMPT_TOKENS},"completion_tokens":{chunks},'
        f'"total_tokens":{total},"prompt_tokens_details":{{"cached_tokens":0}},'
        '"completion_tokens_details":{"reasoning_tokens":0}}'
    )


def completion_body(model: str, nonce: int, chunks: int) -> bytes:
    """A whole chat completion answer."""
    text = "".join(_token(i, nonce) for i in range(chunks))
    return (
        f'{{"id":"chatcmpl-{nonce}","object":"chat.completion","created":{CREATED},'
        f'"model":"{model}","choices":[{{"index":0,"message":{{"role":"assistant",'
        f'"content":"{text}"}},"finish_reason":"stop"}}],"usage":{_usage(chunks)}}}'
    ).encode()


def _token(i: int, nonce: int) -> str:
    return f"tok{i}-{nonce} "


def stream_events(model: str, nonce: int, chunks: int, usage: bool) -> list[bytes]:
    """The SSE writes of a streamed answer; the last one also ends the stream."""
    head = (
        f'data: {{"id":"chatcmpl-{nonce}","object":"chat.completion.chunk",'
        f'"created":{CREATED},"model":"{model}","system_fingerprint":"fp_bench",'
        '"choices":[{"index":0,'
    )
    events = [
        f'{head}"delta":{{"content":"{_token(i, nonce)}"}},"logprobs":null,'
        '"finish_reason":null}]}\n\n'
        for i in range(chunks)
    ]
    tail = f'{head}"delta":{{}},"logprobs":null,"finish_reason":"stop"}}]}}\n\n'
    if usage:
        tail += (
            f'data: {{"id":"chatcmpl-{nonce}","object":"chat.completion.chunk",'
            f'"created":{CREATED},"model":"{model}","system_fingerprint":"fp_bench",'
            f'"choices":[],"usage":{_usage(chunks)}}}\n\n'
        )
    tail += "data: [DONE]\n\n"
    if events:
        events[-1] += tail
    else:
        events.append(tail)
    return [e.encode() for e in events]


def stream_body(model: str, nonce: int, chunks: int, usage: bool) -> bytes:
    """The whole body of a streamed answer, as the client should receive it."""
    return b"".join(stream_events(model, nonce, chunks, usage))


def stream_text(nonce: int, chunks: int) -> str:
    """The content a streamed answer spells out, for gateways that re-encode it."""
    return "".join(_token(i, nonce) for i in range(chunks))
