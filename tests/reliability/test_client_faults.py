"""Client faults: disconnects at every stage, and every kind of bad request."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time

import httpx
import pytest

from tests.conftest import point_at, stored_records
from tests.reliability.helpers import eventually

pytestmark = pytest.mark.reliability

CHAT = "/v1/chat/completions"
SAY_OK = [{"role": "user", "content": "Say ok."}]
PROVIDER_KEY = "sk-openai-client-fault-0003"
UPLOAD = 30 * 1024 * 1024


@pytest.fixture
async def gateway(start_gateway, mock_provider):
    """A gateway sending OpenAI and Anthropic traffic to the mock."""
    config = point_at(mock_provider, "openai", "/v1")
    config["providers"]["anthropic"] = {"base_url": mock_provider.url}
    return await start_gateway(
        config, keys={"openai": PROVIDER_KEY, "anthropic": PROVIDER_KEY}
    )


class RawClient:
    """A client on a bare socket, so a test decides exactly when it goes away."""

    def __init__(self, gateway) -> None:
        self.port = gateway.port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.closed_at = 0.0

    async def send_head(
        self, body_size: int, headers: dict | None = None, path: str = CHAT
    ) -> None:
        """Connect and send the request line and headers of a POST."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {body_size}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def send(self, data: bytes) -> None:
        """Send part of the body."""
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, payload: dict, headers: dict | None = None) -> None:
        """Send a whole request."""
        body = json.dumps(payload).encode()
        await self.send_head(len(body), headers)
        await self.send(body)

    async def leave(self) -> None:
        """Go away without a word, as a killed client does."""
        self.closed_at = time.monotonic()
        self.writer.close()
        await self.writer.wait_closed()


def _chat(stream: bool = False, **extra) -> dict:
    return {"model": "openai/gpt-4o", "messages": SAY_OK, "stream": stream, **extra}


def _task_count() -> int:
    return len(asyncio.all_tasks())


async def _settled_tasks(baseline: int) -> bool:
    """Whether the loop is back to the tasks it ran before the request."""
    return await eventually(lambda: _task_count() <= baseline, timeout=3)


async def _record_when_written(gateway) -> dict:
    records = await eventually(lambda: stored_records(gateway))
    (record,) = records
    return record


async def _cancelled_upstream_within_a_second(mock, client: RawClient) -> None:
    """The provider saw its request end soon after the client went away."""
    ended = await eventually(lambda: mock.ended, timeout=3)
    (end,) = ended
    assert end.outcome != "finished"
    assert end.at - client.closed_at < 1.0
    assert mock.active == 0


async def test_disconnect_before_the_answer_cancels_upstream(gateway, mock_provider):
    baseline = _task_count()
    client = RawClient(gateway)
    await client.request(_chat(), {"x-mock-delay-ms": "10000"})
    assert await eventually(lambda: mock_provider.active == 1)

    await client.leave()

    await _cancelled_upstream_within_a_second(mock_provider, client)
    record = await _record_when_written(gateway)
    assert record["status"] == "client_disconnected"
    assert record["cost_usd"] == "0"
    assert await _settled_tasks(baseline)


@pytest.mark.parametrize("path", [CHAT, "/v1/messages"])
async def test_disconnect_mid_stream_cancels_upstream(gateway, mock_provider, path):
    mock_provider.options.tokens_per_second = 50
    mock_provider.options.chunks = 50
    mock_provider.options.output_tokens = 100
    baseline = _task_count()
    client = RawClient(gateway)
    payload = _chat(stream=True)
    if path != CHAT:
        payload["model"] = "claude-sonnet-4-5"
    body = json.dumps(payload).encode()
    await client.send_head(len(body), path=path)
    await client.send(body)
    await client.reader.readuntil(b"\r\n\r\n")
    await client.reader.readuntil(b"\n\n")
    await asyncio.sleep(0.1)

    await client.leave()

    await _cancelled_upstream_within_a_second(mock_provider, client)
    assert mock_provider.ended[0].path == path
    record = await _record_when_written(gateway)
    assert record["status"] == "client_disconnected"
    assert record["output_tokens"] > 0
    assert record["cost_source"] == "estimated"
    assert await _settled_tasks(baseline)


