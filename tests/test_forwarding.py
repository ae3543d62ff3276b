"""Forwarding details: credentials, encodings, paths and what a record may hold."""

from __future__ import annotations

import asyncio
import gzip
import json

import httpx

from tests.conftest import point_at, stored_records

STORED = "sk-stored-provider-key-7777"
CHAT = "/v1/chat/completions"


async def _openai_gateway(start_gateway, mock_provider, **server):
    config = point_at(mock_provider, "openai", "/v1")
    config["server"] = server
    return await start_gateway(config, keys={"openai": STORED})


async def test_placeholder_key_kilo_means_use_the_stored_key(
    start_gateway, mock_provider
):
    gateway = await _openai_gateway(start_gateway, mock_provider)
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        answer = await http.post(
            CHAT,
            headers={"Authorization": "Bearer kilo"},
            json={"model": "openai/gpt-4o", "messages": []},
        )
    assert answer.status_code == 200
    assert mock_provider.received[0].headers["authorization"] == f"Bearer {STORED}"
    (record,) = await stored_records(gateway)
    assert record["project"] == "default"


async def test_gzip_request_body_is_sent_on_decoded(start_gateway, mock_provider):
    gateway = await _openai_gateway(start_gateway, mock_provider)
    body = json.dumps({"model": "openai/gpt-4o", "messages": []}).encode()
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        answer = await http.post(
            CHAT, content=gzip.compress(body), headers={"Content-Encoding": "gzip"}
        )
        broken = await http.post(
            CHAT, content=b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"}
        )
    assert answer.status_code == 200
    (seen,) = mock_provider.received
    assert "content-encoding" not in seen.headers
    assert seen.json["model"] == "gpt-4o"
    assert broken.status_code == 400
    assert "Content-Encoding" in broken.json()["error"]["message"]


async def test_raw_route_refuses_dot_segments(start_gateway, mock_provider):
    gateway = await _openai_gateway(start_gateway, mock_provider)
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        for path in ("/openai/../../etc/passwd", "/openai/%2e%2e/%2e%2e/x"):
            request = http.build_request("GET", gateway.base_url)
            request.url = request.url.copy_with(raw_path=path.encode())
            answer = await http.send(request)
            assert answer.status_code in (400, 404), path
    assert mock_provider.received == []


async def test_model_names_are_stored_without_control_characters(
    start_gateway, mock_provider
):
    gateway = await _openai_gateway(start_gateway, mock_provider)
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        await http.post(CHAT, json={"model": "openai/[red]x\u001b[2J", "messages": []})
    (record,) = await stored_records(gateway)
    assert record["model"] == "[red]x[2J"
    assert mock_provider.received[0].json["model"] == "[red]x\u001b[2J"


async def test_stopping_the_gateway_records_cut_streams_as_such(
    start_gateway, mock_provider
):
    mock_provider.options.tokens_per_second = 20
    mock_provider.options.output_tokens = 200
    gateway = await _openai_gateway(start_gateway, mock_provider)
    payload = {"model": "openai/gpt-4o", "messages": [], "stream": True}

    async def client():
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
            try:
                async with http.stream("POST", CHAT, json=payload) as answer:
                    async for _ in answer.aiter_bytes():
                        pass
            except httpx.HTTPError:
                pass

    task = asyncio.create_task(client())
    while gateway.in_flight == 0:
        await asyncio.sleep(0.01)
    path = gateway.store.path
    await gateway.stop(grace=0.2)
    await task

    from proxy import queries

    (record,) = await queries.export_rows(path)
    assert record["status"] == "gateway_stopped"
    assert record["cost_source"] == "estimated"


async def test_gemini_native_stream_records_its_final_usage(
    start_gateway, mock_provider
):
    gateway = await start_gateway(
        point_at(mock_provider, "google"), keys={"google": "goog-key-123456"}
    )
    path = "/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        answer = await http.post(path, json={"contents": [{"parts": [{"text": "x"}]}]})
    assert answer.status_code == 200
    (record,) = await stored_records(gateway)
    assert record["model"] == "gemini-2.5-flash"
    assert record["stream"] is True
    assert record["output_tokens"] == 64
    assert record["cost_source"] == "computed"
