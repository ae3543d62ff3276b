"""A reproducible request log for screenshots and tests: a week of mixed traffic."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from proxy.config import Settings
from proxy.pricing import PriceBook
from proxy.records import COST_COMPUTED, RequestRecord, Usage
from proxy.store import connect, insert_rows, record_row

# (provider, model, project, surface, weight, prompt, output, cache share)
TRAFFIC = (
    ("mistral", "codestral-latest", "web", "continue", 30, (600, 2400), (12, 90), 0.0),
    ("openai", "gpt-4.1-mini", "web", "continue", 20, (600, 2400), (12, 90), 0.0),
    (
        "anthropic",
        "claude-sonnet-4-5",
        "api",
        "kilo-code",
        14,
        (20e3, 70e3),
        (250, 1400),
        0.8,
    ),
    (
        "anthropic",
        "claude-haiku-4-5",
        "api",
        "kilo-code",
        6,
        (8e3, 30e3),
        (150, 900),
        0.7,
    ),
    ("deepseek", "deepseek-chat", "api", "cline", 10, (9e3, 40e3), (200, 1200), 0.6),
    ("xai", "grok-code-fast-1", "infra", "aider", 6, (4e3, 16e3), (300, 1200), 0.3),
    (
        "deepseek",
        "deepseek-reasoner",
        "infra",
        "aider",
        3,
        (4e3, 16e3),
        (600, 2400),
        0.2,
    ),
    ("openai", "gpt-4.1", "default", "chat", 5, (200, 3000), (80, 700), 0.2),
    ("google", "gemini-2.5-flash", "research", "chat", 4, (200, 3000), (80, 700), 0.1),
    ("local", "qwen2.5-coder:7b", "default", "chat", 2, (200, 3000), (80, 700), 0.0),
)
ERRORS = ((429, 0.03), (500, 0.01), ("client_disconnected", 0.01))


def seed_records(now: datetime, count: int = 600, days: int = 7, seed: int = 7):
    """`count` finished requests over the last `days`, priced like the gateway."""
    rng = random.Random(seed)
    book = PriceBook()
    settings = Settings()
    weights = [t[4] for t in TRAFFIC]
    records = []
    for n in range(count):
        spec = rng.choices(TRAFFIC, weights)[0]
        age = timedelta(seconds=rng.random() ** 1.6 * days * 86400)
        records.append(_record(rng, book, settings, spec, now - age, n))
    return sorted(records, key=lambda r: r.started_at)


def _record(rng, book, settings, spec, started: datetime, n: int) -> RequestRecord:
    provider, model, project, surface, _, prompt, output, cache = spec
    usage = _usage(rng, prompt, output, cache, model)
    status = _status(rng)
    record = RequestRecord(
        id=f"seed{n:05d}",
        started_at=started,
        provider=provider,
        model=model,
        project=project,
        surface=surface,
        status=status,
        stream=usage.output_tokens > 200,
        path="/v1/messages" if provider == "anthropic" else "/v1/chat/completions",
        latency_ms=rng.uniform(0.3, 1.0) * (200 + usage.output_tokens * 12),
        ttfb_ms=rng.uniform(90, 900),
    )
    if status != 200:
        record.cost_usd, record.cost_source = Decimal(0), COST_COMPUTED
        return record
    record.usage = usage
    price_id = getattr(settings.providers.get(provider), "price_id", None)
    record.cost_usd, record.cost_source = book.price(
        provider, price_id, [model], usage, at=started
    )
    return record


def _usage(rng, prompt, output, cache, model) -> Usage:
    total = int(rng.uniform(*prompt))
    cached = int(total * rng.uniform(0.5, 0.95)) if rng.random() < cache else 0
    out = int(rng.uniform(*output))
    reasoning = int(out * 0.6) if "reasoner" in model else 0
    return Usage(
        input_tokens=total,
        cache_read_tokens=cached,
        output_tokens=out,
        reasoning_tokens=reasoning,
        complete=True,
    )


def _status(rng) -> int | str:
    roll = rng.random()
    for status, share in ERRORS:
        if roll < share:
            return status
        roll -= share
    return 200


def seed_database(path: Path, now: datetime, count: int = 600, seed: int = 7):
    """Write a seeded week of requests to the log at `path`; returns the records."""
    records = seed_records(now, count, seed=seed)
    conn = connect(path)
    try:
        insert_rows(conn, [record_row(r) for r in records])
    finally:
        conn.close()
    return records


def seed_keys(paths) -> None:
    """Two made-up provider keys (one checked) and two gateway keys, one revoked."""
    from proxy.gateway_keys import GatewayKeyStore
    from proxy.keystore import KeyStore

    store = KeyStore(paths)
    store.add("anthropic", "sk-ant-made-up-for-pictures-7Qx2")
    store.add("deepseek", "sk-made-up-for-pictures-00a9", label="team")
    store.record_check("anthropic", "default", "valid", 212.0, "HTTP 200, 9 models")
    keys = GatewayKeyStore(paths.database())
    keys.create("web")
    old, _ = keys.create("scratch")
    keys.revoke(old)
