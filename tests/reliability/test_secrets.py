"""Secrets: no key in the log, the database, exports, CLI output or error bodies."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat

import httpx
import pytest

from proxy.config import settings_from_dict
from proxy.gateway import Gateway
from proxy.gateway_keys import GatewayKeyStore
from tests.conftest import point_at, stored_records
from tests.reliability.helpers import (
    GatewayProcess,
    db_rows,
    file_keystore,
    free_port,
    run_cli,
)

pytestmark = pytest.mark.reliability

CHAT = "/v1/chat/completions"
SAY_OK = [{"role": "user", "content": "Say ok."}]
OPENAI_KEY = "sk-proj-openai-SECRET-1111aaaa2222bbbb"
ANTHROPIC_KEY = "sk-ant-api03-SECRET-3333cccc4444dddd"
GOOGLE_KEY = "AIzaSyGOOGLE-SECRET-5555eeee6666ffff"
DEEPSEEK_KEY = "sk-deepseek-SECRET-7777gggg8888hhhh"
CLIENT_KEY = "sk-client-own-SECRET-9999iiii0000jjjj"
PROVIDER_KEYS = {
    "openai": OPENAI_KEY,
    "anthropic": ANTHROPIC_KEY,
    "google": GOOGLE_KEY,
    "deepseek": DEEPSEEK_KEY,
}


def _config(mock, dead_port: int) -> str:
    return f"""
[server]
idle_timeout = 0.5

[providers.openai]
base_url = "{mock.url}/v1"

[providers.anthropic]
base_url = "{mock.url}"

[providers.google]
base_url = "{mock.url}"

[providers.deepseek]
base_url = "http://127.0.0.1:{dead_port}"
"""


def _add_keys(home) -> list[str]:
    """Store every provider key through the CLI; what the CLI printed."""
    shown = []
    for provider, secret in PROVIDER_KEYS.items():
        result = run_cli(home, "keys", "add", provider, stdin=secret + "\n")
        assert result.returncode == 0, result.stderr
        shown += [result.stdout, result.stderr]
    return shown


def _gateway_key(home, project: str) -> tuple[str, str]:
    result = run_cli(home, "gateway-key", "create", "--project", project)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    key_id = next(w for w in result.stdout.split() if w.startswith("gk_"))
    return key_id, token


def _requests(token: str, revoked: str) -> list[tuple[str, str, dict, dict]]:
    """(method, path, headers, json) for success and every error path."""
    bearer = {"authorization": f"Bearer {token}"}
    chat = {"model": "openai/gpt-4o", "messages": SAY_OK}
    stream = chat | {"stream": True}
    claude = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": SAY_OK}
    gemini = "/google/v1beta/models/gemini-2.5-flash:generateContent"
    contents = {"contents": [{"parts": [{"text": "hi"}]}]}
    faults = ["status:401", "status:403", "status:429", "status:500", "bad-json"]
    calls = [
        ("POST", CHAT, bearer, chat),
        ("POST", CHAT, bearer, stream),
        ("POST", "/v1/messages", {"x-api-key": token}, claude),
        ("POST", "/v1/messages", {"x-api-key": token}, claude | {"stream": True}),
        ("POST", gemini, {"x-goog-api-key": token}, contents),
        ("POST", f"{gemini}?key={token}", {}, contents),
        ("POST", CHAT, {}, chat),
        ("POST", CHAT, {"authorization": f"Bearer {CLIENT_KEY}"}, chat),
        ("POST", CHAT, bearer, {"model": "deepseek/deepseek-chat"}),
        ("POST", CHAT, bearer, {"model": "mistral/mistral-large"}),
        ("POST", CHAT, {"authorization": "Bearer sk-kilo-unknown" + "x" * 30}, chat),
        ("POST", CHAT, {"authorization": f"Bearer {revoked}"}, chat),
        ("POST", CHAT, bearer, {"model": 5}),
        ("GET", "/v1/models", bearer, {}),
    ]
    for fault in faults + ["cut", "hang", "stall"]:
        calls.append(("POST", CHAT, bearer | {"x-mock-fault": fault}, stream))
    for fault in faults:
        calls.append(("POST", CHAT, bearer | {"x-mock-fault": fault}, chat))
    return calls


async def _send_all(base_url: str, calls) -> list[str]:
    """Send every call; each answer's status line, headers and body as text."""
    seen = []
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
        for method, path, headers, body in calls:
            answer = await http.request(
                method, path, headers=headers, json=body or None
            )
            seen.append(f"{answer.status_code} {answer.headers} {answer.text}")
    return seen


