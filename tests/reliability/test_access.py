"""Access: who may use the gateway, and where it may send their requests."""

from __future__ import annotations

import asyncio
import json
from unittest import mock

import httpx
import pytest
from aiohttp.test_utils import make_mocked_request

from proxy.gateway_keys import GatewayKeyStore
from proxy.mock import MockProvider
from tests.conftest import point_at, stored_records
from tests.reliability.helpers import eventually, run_cli

pytestmark = pytest.mark.reliability

CHAT = "/v1/chat/completions"
SAY_OK = [{"role": "user", "content": "Say ok."}]
STORED_KEY = "sk-openai-stored-access-0004"
CLIENT_KEY = "sk-openai-clients-own-0005"
CHAT_BODY = {"model": "openai/gpt-4o", "messages": SAY_OK}


@pytest.fixture
async def attacker():
    """A second mock on loopback standing for a host requests must never reach."""
    other = MockProvider()
    await other.start()
    yield other
    await other.stop()


async def _locked_gateway(start_gateway, mock_provider, **server):
    """A gateway that requires gateway keys, as it must off loopback."""
    config = point_at(mock_provider, "openai", "/v1")
    config["server"] = {"require_gateway_key": True, **server}
    gateway = await start_gateway(config, keys={"openai": STORED_KEY})
    key_id, token = GatewayKeyStore(gateway.store.path).create("team")
    await gateway.gateway_keys.refresh()
    return gateway, key_id, token


async def _call(gateway, method="POST", path=CHAT, token=None, **kw):
    headers = kw.pop("headers", {})
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
        return await http.request(method, path, headers=headers, **kw)


def _remote_request(path: str, peer: str, headers: dict | None = None):
    """A request as if it came from another machine, never sent over a network."""
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    return make_mocked_request("POST", path, headers=headers, transport=transport)


@pytest.mark.parametrize("peer", ["192.0.2.10", "10.0.0.7", "2001:db8::1"])
async def test_loopback_gateway_refuses_clients_from_elsewhere(
    start_gateway, mock_provider, peer
):
    gateway = await start_gateway(point_at(mock_provider, "openai", "/v1"))
    answer = await gateway._dispatch(_remote_request(CHAT, peer))
    assert answer.status == 403
    assert json.loads(answer.body)["error"]["code"] == "not_local"
    assert mock_provider.received == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example:8787"},
        {"Host": "192.0.2.1"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
    ids=["rebinding", "foreign-ip", "web-page", "opaque-origin"],
)
async def test_loopback_gateway_refuses_requests_a_web_page_makes(
    start_gateway, mock_provider, headers
):
    """A page in the user's browser is a remote party acting through a local one."""
    gateway = await start_gateway(
        point_at(mock_provider, "openai", "/v1"), keys={"openai": STORED_KEY}
    )
    body = json.dumps(CHAT_BODY)
    answer = await _call(
        gateway, content=body, headers=headers | {"content-type": "text/plain"}
    )
    assert answer.status_code == 403
    assert mock_provider.received == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Host": "localhost:8787"},
        {"Host": "127.0.0.5"},
        {"Host": "[::1]:8787"},
        {"Origin": "http://localhost:3000"},
        {"Origin": "http://127.0.0.1:5173"},
    ],
)
async def test_loopback_gateway_answers_local_tools(
    start_gateway, mock_provider, headers
):
    gateway = await start_gateway(
        point_at(mock_provider, "openai", "/v1"), keys={"openai": STORED_KEY}
    )
    answer = await _call(gateway, json=CHAT_BODY, headers=headers)
    assert answer.status_code == 200


async def test_required_gateway_key_refuses_a_request_without_one(
    start_gateway, mock_provider
):
    gateway, _, _ = await _locked_gateway(start_gateway, mock_provider)
    answer = await _call(gateway, json=CHAT_BODY)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "gateway_key_required"
    assert mock_provider.received == []
    (record,) = await stored_records(gateway)
    assert record["status"] == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models"),
        ("GET", "/health"),
        ("GET", "/"),
        ("GET", "/nowhere"),
        ("POST", "/openai/v1/chat/completions"),
        ("POST", "/v1/messages"),
    ],
)
async def test_required_gateway_key_covers_every_route(
    start_gateway, mock_provider, method, path
):
    gateway, _, token = await _locked_gateway(start_gateway, mock_provider)
    kw = {"json": CHAT_BODY} if method == "POST" else {}
    refused = await _call(gateway, method, path, **kw)
    wrong = await _call(gateway, method, path, token="sk-kilo-" + "x" * 43, **kw)
    for answer in (refused, wrong):
        assert answer.status_code == 401
        assert answer.json()
    assert mock_provider.received == []
    if path in ("/v1/models", "/health"):
        assert (await _call(gateway, method, path, token=token)).status_code == 200


async def test_required_gateway_key_accepts_a_valid_key_in_any_header(
    start_gateway, mock_provider
):
    gateway, key_id, token = await _locked_gateway(start_gateway, mock_provider)
    for headers in (
        {"authorization": f"Bearer {token}"},
        {"x-api-key": token},
        {"x-goog-api-key": token},
    ):
        answer = await _call(gateway, json=CHAT_BODY, headers=headers)
        assert answer.status_code == 200
    sent = [r.headers.get("authorization") for r in mock_provider.received]
    assert sent == [f"Bearer {STORED_KEY}"] * 3
    assert all(token not in json.dumps(r.headers) for r in mock_provider.received)
    records = await stored_records(gateway)
    assert {(r["project"], r["gateway_key_id"]) for r in records} == {("team", key_id)}


