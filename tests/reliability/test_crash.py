"""Crash: a killed gateway loses at most its last second; a stopped one nothing."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from tests.reliability.helpers import (
    GatewayProcess,
    db_rows,
    eventually,
    file_keystore,
    integrity,
)

pytestmark = pytest.mark.reliability

CHAT = "/v1/chat/completions"
RATE = 50  # requests per second
RUN_SECONDS = 3.0
PROVIDER_KEY = "sk-openai-crash-secret-0007"


@pytest.fixture
def home(isolated_home, mock_provider):
    """A home whose gateway sends OpenAI traffic to the mock, with a stored key."""
    home = isolated_home.data_dir
    (home / "config.toml").write_text(
        f'[providers.openai]\nbase_url = "{mock_provider.url}/v1"\n'
    )
    file_keystore(isolated_home).add("openai", PROVIDER_KEY)
    return home


def _body(stream: bool) -> dict:
    return {
        "model": "openai/gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say ok."}],
        "stream": stream,
    }


async def _one(http: httpx.AsyncClient, label: str, stream: bool) -> float | None:
    """Send one request named by its project; when it finished, or None if it failed."""
    headers = {"x-kilo-project": label}
    try:
        async with http.stream("POST", CHAT, json=_body(stream), headers=headers) as r:
            body = await r.aread()
    except httpx.HTTPError:
        return None
    if r.status_code != 200 or (stream and not body.endswith(b"[DONE]\n\n")):
        return None
    return time.monotonic()


async def _traffic(base_url: str, stop: asyncio.Event) -> dict[str, float | None]:
    """RATE requests a second, half of them streams, until told to stop."""
    finished: dict[str, float | None] = {}
    tasks = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as http:
        n, start = 0, loop.time()
        while not stop.is_set():
            label = f"crash-{n:05d}"

            async def run(label=label, stream=n % 2 == 1):
                finished[label] = await _one(http, label, stream)

            tasks.append(asyncio.create_task(run()))
            n += 1
            # Paced on the clock, so the rate holds however long a send takes.
            await asyncio.sleep(max(0.0, start + n / RATE - loop.time()))
        await asyncio.gather(*tasks)
    return finished


def _projects(home) -> list[str]:
    rows = db_rows(home / "kilo.sqlite3", "SELECT project FROM requests")
    return [r["project"] for r in rows]


async def test_sigkill_under_load_loses_nothing_older_than_a_second(
    home, mock_provider
):
    mock_provider.options.tokens_per_second = 400  # streams last about 0.15 s
    gateway = GatewayProcess(home).start()
    stop = asyncio.Event()
    traffic = asyncio.create_task(_traffic(gateway.base_url, stop))
    await asyncio.sleep(RUN_SECONDS)

    killed_at = time.monotonic()
    gateway.kill()
    stop.set()
    finished = await traffic

    assert integrity(home / "kilo.sqlite3") == "ok"
    restarted = GatewayProcess(home).start()  # opens the log without repair
    try:
        recorded = _projects(home)
        safe = [k for k, t in finished.items() if t and t < killed_at - 1.0]
        done = [k for k, t in finished.items() if t]
        missing = sorted(set(safe) - set(recorded))
        lost = [killed_at - finished[k] for k in set(done) - set(recorded)]
        print(
            f"\ncrash: {len(finished)} requests sent at {RATE}/s, {len(done)} "
            f"finished before SIGKILL, {len(safe)} more than 1 s before it; "
            f"{len(recorded)} in the log after restart, {len(missing)} of those "
            f"missing; {len(lost)} finished ones lost, all in the last "
            f"{max(lost, default=0) * 1000:.0f} ms"
        )
        assert missing == []
        assert len(recorded) == len(set(recorded))
        assert len(safe) > RATE
    finally:
        restarted.stop()


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
async def test_sigterm_and_sigint_lose_nothing(home, mock_provider, signum):
    mock_provider.options.tokens_per_second = 64  # streams last about 1 s
    gateway = GatewayProcess(home).start()
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=20) as http:
        quick = [await _one(http, f"before-{i}", stream=False) for i in range(20)]
        slow = [
            asyncio.create_task(_one(http, f"slow-{i}", stream=True)) for i in range(20)
        ]
        assert await eventually(lambda: mock_provider.active == 20)

        code = await asyncio.to_thread(gateway.signal, signum)
        slow_done = await asyncio.gather(*slow)

    assert code == 0
    assert "every record is saved" in gateway.stdout
    assert all(quick) and all(slow_done)
    recorded = _projects(home)
    assert sorted(recorded) == sorted(
        [f"before-{i}" for i in range(20)] + [f"slow-{i}" for i in range(20)]
    )
    rows = db_rows(home / "kilo.sqlite3")
    assert all(r["status"] == 200 for r in rows)
    assert integrity(home / "kilo.sqlite3") == "ok"


async def test_restart_after_sigkill_keeps_serving_and_recording(home, mock_provider):
    gateway = GatewayProcess(home).start()
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as http:
        assert await _one(http, "first", stream=False)
    gateway.kill()

    again = GatewayProcess(home).start()
    async with httpx.AsyncClient(base_url=again.base_url, timeout=10) as http:
        assert await _one(http, "second", stream=True)
    again.stop()

    # "first" may be lost: it finished less than a second before the kill.
    assert "second" in _projects(home)
    assert integrity(home / "kilo.sqlite3") == "ok"
