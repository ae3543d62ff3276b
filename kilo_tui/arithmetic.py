"""The cost of one request written out line by line, as the gateway worked it out.

Every amount is the exact decimal, as the log holds it: nothing here is rounded.
"""

from __future__ import annotations

from decimal import Decimal

from kilo_tui.format import count, exact_money
from proxy.pricing import Rates
from proxy.records import COST_REPORTED, COST_UNPRICED, RequestRecord

MILLION = Decimal(1_000_000)


def explain(record: RequestRecord, rates: Rates | None) -> list[tuple[str, str]]:
    """(what, amount) lines ending with the total; says why when there is no sum."""
    if record.cost_source == COST_REPORTED:
        return [("reported by the provider", exact_money(record.cost_usd))]
    if record.cost_usd is None or record.cost_source == COST_UNPRICED:
        return [("no price known for this model", "unpriced")]
    if rates is None or not record.usage.complete and record.cost_usd == 0:
        return [(f"total ({record.cost_source})", exact_money(record.cost_usd))]
    parts = _parts(record, rates.filled())
    lines = [_line(label, tokens, rate) for label, tokens, rate in parts]
    total = sum((tokens * rate for _, tokens, rate in parts), Decimal(0)) / MILLION
    if rates.request:
        lines.append(("per request", exact_money(rates.request)))
        total += rates.request
    lines.append(("total", exact_money(total)))
    if total != record.cost_usd:
        lines.append(("recorded", exact_money(record.cost_usd)))
    return lines


def _parts(record: RequestRecord, r: Rates) -> list[tuple[str, int, Decimal]]:
    # The same clamping as the price book, so odd usage adds up the same way.
    u = record.usage
    prompt = max(u.input_tokens, 0)
    read = min(max(u.cache_read_tokens, 0), prompt)
    write = min(max(u.cache_write_tokens, 0), prompt - read)
    hour = min(max(u.cache_write_1h_tokens, 0), write)
    parts = [
        ("input", prompt - read - write, r.input),
        ("cache read", read, r.cache_read),
        ("cache write", write - hour, r.cache_write),
        ("cache write (1h)", hour, r.cache_write_1h),
        ("output", max(u.output_tokens, 0), r.output),
    ]
    return [(label, tokens, rate) for label, tokens, rate in parts if tokens]


def _line(label: str, tokens: int, rate: Decimal) -> tuple[str, str]:
    amount = exact_money(tokens * rate / MILLION)
    return f"{label}: {count(tokens)} × {exact_money(rate)}/M", amount
