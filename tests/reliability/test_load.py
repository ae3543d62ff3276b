"""Load: 500 concurrent streams of 100 chunks through one gateway process."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from proxy.mock import MockOptions, MockProvider
from tests.reliability.helpers import GatewayProcess, db_rows, file_keystore

pytestmark = pytest.mark.reliability

STREAMS = 500
CHUNKS = 100
PROVIDER_KEY = "sk-openai-load-secret-0006"


@pytest.fixture
async def load_mock():
    """A mock that streams 100 content chunks per answer, as fast as it can."""
    mock = MockProvider(MockOptions(chunks=CHUNKS, output_tokens=CHUNKS))
    await mock.start()
    yield mock
    await mock.stop()


@pytest.fixture
def gateway_process(isolated_home, load_mock):
    """`kilo-tui serve` in its own process, sending OpenAI traffic to the mock."""
    home = isolated_home.data_dir
    (home / "config.toml").write_text(
        f'[providers.openai]\nbase_url = "{load_mock.url}/v1"\n'
    )
    file_keystore(isolated_home).add("openai", PROVIDER_KEY)
    process = GatewayProcess(home).start()
    yield process
    process.stop()


def _payload(index: int) -> bytes:
    """A stream request whose model name, echoed in every chunk, is its own."""
    return json.dumps(
        {
            "model": f"openai/load-{index:04d}",
            "messages": [{"role": "user", "content": f"stream number {index}"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()


async def _stream(http: aiohttp.ClientSession, url: str, index: int) -> bytes:
    """Everything one client received, in the order it arrived."""
    async with http.post(url, data=_payload(index)) as answer:
        assert answer.status == 200
        return b"".join([chunk async for chunk in answer.content.iter_any()])


async def _run_load(base_url: str, indices: range) -> list[bytes]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        url = base_url + "/v1/chat/completions"
        return await asyncio.gather(*(_stream(http, url, i) for i in indices))


def _check_round(mock: MockProvider, indices: range, received: list[bytes]) -> None:
    """Every client got exactly the bytes the provider sent it, in order."""
    sent = {seen.json["model"]: bytes(seen.sent) for seen in mock.received}
    assert len(sent) == len(indices)
    for index, body in zip(indices, received, strict=True):
        assert body == sent[f"load-{index:04d}"], index
        assert body.count(b"\n\n") == CHUNKS + 3  # content, finish, usage, [DONE]
    mock.received.clear()


async def _settled_rss(process: GatewayProcess) -> int:
    """Resident memory once the burst's objects have been let go."""
    await asyncio.sleep(2.0)
    return process.rss_kb()


async def test_500_concurrent_streams_arrive_whole_and_are_recorded_once(
    gateway_process, load_mock
):
    await _run_load(gateway_process.base_url, range(20))  # warm up
    await asyncio.sleep(0.5)
    load_mock.received.clear()
    rss_before = gateway_process.rss_kb()
    rounds = [range(1000, 1000 + STREAMS), range(2000, 2000 + STREAMS)]
    elapsed, rss_after = [], []

    for indices in rounds:
        started = time.perf_counter()
        received = await _run_load(gateway_process.base_url, indices)
        elapsed.append(time.perf_counter() - started)
        _check_round(load_mock, indices, received)
        rss_after.append(await _settled_rss(gateway_process))

    rows = db_rows(gateway_process.home / "kilo.sqlite3")
    assert len(rows) == 20 + 2 * STREAMS
    assert len({r["id"] for r in rows}) == len(rows)
    models = {r["model"] for r in rows}
    assert all(f"load-{i:04d}" in models for r in rounds for i in r)
    assert all(r["status"] == 200 and r["output_tokens"] == CHUNKS for r in rows)
    _print_figures(rss_before, gateway_process.peak_rss_kb(), rss_after, elapsed)


def _print_figures(before: int, peak: int, after: list[int], elapsed: list[float]):
    mib = 1024
    print(
        f"\nload: {STREAMS} concurrent streams x {CHUNKS} chunks, twice; "
        f"{' s, '.join(f'{e:.2f}' for e in elapsed)} s; gateway RSS "
        f"{before / mib:.1f} MiB before, peak {peak / mib:.1f} MiB, after each "
        + ", ".join(f"{a / mib:.1f} MiB ({(a - before) / before:+.0%})" for a in after)
    )