async def _streams_in_flight(base_url: str, token: str, count: int) -> None:
    """Slow streams running when the gateway is killed."""
    payload = {"model": "openai/gpt-4o", "messages": SAY_OK, "stream": True}
    headers = {"authorization": f"Bearer {token}", "x-mock-delay-ms": "100"}
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:

        async def one():
            try:
                request = http.build_request(
                    "POST", CHAT, json=payload, headers=headers
                )
                answer = await http.send(request, stream=True)
                await answer.aread()
            except httpx.HTTPError:
                pass  # the gateway died under it

        await asyncio.gather(*(one() for _ in range(count)))


def _leaks(text: str | bytes, secrets: list[str]) -> list[str]:
    """The secrets (or all of one but its last four characters) found in text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [s for s in secrets if s in text or s[:-4] in text]


async def test_no_key_anywhere_across_success_errors_and_a_crash(
    isolated_home, mock_provider
):
    home = isolated_home.data_dir
    mock_provider.options.tokens_per_second = 200
    (home / "config.toml").write_text(_config(mock_provider, free_port()))
    shown = _add_keys(home)
    revoked_id, revoked = _gateway_key(home, "old")
    assert run_cli(home, "gateway-key", "revoke", revoked_id).returncode == 0
    key_id, token = _gateway_key(home, "web")
    secrets = [*PROVIDER_KEYS.values(), CLIENT_KEY, token, revoked]

    first = GatewayProcess(home, KILO_TUI_DEBUG="1").start()
    answers = await _send_all(first.base_url, _requests(token, revoked))
    in_flight = asyncio.create_task(_streams_in_flight(first.base_url, token, 10))
    await asyncio.sleep(0.3)
    first.kill()
    await in_flight
    second = GatewayProcess(home, KILO_TUI_DEBUG="1").start()
    answers += await _send_all(second.base_url, _requests(token, revoked)[:6])
    second.stop()

    for args in (
        ("export", "--format", "json"),
        ("export", "--format", "csv"),
        ("report", "--by", "key", "--format", "json"),
        ("report", "--by", "project"),
        ("keys", "list"),
        ("gateway-key", "list"),
    ):
        result = run_cli(home, *args)
        assert result.returncode == 0, result.stderr
        shown += [result.stdout, result.stderr]

    assert len(answers) > 30
    assert _leaks("\n".join(answers), secrets) == []
    assert _leaks("\n".join(shown), secrets) == []
    logs = first.stderr + first.stdout + second.stderr + second.stdout
    assert "DEBUG" in logs  # the most talkative logging was on
    assert _leaks(logs, secrets) == []
    for path in home.iterdir():
        if not path.name.startswith("secrets.json"):
            assert _leaks(path.read_bytes(), secrets) == [], path.name
    for seen in mock_provider.received:
        assert _leaks(json.dumps(seen.headers) + seen.query, [token, revoked]) == []
    assert len(db_rows(home / "kilo.sqlite3")) > 30


def test_gateway_keys_are_stored_only_as_hashes(isolated_home):
    home = isolated_home.data_dir
    made = [_gateway_key(home, f"p{i}") for i in range(3)]
    rows = db_rows(home / "kilo.sqlite3", "SELECT * FROM gateway_keys ORDER BY id")
    by_id = {row["id"]: row for row in rows}
    for key_id, token in made:
        assert by_id[key_id]["hash"] == hashlib.sha256(token.encode()).hexdigest()
        assert by_id[key_id]["last4"] == token[-4:]
        assert _leaks(json.dumps(rows), [token]) == []


async def test_files_are_created_private(isolated_home, start_gateway, mock_provider):
    home = isolated_home.data_dir
    store = file_keystore(isolated_home)
    store.add("openai", OPENAI_KEY)
    gateway = await start_gateway(point_at(mock_provider, "openai", "/v1"))
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        await http.post(CHAT, json={"model": "openai/gpt-4o", "messages": SAY_OK})
    await gateway.store.flush()

    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    made = ["secrets.json", "kilo.sqlite3", "kilo.sqlite3-wal", "kilo.sqlite3-shm"]
    for name in made:
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name


def test_serve_refuses_a_secrets_file_others_can_read(isolated_home):
    home = isolated_home.data_dir
    file_keystore(isolated_home).add("openai", OPENAI_KEY)
    os.chmod(isolated_home.secrets_file, 0o644)

    result = run_cli(home, "serve", "--port", str(free_port()))

    assert result.returncode == 1
    assert "chmod 600" in result.stderr
    assert "Traceback" not in result.stderr
    assert _leaks(result.stdout + result.stderr, [OPENAI_KEY]) == []


async def test_secrets_file_made_readable_while_serving_is_refused_plainly(
    isolated_home, start_gateway, mock_provider, caplog
):
    caplog.set_level("DEBUG")
    file_keystore(isolated_home).add("openai", OPENAI_KEY)
    gateway = await start_gateway(point_at(mock_provider, "openai", "/v1"))
    os.chmod(isolated_home.secrets_file, 0o644)

    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        answer = await http.post(
            CHAT, json={"model": "openai/gpt-4o", "messages": SAY_OK}
        )

    assert answer.status_code == 500
    assert "key" in answer.json()["error"]["message"]
    assert mock_provider.received == []
    assert "chmod 600" in caplog.text
    assert "Traceback" not in caplog.text
    assert _leaks(caplog.text + answer.text, [OPENAI_KEY]) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {CLIENT_KEY}", "x-api-key": "{token}"},
        {"x-api-key": CLIENT_KEY, "x-goog-api-key": "{token}"},
    ],
    ids=["bearer-and-x-api-key", "x-api-key-and-goog"],
)
async def test_a_gateway_key_beside_a_client_credential_never_goes_upstream(
    start_gateway, mock_provider, headers
):
    gateway = await start_gateway(point_at(mock_provider, "openai", "/v1"))
    _, token = GatewayKeyStore(gateway.store.path).create("p")
    await gateway.gateway_keys.refresh()
    headers = {k: v.format(token=token) for k, v in headers.items()}

    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        await http.post(
            CHAT,
            json={"model": "openai/gpt-4o", "messages": SAY_OK},
            headers=headers,
        )

    for seen in mock_provider.received:
        assert _leaks(json.dumps(seen.headers) + seen.query, [token]) == []


async def test_gateway_key_in_the_query_is_replaced_by_the_stored_key(
    isolated_home, start_gateway, mock_provider
):
    gateway = await start_gateway(
        point_at(mock_provider, "google"), keys={"google": GOOGLE_KEY}
    )
    _, token = GatewayKeyStore(gateway.store.path).create("p")
    await gateway.gateway_keys.refresh()
    path = "/google/v1beta/models/gemini-2.5-flash:streamGenerateContent"

    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        answer = await http.post(
            f"{path}?alt=sse&key={token}",
            json={"contents": [{"parts": [{"text": "hi"}]}]},
        )

    assert answer.status_code == 200
    (seen,) = mock_provider.received
    assert seen.query == "alt=sse"
    assert seen.headers["x-goog-api-key"] == GOOGLE_KEY


async def test_what_the_console_can_inspect_is_masked(isolated_home, mock_provider):
    settings = settings_from_dict(point_at(mock_provider, "openai", "/v1"))
    gateway = Gateway(settings, isolated_home, capture=True)
    gateway.keys.add("openai", OPENAI_KEY)
    await gateway.start("127.0.0.1", 0)
    try:
        _, token = GatewayKeyStore(gateway.store.path).create("p")
        await gateway.gateway_keys.refresh()
        body = {"model": "openai/gpt-4o", "messages": SAY_OK}
        async with httpx.AsyncClient(base_url=gateway.base_url) as http:
            for headers in (
                {"authorization": f"Bearer {token}"},
                {"x-api-key": CLIENT_KEY},
                {"authorization": f"Bearer {CLIENT_KEY}", "cookie": f"k={token}"},
            ):
                await http.post(CHAT, json=body, headers=headers)
        ids = [r["id"] for r in await stored_records(gateway)]
        captured = [gateway.captures.get(i) for i in ids]
    finally:
        await gateway.stop()

    assert all(captured)
    shown = repr(captured)
    assert _leaks(shown, [OPENAI_KEY, CLIENT_KEY, token]) == []
    assert token[-4:] in shown and CLIENT_KEY[-4:] in shown
