"""Errors a person can act on, in the dialect of the route, and a record for each."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from tests.conftest import point_at, stored_records

CHAT = "/v1/chat/completions"
SAY_OK = [{"role": "user", "content": "Say ok."}]


async def _post(gateway, path, **kw):
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
        return await http.post(path, **kw)


async def test_malformed_json_is_400_in_openai_dialect(start_gateway):
    gateway = await start_gateway()
    answer = await _post(gateway, CHAT, content=b"{not json")
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]["message"]
    (record,) = await stored_records(gateway)
    assert record["status"] == 400
    assert record["cost_usd"] == "0"


async def test_malformed_json_is_400_in_anthropic_dialect(start_gateway):
    gateway = await start_gateway()
    answer = await _post(gateway, "/v1/messages", content=b"[1, 2")
    assert answer.status_code == 400
    body = answer.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("body", [b"", b"[]", b'{"model": 5}', b'{"messages": []}'])
async def test_body_without_a_model_string_is_400(start_gateway, body):
    gateway = await start_gateway()
    answer = await _post(gateway, CHAT, content=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"]


async def test_unknown_provider_is_404_naming_it_and_the_known_ones(start_gateway):
    gateway = await start_gateway()
    answer = await _post(gateway, CHAT, json={"model": "nosuch-model", "messages": []})
    assert answer.status_code == 404
    message = answer.json()["error"]["message"]
    assert "nosuch-model" in message
    assert "openai" in message and "anthropic" in message and "deepseek" in message


async def test_no_stored_key_is_401_with_the_command_to_fix_it(
    start_gateway, mock_provider
):
    gateway = await start_gateway(point_at(mock_provider, "deepseek"))
    answer = await _post(
        gateway, CHAT, json={"model": "deepseek/deepseek-chat", "messages": SAY_OK}
    )
    assert answer.status_code == 401
    assert "kilo-tui keys add deepseek" in answer.json()["error"]["message"]
    assert mock_provider.received == []


async def test_unreachable_provider_is_502_naming_it(start_gateway):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {"providers": {"openai": {"base_url": f"http://127.0.0.1:{port}/v1"}}}
    gateway = await start_gateway(config, keys={"openai": "sk-test-unreachable"})
    answer = await _post(
        gateway, CHAT, json={"model": "openai/gpt-4o", "messages": SAY_OK}
    )
    assert answer.status_code == 502
    assert "OpenAI is unreachable" in answer.json()["error"]["message"]
    (record,) = await stored_records(gateway)
    assert record["status"] == "upstream_error"
    assert record["cost_usd"] == "0"


async def test_provider_that_never_answers_is_504(start_gateway, mock_provider):
    config = point_at(mock_provider, "openai", "/v1")
    config["server"] = {"idle_timeout": 0.5}
    gateway = await start_gateway(config, keys={"openai": "sk-test-timeout"})
    answer = await _post(
        gateway,
        CHAT,
        json={"model": "openai/gpt-4o", "messages": SAY_OK},
        headers={"x-mock-fault": "hang"},
    )
    assert answer.status_code == 504
    (record,) = await stored_records(gateway)
    assert record["status"] == "timeout"


async def test_body_over_the_limit_is_413(start_gateway):
    gateway = await start_gateway({"server": {"max_body_bytes": 1000}})
    answer = await _post(gateway, CHAT, content=b"{" + b" " * 5000 + b"}")
    assert answer.status_code == 413
    assert "max_body_bytes" in answer.json()["error"]["message"]


async def test_unknown_route_is_404_listing_the_routes(start_gateway):
    gateway = await start_gateway()
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        answer = await http.get("/nowhere")
    assert answer.status_code == 404
    assert "/v1/chat/completions" in answer.json()["error"]["message"]


async def test_client_that_disconnects_mid_stream_leaves_a_record(
    start_gateway, mock_provider
):
    mock_provider.options.tokens_per_second = 40
    mock_provider.options.output_tokens = 80
    mock_provider.options.chunks = 40
    gateway = await start_gateway(
        point_at(mock_provider, "openai", "/v1"), keys={"openai": "sk-test-cut"}
    )
    payload = {"model": "openai/gpt-4o", "messages": SAY_OK, "stream": True}
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
        async with http.stream("POST", CHAT, json=payload) as answer:
            async for _ in answer.aiter_bytes():
                break
    for _ in range(50):
        records = await stored_records(gateway)
        if records:
            break
        await asyncio.sleep(0.05)
    (record,) = records
    assert record["status"] == "client_disconnected"
    assert record["cost_source"] == "estimated"
    assert record["output_tokens"] > 0
