"""Demo mode: mock providers on loopback and imitated tools sending them traffic.

Every request is real HTTP over loopback through the embedded gateway, so the console
shows exactly what it would show for real tools; only the upstream is simulated.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from dataclasses import replace

import httpx

from kilo_tui.demo_tools import TOOLS, Plan, Tool, plan
from kilo_tui.host import GatewayHost
from kilo_tui.key_stores import forget_demo_keys
from proxy.config import Paths, Settings
from proxy.mock import MockOptions, MockProvider
from proxy.registry import custom_provider, with_base_url

log = logging.getLogger(__name__)

# The providers the imitated tools use, and which mock answers for each.
SLOW_PROVIDERS = ("anthropic", "deepseek")
FAST_PROVIDERS = ("openai", "mistral", "xai", "google")
MAX_IN_FLIGHT = 256


def demo_settings(settings: Settings, fast_url: str, slow_url: str) -> Settings:
    """Settings whose providers all point at the mocks and need no key."""
    providers = dict(settings.providers)
    for pid in (*SLOW_PROVIDERS, *FAST_PROVIDERS):
        url = slow_url if pid in SLOW_PROVIDERS else fast_url
        providers[pid] = replace(with_base_url(providers[pid], url), key_optional=True)
    # A local model with no known price, so unpriced requests show up as such.
    providers["local"] = custom_provider("local", fast_url + "/v1", "Local (Ollama)")
    return replace(settings, providers=providers)


class DemoHost(GatewayHost):
    """The gateway on mocks, with imitated tools sending it traffic."""

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        *,
        rate: float = 1.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(settings, paths, demo=True)
        self.rate = rate
        self.seed = seed
        self._loop = asyncio.new_event_loop()
        self._thread = None
        self._demo_thread = threading.Thread(
            target=self._loop.run_forever, name="kilo-demo", daemon=True
        )
        self._mocks: list[MockProvider] = []
        self._traffic: asyncio.Future | None = None

    def serve(self) -> None:
        """Start the mocks, then the gateway on a free port, then the traffic."""
        self._demo_thread.start()
        fast, slow = self._run(_start_mocks(self.seed)).result(10)
        self._mocks = [fast, slow]
        # Never the configured port: tools pointed at the real gateway must never
        # get mock answers, so the demo takes whatever port is free.
        self.settings = replace(
            demo_settings(self.settings, fast.url, slow.url), port=0
        )
        self.paths.ensure()
        forget_demo_keys(self.keys)
        super().serve()
        traffic = DemoTraffic(self.gateway.base_url, self.rate, self.seed)
        self._traffic = self._run(traffic.run())

    def stop(self) -> None:
        """Stop the traffic first, then the gateway (flushing), then the mocks."""
        if self._traffic is not None:
            self._loop.call_soon_threadsafe(self._traffic.cancel)
        super().stop()
        if self._demo_thread.is_alive():
            for mock in self._mocks:
                self._run(mock.stop()).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._demo_thread.join(5)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop)


async def _start_mocks(seed: int | None) -> tuple[MockProvider, MockProvider]:
    # Quick answers for autocomplete and chat; long, slow streams for agents.
    fast = MockProvider(
        MockOptions(tokens_per_second=400, chunks=10, output_tokens=200, seed=seed)
    )
    slow = MockProvider(
        MockOptions(tokens_per_second=60, chunks=30, output_tokens=480, seed=seed)
    )
    for mock in (fast, slow):
        mock.keep_received = False
        await mock.start()
    return fast, slow


class DemoTraffic:
    """Imitated tools sending requests to the gateway, each at its own pace."""

    def __init__(self, base_url: str, rate: float = 1.0, seed: int | None = None):
        self.base_url = base_url
        self.rate = max(rate, 0.01)
        self.rng = random.Random(seed)
        self.sent = 0
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def run(self) -> None:
        """Run every tool until cancelled."""
        # trust_env=False: never route demo traffic through a proxy from the
        # environment; it goes to the loopback gateway and nowhere else.
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT)
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=120, trust_env=False, limits=limits
        ) as client:
            async with asyncio.TaskGroup() as group:
                for tool in TOOLS:
                    group.create_task(self._tool_loop(client, tool, group))

    async def _tool_loop(self, client, tool: Tool, group: asyncio.TaskGroup) -> None:
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate / tool.every_s))
            await self._slots.acquire()
            group.create_task(self._send(client, plan(tool, self.rng)))

    async def _send(self, client: httpx.AsyncClient, p: Plan) -> None:
        try:
            method, url, body = request_for(p)
            async with client.stream(
                method, url, json=body, headers=headers_for(p)
            ) as r:
                async for _ in r.aiter_raw():
                    pass
            self.sent += 1
        except httpx.HTTPError as exc:
            log.debug("demo request failed: %s", exc)
        finally:
            self._slots.release()


def headers_for(p: Plan) -> dict[str, str]:
    """The tool's identity, its project, and what the mock should answer."""
    headers = dict(p.tool.headers)
    headers["X-Kilo-Project"] = p.project
    headers["x-mock-output-tokens"] = str(p.output)
    headers["x-mock-cached-tokens"] = str(p.cached)
    headers["x-mock-delay-ms"] = str(p.wait_ms)
    if p.fault:
        headers["x-mock-fault"] = p.fault
    if p.kind == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
    return headers


def request_for(p: Plan) -> tuple[str, str, dict]:
    """(method, path, JSON body) for a plan, in the tool's API dialect."""
    # The mock counts about four characters of prompt as one token.
    text = "lorem " * (p.prompt * 4 // 6)
    if p.kind == "anthropic":
        body = {
            "model": p.model,
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": text}],
            "stream": p.stream,
        }
        return "POST", "/v1/messages", body
    if p.kind == "gemini":
        action = "streamGenerateContent?alt=sse" if p.stream else "generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
        return "POST", f"/google/v1beta/models/{p.model}:{action}", body
    body = {"model": p.model, "messages": [{"role": "user", "content": text}]}
    if p.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return "POST", "/v1/chat/completions", body
