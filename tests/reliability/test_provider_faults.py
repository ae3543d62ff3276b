"""Provider faults: what the client gets and what the log keeps, for each."""

from __future__ import annotations

import gzip
import json
import time

import httpx
import pytest

from tests.conftest import point_at, stored_records
from tests.reliability.helpers import free_port

pytestmark = pytest.mark.reliability

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
SAY_OK = [{"role": "user", "content": "Say ok."}]
STATUSES = (400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529)
OPENAI_KEY = "sk-openai-fault-secret-0001"
ANTHROPIC_KEY = "sk-ant-fault-secret-0002"


@pytest.fixture
async def gateway(start_gateway, mock_provider):
    """A gateway sending OpenAI, Anthropic and OpenRouter traffic to the mock."""
    config = point_at(mock_provider, "openai", "/v1")
    config["providers"]["anthropic"] = {"base_url": mock_provider.url}
    config["providers"]["openrouter"] = {"base_url": mock_provider.url + "/api/v1"}
    config["server"] = {"idle_timeout": 0.5}
    keys = {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY, "openrouter": OPENAI_KEY}
    return await start_gateway(config, keys=keys)


def _chat(
    stream: bool = False, model: str = "openai/gpt-4o", usage: bool = False
) -> dict:
    body = {"model": model, "messages": SAY_OK, "stream": stream}
    if usage:
        # Asked for, the usage chunk is not removed, so bytes compare exactly.
        body["stream_options"] = {"include_usage": True}
    return body


def _messages(stream: bool = False) -> dict:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": SAY_OK}
    return body | {"stream": stream}


async def _send(gateway, path: str, payload: dict, fault: str = "") -> httpx.Response:
    """One request; the body read raw, so any encoding the gateway left shows."""
    headers = {"x-mock-fault": fault} if fault else {}
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=20) as http:
        request = http.build_request("POST", path, json=payload, headers=headers)
        answer = await http.send(request, stream=True)
        try:
            answer._content = b"".join([part async for part in answer.aiter_raw()])
        finally:
            await answer.aclose()
    return answer


async def _only_record(gateway) -> dict:
    (record,) = await stored_records(gateway)
    return record


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_error_status_passes_through_with_body_and_headers(
    gateway, mock_provider, status, stream
):
    answer = await _send(gateway, CHAT, _chat(stream), f"status:{status}")

    assert answer.status_code == status
    assert answer.json() == {
        "error": {
            "message": f"mock provider error {status}",
            "type": "mock_error",
            "code": status,
        }
    }
    assert answer.headers["x-mock-request-id"] == f"req-{status}"
    if status in (429, 503, 529):
        assert answer.headers["retry-after"] == "1"
    if status == 429:
        assert answer.headers["x-ratelimit-remaining-requests"] == "0"
    record = await _only_record(gateway)
    assert record["status"] == status
    assert record["cost_usd"] == "0"
    assert record["input_tokens"] == record["output_tokens"] == 0


@pytest.mark.parametrize("status", [429, 500, 529])
async def test_anthropic_error_status_keeps_its_dialect(gateway, status):
    answer = await _send(gateway, MESSAGES, _messages(), f"status:{status}")
    assert answer.status_code == status
    assert answer.json()["type"] == "error"
    assert (await _only_record(gateway))["status"] == status


