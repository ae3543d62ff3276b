"""Every shared request case, through the real gateway over loopback sockets."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import load_cases, point_at, stored_records

CASES = load_cases()
PROVIDER_KEY = "sk-provider-secret-0001"


def _expected_bytes(upstream: dict) -> bytes:
    if "chunks" in upstream:
        return b"".join(
            bytes.fromhex(c["hex"]) if isinstance(c, dict) else c.encode()
            for c in upstream["chunks"]
        )
    return json.dumps(upstream["body"]).encode()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_case_through_gateway(case, mock_provider, start_gateway):
    upstream = case["upstream"]
    config = point_at(mock_provider, upstream["provider"], upstream["base_path"])
    config["prices"] = case["prices"]
    gateway = await start_gateway(config, keys={upstream["provider"]: PROVIDER_KEY})
    mock_provider.replay(upstream)
    client = case["client"]

    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
        answer = await http.request(
            client["method"],
            client["path"],
            headers=client.get("headers", {}),
            content=json.dumps(client["json"]).encode(),
        )

    expect = case["expect"]
    assert answer.status_code == expect["client_status"]
    for name, value in expect.get("client_headers", {}).items():
        assert answer.headers[name] == value
    if expect.get("client_body") == "identical":
        assert answer.content == _expected_bytes(upstream)

    (seen,) = mock_provider.received
    assert seen.path == upstream["expect_path"]
    if "expect_model" in upstream:
        assert seen.json["model"] == upstream["expect_model"]
    for name, value in upstream.get("expect_headers", {}).items():
        assert seen.headers[name.lower()] == value
    if "authorization" not in {k.lower() for k in client.get("headers", {})}:
        assert PROVIDER_KEY in json.dumps(seen.headers)

    (record,) = await stored_records(gateway)
    for field, value in expect["record"].items():
        assert record[field] == value, field
