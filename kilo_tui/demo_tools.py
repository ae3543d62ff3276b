"""The imitated tools of demo mode: who sends what, how often, and how big."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tool:
    """One imitated tool: its identity headers, its habits, and where it sends."""

    name: str
    headers: dict[str, str]
    projects: tuple[str, ...]
    # (route kind, model) pairs it picks from; kinds are "openai", "anthropic",
    # "gemini".
    models: tuple[tuple[str, str], ...]
    every_s: float  # mean seconds between its requests
    prompt: tuple[int, int]  # fresh prompt tokens, low and high
    cached: tuple[int, int]  # cache-read tokens, low and high
    output: tuple[int, int]
    stream: float  # share of requests streamed
    cache_hit: float  # share of requests that hit the prompt cache
    wait_ms: tuple[int, int] = (200, 800)  # the provider's time to first byte


TOOLS: tuple[Tool, ...] = (
    Tool(
        "autocomplete",
        {"User-Agent": "Continue/1.1.52 (vscode)"},
        ("web", "api"),
        (("openai", "mistral/codestral-latest"), ("openai", "openai/gpt-4.1-mini")),
        every_s=0.9,
        prompt=(600, 2400),
        cached=(0, 0),
        output=(12, 90),
        stream=0.0,
        cache_hit=0.0,
        wait_ms=(120, 400),
    ),
    Tool(
        "agent",
        {"X-Title": "Kilo Code", "User-Agent": "kilo-code/4.80"},
        ("api", "web"),
        (
            ("anthropic", "claude-sonnet-4-5"),
            ("anthropic", "claude-haiku-4-5"),
            ("openai", "deepseek/deepseek-chat"),
        ),
        every_s=4.0,
        prompt=(1500, 9000),
        cached=(12_000, 60_000),
        output=(250, 1400),
        stream=1.0,
        cache_hit=0.8,
        wait_ms=(500, 1800),
    ),
    Tool(
        "reviewer",
        {"User-Agent": "aider/0.86.1"},
        ("infra",),
        (("openai", "xai/grok-code-fast-1"), ("openai", "deepseek/deepseek-reasoner")),
        every_s=7.0,
        prompt=(4000, 16_000),
        cached=(0, 4000),
        output=(300, 1200),
        stream=0.3,
        cache_hit=0.3,
        wait_ms=(700, 2500),
    ),
    Tool(
        "chat",
        {"User-Agent": "OpenAI/Python 1.109.1", "X-Kilo-Surface": "chat"},
        ("default", "research"),
        (
            ("openai", "openai/gpt-4.1"),
            ("gemini", "gemini-2.5-flash"),
            ("openai", "local/qwen2.5-coder:7b"),
        ),
        every_s=5.0,
        prompt=(200, 3000),
        cached=(0, 1024),
        output=(80, 700),
        stream=0.8,
        cache_hit=0.2,
        wait_ms=(300, 900),
    ),
)

# Faults the mock provider injects, with how often each tool meets one.
FAULTS = (("status:429", 0.025), ("status:500", 0.01), ("cut", 0.005))


@dataclass(frozen=True, slots=True)
class Plan:
    """One request to send."""

    tool: Tool
    kind: str
    model: str
    project: str
    prompt: int
    cached: int
    output: int
    stream: bool
    fault: str | None
    wait_ms: int = 0


def plan(tool: Tool, rng: random.Random) -> Plan:
    """Draw the next request of a tool."""
    kind, model = rng.choice(tool.models)
    hit = rng.random() < tool.cache_hit
    return Plan(
        tool,
        kind,
        model,
        rng.choice(tool.projects),
        rng.randint(*tool.prompt),
        rng.randint(*tool.cached) if hit else 0,
        rng.randint(*tool.output),
        rng.random() < tool.stream,
        _fault(rng),
        rng.randint(*tool.wait_ms),
    )


def _fault(rng: random.Random) -> str | None:
    roll = rng.random()
    for fault, share in FAULTS:
        if roll < share:
            return fault
        roll -= share
    return None
