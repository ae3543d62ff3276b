"""The in-memory copy of recent requests that the console's detail view reads."""

from __future__ import annotations

import httpx

from proxy.capture import CaptureBuffer
from proxy.config import settings_from_dict
from proxy.gateway import Gateway
from tests.conftest import point_at, stored_records

SECRET = "sk-client-secret-abcd1234"


async def test_capture_keeps_masked_headers_and_both_bodies(
    isolated_home, mock_provider
):
    settings = settings_from_dict(point_at(mock_provider, "openai", "/v1"))
    gateway = Gateway(settings, isolated_home, capture=True)
    await gateway.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=gateway.base_url) as http:
            await http.post(
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {SECRET}"},
                json={"model": "openai/gpt-4o", "messages": [], "stream": True},
            )
        (record,) = await stored_records(gateway)
        capture = gateway.captures.get(record["id"])
    finally:
        await gateway.stop()

    assert capture.request_headers["Authorization"] == "…1234"
    assert SECRET not in repr(capture)
    assert b'"openai/gpt-4o"' in capture.request_body
    assert capture.response_headers["Content-Type"].startswith("text/event-stream")
    assert bytes(capture.response_body).endswith(b"data: [DONE]\n\n")


def test_buffer_drops_the_oldest_and_cuts_long_bodies():
    buffer = CaptureBuffer(size=2, body_limit=4)
    for rid in ("a", "b", "c"):
        buffer.begin(rid, {}, b"123456")
        buffer.body(rid, b"abcdef")
    assert buffer.get("a") is None
    assert buffer.get("c").request_body == b"1234"
    assert bytes(buffer.get("c").response_body) == b"abcd"
    assert buffer.get("c").truncated
