"""Formatting, the bounded window, rates, masking and the cost arithmetic."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from kilo_tui.arithmetic import explain
from kilo_tui.feed import LiveFeed
from kilo_tui.format import (
    compact,
    duration,
    exact_money,
    fit,
    money,
    plain,
    short_status,
    status_label,
)
from kilo_tui.live_state import LiveState
from kilo_tui.masking import mask_headers, pretty_body
from kilo_tui.stats import RateMeter
from kilo_tui.window import LiveWindow
from proxy.events import Phase
from proxy.pricing import Rates
from proxy.records import COST_REPORTED, Usage
from tests.console.records import record


def test_money_keeps_small_costs_visible_and_never_shows_unpriced_as_zero():
    # Four significant digits below a dollar (at most six places), cents above.
    assert money(Decimal("0.0031594")) == "$0.003159"
    assert money(Decimal("0.000123")) == "$0.000123"
    assert money(Decimal("0.000061234")) == "$0.000061"
    assert money(Decimal("0.0456")) == "$0.04560"
    assert money(Decimal("0.99999")) == "$1.00"
    assert money(Decimal("1234.5")) == "$1,234.50"
    assert money(Decimal(0)) == "$0.00"
    assert money(None) == "unpriced"


def test_money_never_rounds_a_real_cost_to_zero():
    # An embedding's cost: never "$0.00000004000", never "$0.0000".
    assert money(Decimal("0.00000004")) == "<$0.000001"
    assert money(Decimal("0.00000004"), floor=4) == "<$0.0001"
    assert money(Decimal("0.000061"), floor=4) == "$0.0001"
    assert money(Decimal("0.004"), floor=2) == "<$0.01"
    assert len(money(Decimal("99999.99"))) <= 10


def test_exact_money_keeps_every_digit():
    assert exact_money(Decimal("0.00000004000")) == "$0.00000004"
    assert exact_money(Decimal("3")) == "$3.00"
    assert exact_money(Decimal("0.0228")) == "$0.0228"


def test_short_status_fits_the_column():
    assert short_status(record(1, status="client_disconnected")) == "disconn"
    assert short_status(record(1, status="upstream_error")) == "upstream"
    assert short_status(record(1, status="timeout")) == "timeout"
    assert short_status(record(1, status=429)) == "429"
    assert short_status(record(1, in_flight=True, stream=True)) == "streaming"


def test_plain_shows_control_characters_instead_of_running_them():
    assert plain("[red]x\x1b[2J") == "[red]x␛[2J"
    assert plain("a\x07b\x7fc\x9bd") == "a␇b␡c�d"
    assert plain("日本語 ok") == "日本語 ok"


def test_fit_counts_terminal_cells():
    assert fit("日本語", 6) == "日本語"
    assert fit("日本語", 5) == "日本…"
    assert fit("web", 5, right=True) == "  web"
    assert fit("abcdef", 4) == "abc…"


def test_compact_and_duration():
    assert compact(950) == "950"
    assert compact(12_300) == "12.3k"
    assert duration(None) == "–"
    assert duration(850) == "850ms"
    assert duration(1500) == "1.5s"
    assert duration(125_000) == "2m05s"


def test_status_labels():
    assert status_label(record(1)) == "ok"
    assert status_label(record(1, status=429)) == "429"
    assert status_label(record(1, in_flight=True, stream=True)) == "streaming"
    assert status_label(record(1, status="upstream_error")) == "upstream error"


def test_window_is_bounded_and_updates_in_place():
    window = LiveWindow(3)
    first = window.apply({f"r{i}": record(i, id=f"r{i}") for i in range(3)})
    assert len(first.added) == 3
    again = window.apply({"r1": record(1, id="r1", status=500)})
    assert [r.id for r in again.updated] == ["r1"]
    assert window.get("r1").status == 500
    more = window.apply({"r9": record(9, id="r9")})
    assert more.evicted == ["r0"] and len(window) == 3


def test_feed_copies_records_so_later_changes_do_not_leak():
    feed = LiveFeed()
    original = record(1, in_flight=True)
    feed(Phase.STARTED, original)
    original.in_flight = False
    original.usage.output_tokens = 999
    [(phase, copy)] = feed.drain()
    assert phase is Phase.STARTED and copy.in_flight
    assert copy.usage.output_tokens == 100


def test_live_state_counts_finished_requests_once():
    state = LiveState(window=10)
    running = record(1, in_flight=True)
    done = replace(running, in_flight=False)
    batch = state.ingest([(Phase.STARTED, running), (Phase.FINISHED, done)], now=100.0)
    assert [r.id for r in batch.changes.added] == [done.id]
    assert not state.in_flight
    rates = state.meter.rates(105.0)
    assert rates.requests_per_s == 0.1
    assert rates.usd_per_hour == Decimal("0.00056") * 60


def test_rates_forget_the_old_minute():
    meter = RateMeter()
    meter.add(record(1, status=500), 10.0)
    assert meter.rates(11.0).error_rate == 1.0
    assert meter.rates(200.0).error_rate == 0.0
    assert len(meter.rates(200.0).history) == 60


def test_masking_headers_and_bodies():
    headers = mask_headers(
        {"Authorization": "Bearer sk-kilo-abcdefghijklmnop", "X-Title": "Kilo Code"}
    )
    assert headers == {"Authorization": "…mnop", "X-Title": "Kilo Code"}
    text, lexer = pretty_body(b'{"api_key": "sk-1234567890abcdefgh", "n": 1}')
    assert lexer == "json"
    assert "sk-1234567890" not in text and "…efgh" in text
    raw, _ = pretty_body(b"data: token sk-ant-api03-abcdefghijklmn\n\n")
    assert "abcdefghij" not in raw
    # A captured stream grows in a bytearray.
    stream, lexer = pretty_body(bytearray(b'data: {"id": 1}\n\ndata: [DONE]\n\n'))
    assert lexer == "text" and stream.startswith('data: {"id": 1}')


def test_cost_arithmetic_adds_up_to_the_recorded_cost():
    rates = Rates(
        input=Decimal("3"),
        output=Decimal("15"),
        cache_read=Decimal("0.3"),
        cache_write=Decimal("3.75"),
    )
    usage = Usage(
        input_tokens=10_000,
        cache_read_tokens=6000,
        cache_write_tokens=2000,
        output_tokens=500,
        complete=True,
    )
    cost = (2000 * 3 + 6000 * Decimal("0.3") + 2000 * Decimal("3.75") + 500 * 15) / (
        Decimal(10) ** 6
    )
    lines = explain(record(1, usage=usage, cost_usd=cost), rates)
    assert lines[-1] == ("total", "$0.0228")
    assert lines[0] == ("input: 2,000 × $3.00/M", "$0.006")
    assert [label.split(":")[0] for label, _ in lines[:-1]] == [
        "input",
        "cache read",
        "cache write",
        "output",
    ]


def test_cost_arithmetic_for_reported_and_unpriced():
    reported = record(1, cost_usd=Decimal("0.01"), cost_source=COST_REPORTED)
    assert explain(reported, None) == [("reported by the provider", "$0.01")]
    assert explain(record(2, cost_usd=None), None)[0][1] == "unpriced"