async def test_disconnect_during_a_30mb_upload_to_the_gateway(gateway, mock_provider):
    baseline = _task_count()
    client = RawClient(gateway)
    await client.send_head(UPLOAD)
    await client.send(b'{"model": "openai/gpt-4o", "messages": [], "pad": "')
    await client.send(b"x" * (UPLOAD // 3))

    await client.leave()

    record = await _record_when_written(gateway)
    assert record["status"] == "client_disconnected"
    if mock_provider.ended:  # a gateway that streams bodies has started upstream
        await _cancelled_upstream_within_a_second(mock_provider, client)
    assert mock_provider.active == 0
    assert await _settled_tasks(baseline)


async def test_disconnect_while_the_30mb_body_goes_upstream(gateway, mock_provider):
    baseline = _task_count()
    client = RawClient(gateway)
    pad = "x" * UPLOAD
    await client.request(_chat(pad=pad), {"x-mock-fault": "slow-read"})
    assert await eventually(lambda: mock_provider.active == 1)
    await asyncio.sleep(0.1)

    await client.leave()

    await _cancelled_upstream_within_a_second(mock_provider, client)
    assert mock_provider.received == []
    record = await _record_when_written(gateway)
    assert record["status"] == "client_disconnected"
    assert await _settled_tasks(baseline)


async def _post(gateway, content: bytes, headers: dict | None = None, path=CHAT):
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
        return await http.post(path, content=content, headers=headers or {})


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe{}", b"{" * 100_000],
    ids=["malformed", "empty", "array", "string", "bad-utf8", "deep"],
)
async def test_bad_json_bodies_are_400_with_a_record(gateway, mock_provider, body):
    answer = await _post(gateway, body, {"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"
    (record,) = await stored_records(gateway)
    assert record["status"] == 400
    assert mock_provider.received == []


@pytest.mark.parametrize(
    "model", [5, None, ["openai/gpt-4o"], {"id": "x"}, "", True], ids=repr
)
async def test_model_that_is_not_a_string_is_400(gateway, mock_provider, model):
    body = json.dumps({"model": model, "messages": SAY_OK}).encode()
    answer = await _post(gateway, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_model"
    assert len(await stored_records(gateway)) == 1


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"],
)
async def test_wrong_content_type_is_forwarded_as_sent(
    gateway, mock_provider, content_type
):
    body = json.dumps(_chat()).encode()
    answer = await _post(gateway, body, {"content-type": content_type})
    assert answer.status_code == 200
    (seen,) = mock_provider.received
    assert seen.headers["content-type"] == content_type
    (record,) = await stored_records(gateway)
    assert record["status"] == 200


async def test_body_over_the_limit_is_413_declared_or_chunked(start_gateway):
    gateway = await start_gateway({"server": {"max_body_bytes": 64 * 1024}})
    big = b'{"model": "openai/gpt-4o", "pad": "' + b"x" * 200_000 + b'"}'

    declared = await _post(gateway, big)

    async def chunks():
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
        chunked = await http.post(CHAT, content=chunks())
    for answer in (declared, chunked):
        assert answer.status_code == 413
        assert "max_body_bytes" in answer.json()["error"]["message"]
    assert [r["status"] for r in await stored_records(gateway)] == [413, 413]


async def test_default_limit_refuses_a_33mb_body(gateway, mock_provider):
    big = b'{"model": "openai/gpt-4o", "pad": "' + b"x" * (33 << 20) + b'"}'
    answer = await _post(gateway, big)
    assert answer.status_code == 413
    assert mock_provider.received == []


async def test_large_image_request_is_forwarded_byte_identical(gateway, mock_provider):
    image = base64.b64encode(os.urandom(1_100_000)).decode()
    content = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}},
    ]
    body = json.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]},
        separators=(",", ":"),
    ).encode()
    assert len(body) > 1_400_000

    answer = await _post(gateway, body, {"content-type": "application/json"})

    assert answer.status_code == 200
    (seen,) = mock_provider.received
    assert seen.body == body
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["content-length"] == str(len(body))
    prefixed = body.replace(b'"gpt-4o"', b'"openai/gpt-4o"', 1)
    mock_provider.received.clear()
    assert (await _post(gateway, prefixed)).status_code == 200
    assert mock_provider.received[0].body == body


async def test_non_ascii_in_every_field(gateway, mock_provider):
    payload = {
        "model": "openai/gpt-4o-ünï",
        "messages": [{"role": "user", "content": "Grüße, 你好, привет 👋"}],
        "user": "José",
        "metadata": {"ключ": "値"},
    }
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {
        "x-kilo-project": "Café ☕".encode(),
        "x-kilo-surface": "工具".encode(),
        "user-agent": "agent/ñ".encode(),
        "x-title": "Tïtle".encode(),
    }

    answer = await _post(gateway, body, headers)

    assert answer.status_code == 200
    (seen,) = mock_provider.received
    assert seen.json == dict(payload, model="gpt-4o-ünï")
    assert seen.headers["user-agent"] == "agent/ñ"
    (record,) = await stored_records(gateway)
    assert record["model"] == "gpt-4o-ünï"
    assert record["project"] == "Café ☕"
    assert record["surface"] == "工具"


@pytest.mark.parametrize(
    "model",
    ["\ud800", "openai/gpt-4o\udfff", "nosuch\ud83d-model"],
    ids=["lone", "prefixed", "unknown"],
)
async def test_lone_surrogates_in_the_model_never_break_the_log(
    gateway, mock_provider, model
):
    bad = json.dumps({"model": model, "messages": SAY_OK}).encode()
    good = json.dumps(_chat()).encode()

    answers = [await _post(gateway, bad), await _post(gateway, good)]

    assert answers[0].status_code in (200, 404)
    answers[0].json()  # a well-formed answer whatever the status
    assert answers[1].status_code == 200
    records = await stored_records(gateway)
    assert len(records) == 2
    assert records[1]["status"] == 200


async def test_header_bytes_that_are_not_utf8_are_forwarded(gateway, mock_provider):
    body = json.dumps(_chat()).encode()
    headers = {"x-kilo-project": b"Caf\xe9", "x-custom": b"Caf\xe9 \xff"}

    answer = await _post(gateway, body, headers)

    assert answer.status_code == 200
    (record,) = await stored_records(gateway)
    assert record["project"].startswith("Caf")