@pytest.mark.parametrize("allowed", [False, True])
async def test_client_provider_credential_needs_enabling(
    start_gateway, mock_provider, allowed
):
    gateway, _, _ = await _locked_gateway(
        start_gateway, mock_provider, allow_client_credentials=allowed
    )
    answer = await _call(gateway, json=CHAT_BODY, token=CLIENT_KEY)
    if allowed:
        assert answer.status_code == 200
        (seen,) = mock_provider.received
        assert seen.headers["authorization"] == f"Bearer {CLIENT_KEY}"
    else:
        assert answer.status_code == 401
        assert mock_provider.received == []


async def test_revoked_key_stops_working_at_once_in_process(
    start_gateway, mock_provider
):
    gateway, key_id, token = await _locked_gateway(start_gateway, mock_provider)
    assert (await _call(gateway, json=CHAT_BODY, token=token)).status_code == 200

    GatewayKeyStore(gateway.store.path).revoke(key_id)
    await gateway.gateway_keys.refresh()

    answer = await _call(gateway, json=CHAT_BODY, token=token)
    assert answer.status_code == 401
    assert "revoked" in answer.json()["error"]["message"]
    assert len(mock_provider.received) == 1


async def test_revoked_key_from_another_process_stops_within_a_second(
    start_gateway, mock_provider, isolated_home
):
    gateway, key_id, token = await _locked_gateway(start_gateway, mock_provider)
    assert (await _call(gateway, json=CHAT_BODY, token=token)).status_code == 200

    revoke = await asyncio.to_thread(
        run_cli, isolated_home.data_dir, "gateway-key", "revoke", key_id
    )
    assert revoke.returncode == 0, revoke.stderr
    loop = asyncio.get_running_loop()
    revoked_at = loop.time()

    async def refused() -> bool:
        answer = await _call(gateway, json=CHAT_BODY, token=token)
        return answer.status_code == 401

    assert await eventually(refused, timeout=3)
    assert loop.time() - revoked_at < 1.5


async def test_absolute_target_and_host_header_cannot_redirect_a_request(
    start_gateway, mock_provider, attacker
):
    gateway = await start_gateway(
        point_at(mock_provider, "openai", "/v1"), keys={"openai": STORED_KEY}
    )
    body = json.dumps(CHAT_BODY).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    head = (
        f"POST http://127.0.0.1:{attacker.port}{CHAT} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{gateway.port}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()

    assert b" 200 " in status_line
    assert attacker.received == []
    (seen,) = mock_provider.received
    assert seen.headers["host"] == f"127.0.0.1:{mock_provider.port}"


@pytest.mark.parametrize(
    "case",
    [
        "model-url",
        "raw-unknown",
        "raw-traversal",
        "raw-userinfo",
        "body-base-url",
        "header-base-url",
    ],
)
async def test_requests_cannot_reach_a_host_config_does_not_name(
    start_gateway, mock_provider, attacker, case
):
    config = point_at(mock_provider, "openai", "/v1")
    config["providers"]["local"] = {"base_url": mock_provider.url + "/v1"}
    gateway = await start_gateway(config, keys={"openai": STORED_KEY})
    elsewhere = f"127.0.0.1:{attacker.port}"
    body = dict(CHAT_BODY)
    path, headers = CHAT, {}
    if case == "model-url":
        body["model"] = f"http://{elsewhere}/v1/gpt-4o"
    elif case == "raw-unknown":
        path = f"/{elsewhere}/v1/chat/completions"
    elif case == "raw-traversal":
        path = f"/openai/..%2F..%2F{elsewhere}/v1/chat/completions"
    elif case == "raw-userinfo":
        path = f"/openai/@{elsewhere}/v1/chat/completions"
    elif case == "body-base-url":
        body = {"model": "local/llama", "base_url": f"http://{elsewhere}/v1"}
    else:
        headers = {
            "x-kilo-base-url": f"http://{elsewhere}/v1",
            "x-forwarded-host": elsewhere,
        }

    answer = await _call(gateway, path=path, json=body, headers=headers)

    assert answer.status_code in (200, 400, 404)
    answer.json()
    assert attacker.received == []
    for seen in mock_provider.received:
        assert seen.headers["host"] == f"127.0.0.1:{mock_provider.port}"


async def test_a_provider_redirect_is_not_followed_with_the_stored_key(
    start_gateway, mock_provider, attacker
):
    gateway = await start_gateway(
        point_at(mock_provider, "openai", "/v1"), keys={"openai": STORED_KEY}
    )
    target = f"{attacker.url}/v1/chat/completions"
    mock_provider.replay({"status": 307, "headers": {"location": target}, "body": {}})

    answer = await _call(gateway, json=CHAT_BODY)

    assert answer.status_code == 307
    assert answer.headers["location"] == target
    assert attacker.received == []


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.invalid"])
def test_serve_refuses_a_non_loopback_address_without_gateway_keys(isolated_home, host):
    result = run_cli(isolated_home.data_dir, "serve", "--host", host, "--port", "1")
    assert result.returncode == 1
    assert "require_gateway_key" in result.stderr
    assert "Traceback" not in result.stderr
    assert "gateway on" not in result.stdout


async def test_a_smuggled_second_request_never_reaches_the_provider(
    start_gateway, mock_provider
):
    gateway = await start_gateway(
        point_at(mock_provider, "openai", "/v1"), keys={"openai": STORED_KEY}
    )
    hidden = json.dumps({"model": "openai/smuggled", "messages": SAY_OK})
    inner = (
        f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(hidden)}\r\n\r\n{hidden}"
    )
    body = "0\r\n\r\n" + inner
    head = (
        f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n"
        f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write((head + body).encode())
    await writer.drain()
    first = await asyncio.wait_for(reader.readline(), 5)
    writer.close()

    assert b" 400 " in first
    assert all(seen.json.get("model") != "smuggled" for seen in mock_provider.received)
