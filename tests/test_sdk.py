"""The official openai and anthropic SDKs through a gateway key, plain and streamed."""

from __future__ import annotations

import anthropic
import openai

from proxy.gateway_keys import GatewayKeyStore
from tests.conftest import point_at, stored_records

OPENAI_KEY = "sk-openai-stored-secret-9999"
ANTHROPIC_KEY = "sk-ant-stored-secret-8888"
SAY_OK = [{"role": "user", "content": "Say ok."}]


async def _gateway(start_gateway, mock_provider):
    config = point_at(mock_provider, "openai", "/v1")
    config["providers"]["anthropic"] = {"base_url": mock_provider.url}
    gateway = await start_gateway(
        config, keys={"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}
    )
    key_id, token = GatewayKeyStore(gateway.store.path).create("web-app")
    await gateway.gateway_keys.refresh()
    return gateway, key_id, token


async def test_openai_sdk_plain_and_streaming(start_gateway, mock_provider):
    gateway, key_id, token = await _gateway(start_gateway, mock_provider)
    client = openai.AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key=token)

    reply = await client.chat.completions.create(model="openai/gpt-4o", messages=SAY_OK)
    stream = await client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=SAY_OK, stream=True
    )
    chunks = [chunk async for chunk in stream]
    await client.close()

    assert reply.choices[0].message.content
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # The client did not ask for stream usage, so it never sees the usage chunk.
    assert all(c.choices for c in chunks)
    plain, streamed = await stored_records(gateway)
    for record in (plain, streamed):
        assert record["project"] == "web-app"
        assert record["surface"] == "openai-sdk"
        assert record["gateway_key_id"] == key_id
        assert record["status"] == 200
        assert record["cost_source"] == "computed"
    assert streamed["stream"] is True
    assert streamed["output_tokens"] == 64
    assert streamed["model"] == "gpt-4o-mini"
    sent = [r.headers["authorization"] for r in mock_provider.received]
    assert sent == [f"Bearer {OPENAI_KEY}"] * 2


async def test_anthropic_sdk_plain_and_streaming(start_gateway, mock_provider):
    gateway, key_id, token = await _gateway(start_gateway, mock_provider)
    client = anthropic.AsyncAnthropic(base_url=gateway.base_url, api_key=token)

    reply = await client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=SAY_OK
    )
    async with client.messages.stream(
        model="anthropic/claude-sonnet-4-5", max_tokens=64, messages=SAY_OK
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
    await client.close()

    assert reply.content[0].text and text
    plain, streamed = await stored_records(gateway)
    for record in (plain, streamed):
        assert record["provider"] == "anthropic"
        assert record["model"] == "claude-sonnet-4-5"
        assert record["surface"] == "anthropic-sdk"
        assert record["project"] == "web-app"
        assert record["output_tokens"] == 64
        assert record["cost_source"] == "computed"
        assert record["cost_usd"] not in (None, "0")
    assert [r.headers["x-api-key"] for r in mock_provider.received] == [
        ANTHROPIC_KEY
    ] * 2
    assert mock_provider.received[1].json["model"] == "claude-sonnet-4-5"


async def test_revoked_gateway_key_stops_working_at_once(start_gateway, mock_provider):
    gateway, key_id, token = await _gateway(start_gateway, mock_provider)
    client = openai.AsyncOpenAI(
        base_url=gateway.base_url + "/v1", api_key=token, max_retries=0
    )
    await client.chat.completions.create(model="openai/gpt-4o", messages=SAY_OK)

    GatewayKeyStore(gateway.store.path).revoke(key_id)
    await gateway.gateway_keys.refresh()

    try:
        await client.chat.completions.create(model="openai/gpt-4o", messages=SAY_OK)
    except openai.AuthenticationError as exc:
        assert "revoked" in str(exc)
    else:
        raise AssertionError("a revoked gateway key was accepted")
    finally:
        await client.close()


async def test_no_secret_reaches_the_log_or_the_export(
    start_gateway, mock_provider, caplog
):
    caplog.set_level("DEBUG", logger="proxy")
    gateway, _, token = await _gateway(start_gateway, mock_provider)
    client = openai.AsyncOpenAI(
        base_url=gateway.base_url + "/v1", api_key=token, max_retries=0
    )
    await client.chat.completions.create(model="openai/gpt-4o", messages=SAY_OK)
    for fault in ("status:500", "status:401", "bad-json"):
        try:
            await client.chat.completions.create(
                model="openai/gpt-4o",
                messages=SAY_OK,
                extra_headers={"x-mock-fault": fault},
            )
        except (openai.APIError, ValueError):
            pass  # the SDK fails on the broken answer; only the gateway's side counts
    await client.close()
    rows = await stored_records(gateway)
    await gateway.store.flush()

    database = gateway.store.path.read_bytes()
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, token):
        assert secret not in caplog.text
        assert secret not in str(rows)
        assert secret.encode() not in database
    assert len(rows) == 4
