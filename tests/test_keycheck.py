"""Key checks against a loopback mock: valid, invalid, rate limited, unreachable."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proxy.keycheck import (
    INVALID,
    RATE_LIMITED,
    UNREACHABLE,
    VALID,
    check_key,
    check_key_async,
)
from proxy.registry import PROVIDERS, with_base_url

SECRET = "sk-check-0123456789abcdefghijklmnopqrstuvwxyz"

# Path prefix -> (status, JSON body). The body of 401 echoes the key on purpose.
ANSWERS = {
    "/ok": (200, {"object": "list", "data": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}),
    "/gemini": (200, {"models": [{"name": "models/gemini-2.5-pro"}]}),
    "/bad": (401, {"error": {"message": f"Incorrect API key provided: {SECRET}"}}),
    "/busy": (429, {"error": {"message": "Rate limit reached"}}),
    "/google-bad": (400, {"error": {"message": "API key not valid. Please pass"}}),
    "/broke": (402, {"error": {"message": "Insufficient Balance"}}),
    "/down": (503, {"error": "overloaded"}),
}


class Handler(BaseHTTPRequestHandler):
    """Answers by path prefix and remembers what it was sent."""

    seen: list[tuple[str, str, dict, bytes]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, dict(self.headers), body))
        prefix = "/" + self.path.split("/")[1]
        status, payload = ANSWERS[prefix]
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def fresh_log():
    Handler.seen.clear()


@pytest.fixture
def hanging():
    """A port that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def refused():
    """A loopback port nobody listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def provider(pid: str, base: str):
    return with_base_url(PROVIDERS[pid], base)


def test_valid_key_counts_models_and_sends_bearer(server):
    result = check_key(provider("openai", server + "/ok/v1"), SECRET)
    assert result.status == VALID and result.ok
    assert result.models == 3
    assert result.latency_ms is not None and result.latency_ms >= 0
    method, path, headers, _ = Handler.seen[-1]
    assert (method, path) == ("GET", "/ok/v1/models")
    assert headers["Authorization"] == f"Bearer {SECRET}"


def test_anthropic_sends_x_api_key_and_version(server):
    result = check_key(provider("anthropic", server + "/ok"), SECRET)
    assert result.status == VALID
    _, path, headers, _ = Handler.seen[-1]
    assert path == "/ok/v1/models"
    assert headers["x-api-key"] == SECRET
    assert headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in headers


def test_google_sends_its_own_header(server):
    result = check_key(provider("google", server + "/gemini"), SECRET)
    assert (result.status, result.models) == (VALID, 1)
    assert Handler.seen[-1][2]["x-goog-api-key"] == SECRET


def test_perplexity_checks_with_a_tiny_completion(server):
    check_key(provider("perplexity", server + "/ok"), SECRET)
    method, path, _, body = Handler.seen[-1]
    assert (method, path) == ("POST", "/ok/chat/completions")
    assert json.loads(body)["max_tokens"] == 1


def test_refused_key_is_invalid_and_the_echo_is_scrubbed(server):
    result = check_key(provider("openai", server + "/bad"), SECRET)
    assert result.status == INVALID and not result.ok
    assert result.detail.startswith("HTTP 401: Incorrect API key provided")
    assert SECRET not in result.detail
    assert SECRET[:12] not in result.detail and SECRET[-12:] not in result.detail


def test_google_400_about_the_key_is_invalid(server):
    result = check_key(provider("google", server + "/google-bad"), SECRET)
    assert result.status == INVALID


def test_no_credit_is_invalid_with_a_reason(server):
    result = check_key(provider("deepseek", server + "/broke"), SECRET)
    assert result.status == INVALID
    assert "no credit" in result.detail


def test_429_is_rate_limited(server):
    result = check_key(provider("openai", server + "/busy"), SECRET)
    assert result.status == RATE_LIMITED
    assert "Rate limit" in result.detail


def test_server_error_is_unreachable(server):
    result = check_key(provider("openai", server + "/down"), SECRET)
    assert result.status == UNREACHABLE
    assert result.detail == "HTTP 503: overloaded"


def test_silent_server_times_out_as_unreachable(hanging):
    result = check_key(provider("openai", hanging), SECRET, timeout=0.3)
    assert result.status == UNREACHABLE
    assert "timed out" in result.detail
    assert SECRET not in result.detail


def test_closed_port_is_unreachable(refused):
    result = check_key(provider("openai", refused), SECRET, timeout=2)
    assert result.status == UNREACHABLE
    assert "failed (ConnectError)" in result.detail


async def test_async_check_classifies_the_same(server, hanging, refused):
    cases = {
        server + "/ok/v1": VALID,
        server + "/bad": INVALID,
        server + "/busy": RATE_LIMITED,
        hanging: UNREACHABLE,
        refused: UNREACHABLE,
    }
    for base, status in cases.items():
        result = await check_key_async(provider("openai", base), SECRET, timeout=0.3)
        assert result.status == status, base


def test_keyless_custom_provider_sends_no_auth(server):
    from proxy.registry import custom_provider

    local = custom_provider("ollama", server + "/ok/v1")
    assert check_key(local, "").status == VALID
    assert "Authorization" not in Handler.seen[-1][2]