@pytest.mark.parametrize(
    ("path", "payload"), [(CHAT, _chat()), (MESSAGES, _messages())], ids=["oa", "an"]
)
async def test_connection_refused_is_502_in_the_route_dialect(
    start_gateway, path, payload
):
    port = free_port()
    config = {
        "providers": {
            "openai": {"base_url": f"http://127.0.0.1:{port}/v1"},
            "anthropic": {"base_url": f"http://127.0.0.1:{port}"},
        }
    }
    gateway = await start_gateway(
        config, keys={"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}
    )
    answer = await _send(gateway, path, payload)
    assert answer.status_code == 502
    body = answer.json()
    assert "unreachable" in json.dumps(body)
    assert (body.get("type") == "error") is (path == MESSAGES)
    record = await _only_record(gateway)
    assert record["status"] == "upstream_error"
    assert record["cost_usd"] == "0"


async def test_provider_that_closes_without_answering_is_502(gateway):
    answer = await _send(gateway, CHAT, _chat(), "close")
    assert answer.status_code == 502
    assert answer.json()["error"]["message"]
    assert (await _only_record(gateway))["status"] == "upstream_error"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_provider_that_never_answers_is_504_after_the_idle_limit(gateway, stream):
    started = time.monotonic()
    answer = await _send(gateway, CHAT, _chat(stream), "hang")
    waited = time.monotonic() - started
    assert answer.status_code == 504
    assert answer.json()["error"]["code"] == "timeout"
    assert 0.5 <= waited < 5
    record = await _only_record(gateway)
    assert record["status"] == "timeout"
    assert record["cost_usd"] == "0"


async def test_stream_that_stalls_ends_cleanly_with_tokens_so_far(
    gateway, mock_provider
):
    answer = await _send(gateway, CHAT, _chat(stream=True, usage=True), "stall")

    assert answer.status_code == 200
    (seen,) = mock_provider.received
    assert answer.content == bytes(seen.sent)
    assert answer.content.endswith(b"\n\n")
    record = await _only_record(gateway)
    assert record["status"] == "timeout"
    assert record["output_tokens"] > 0
    assert record["cost_source"] == "estimated"


@pytest.mark.parametrize(
    ("path", "payload"),
    [(CHAT, _chat(stream=True, usage=True)), (MESSAGES, _messages(stream=True))],
    ids=["openai", "anthropic"],
)
async def test_stream_cut_mid_event_ends_cleanly_with_tokens_so_far(
    gateway, mock_provider, path, payload
):
    answer = await _send(gateway, path, payload, "cut")

    assert answer.status_code == 200
    (seen,) = mock_provider.received
    assert answer.content == bytes(seen.sent)
    record = await _only_record(gateway)
    assert record["status"] == "upstream_error"
    assert "ended early" in record["error"]
    assert record["output_tokens"] > 0
    assert record["cost_source"] == "estimated"


async def test_cut_stream_the_client_did_not_ask_usage_for_gets_whole_events(
    gateway, mock_provider
):
    answer = await _send(gateway, CHAT, _chat(stream=True), "cut")

    sent = bytes(mock_provider.received[0].sent)
    assert answer.status_code == 200
    assert answer.content == sent[: sent.rindex(b"\n\n") + 2]
    assert (await _only_record(gateway))["status"] == "upstream_error"


async def test_anthropic_error_event_inside_a_200_stream(gateway, mock_provider):
    answer = await _send(gateway, MESSAGES, _messages(stream=True), "error-event")

    assert answer.status_code == 200
    assert b"event: error" in answer.content
    assert answer.content == bytes(mock_provider.received[0].sent)
    record = await _only_record(gateway)
    assert record["status"] == 200
    assert "overloaded_error" in record["error"]
    assert record["input_tokens"] > 0


async def test_openrouter_error_chunk_inside_a_200_stream(gateway, mock_provider):
    payload = _chat(stream=True, model="openrouter/openai/gpt-4o")
    answer = await _send(gateway, CHAT, payload, "error-event")

    assert answer.status_code == 200
    assert b'data: {"error"' in answer.content
    record = await _only_record(gateway)
    assert record["provider"] == "openrouter"
    assert "upstream overloaded" in record["error"]


async def test_invalid_json_from_the_provider_passes_through(gateway):
    answer = await _send(gateway, CHAT, _chat(), "bad-json")
    assert answer.status_code == 200
    assert answer.content == b"{not json"
    record = await _only_record(gateway)
    assert record["status"] == 200
    assert record["input_tokens"] == record["output_tokens"] == 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_invalid_utf8_from_the_provider_passes_through_and_is_metered(
    gateway, mock_provider, stream
):
    answer = await _send(gateway, CHAT, _chat(stream, usage=stream), "bad-utf8")

    assert answer.status_code == 200
    assert b"\xff\xfe" in answer.content
    if stream:
        assert answer.content == bytes(mock_provider.received[0].sent)
    record = await _only_record(gateway)
    assert record["status"] == 200
    assert record["output_tokens"] == 64
    assert record["input_tokens"] > 0
    assert record["cost_source"] == "computed"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_gzip_answer_reaches_the_client_decoded(gateway, mock_provider, stream):
    answer = await _send(gateway, CHAT, _chat(stream), "gzip")

    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(answer.content)
    if stream:
        assert answer.content.endswith(b"data: [DONE]\n\n")
    else:
        assert answer.json()["usage"]["completion_tokens"] == 64
    record = await _only_record(gateway)
    assert record["output_tokens"] == 64
    assert record["cost_source"] == "computed"


async def test_every_fault_leaves_exactly_one_record_each(gateway):
    faults = ["", "status:500", "hang", "stall", "cut", "bad-json", "gzip", "close"]
    for fault in faults:
        for stream in (False, True):
            answer = await _send(gateway, CHAT, _chat(stream), fault)
            assert answer.status_code in (200, 500, 502, 504)
    records = await stored_records(gateway)
    assert len(records) == len(faults) * 2
    assert len({r["id"] for r in records}) == len(records)
    assert all(r["latency_ms"] >= 0 for r in records)
