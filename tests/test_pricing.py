"""PriceBook: reported figures, overrides, bundled genai-prices data, one formula."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import Usage as GenaiUsage
from genai_prices import calc_price
from hypothesis import given
from hypothesis import strategies as st

from proxy import pricing
from proxy.pricing import Price, PriceBook, Rates, Tier, name_variants
from proxy.records import Usage, decimal_text

# Bundled prices change over time; pin the moment so the figures stay fixed.
WHEN = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SONNET = {
    "input": 3,
    "output": 15,
    "cache_read": 0.3,
    "cache_write": 3.75,
    "cache_write_1h": 6,
    "tiers": [{"above_input_tokens": 200000, "input": 6, "output": 22.5}],
}


def cost(book: PriceBook, provider: str, price_id, models, usage: Usage):
    """(cost text, source) as the record stores them."""
    found, source = book.price(provider, price_id, models, usage, at=WHEN)
    return decimal_text(found), source


def test_bundled_price_without_overrides():
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)
    assert cost(PriceBook(), "openai", "openai", ["gpt-4o"], usage) == (
        "0.00325",
        "computed",
    )


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4o",
        "GPT-4o",
        "openai/gpt-4o",
        "gpt-4o-2024-08-06",
        "openai/gpt-4o-2024-08-06",
    ],
)
def test_prefixed_and_dated_names_resolve(name):
    book = PriceBook()
    expected = book.lookup("openai", "openai", ["gpt-4o"], at=WHEN)
    assert expected is not None
    assert book.lookup("openai", "openai", [name], at=WHEN) == expected


@pytest.mark.parametrize(
    ("provider", "price_id", "name", "input_rate"),
    [
        ("google", "google", "models/gemini-2.5-flash", "0.3"),
        ("anthropic", "anthropic", "claude-sonnet-4-5@20250929", "3"),
        ("anthropic", "anthropic", "anthropic/claude-sonnet-4-5-20250929", "3"),
        ("xai", "x-ai", "grok-4-0709", "3"),
        ("openrouter", "openrouter", "openrouter/qwen/qwen3-coder", "0.22"),
    ],
)
def test_bundled_names_across_providers(provider, price_id, name, input_rate):
    found = PriceBook().lookup(provider, price_id, [name], at=WHEN)
    assert found is not None
    assert found.base.input == Decimal(input_rate)


def test_mini_is_never_priced_as_its_shorter_sibling():
    book = PriceBook()
    mini = book.lookup("openai", "openai", ["gpt-4.1-mini-2025-04-14"], at=WHEN)
    assert mini == book.lookup("openai", "openai", ["gpt-4.1-mini"], at=WHEN)
    assert mini != book.lookup("openai", "openai", ["gpt-4.1"], at=WHEN)
    assert mini.base.input == Decimal("0.4")


def test_an_override_is_never_borrowed_by_a_longer_name():
    book = PriceBook({"openai/gpt-4.1": {"input": 2, "output": 8}})
    for name in ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano"):
        assert book.price("openai", None, [name], Usage(1, 0, 0, 0, 1)) == (
            None,
            "unpriced",
        )


def test_unknown_model_is_unpriced():
    usage = Usage(input_tokens=120, output_tokens=30)
    assert cost(PriceBook(), "mistral", "mistral", ["brand-new-model-x"], usage) == (
        None,
        "unpriced",
    )


def test_no_price_data_for_the_provider_is_unpriced():
    usage = Usage(input_tokens=1, output_tokens=1)
    assert cost(PriceBook(), "nebius", None, ["gpt-4o"], usage) == (None, "unpriced")
    assert cost(PriceBook(), "x", "no-such-provider", ["gpt-4o"], usage) == (
        None,
        "unpriced",
    )


def test_unknown_response_model_falls_back_to_the_requested_name():
    usage = Usage(input_tokens=1000, output_tokens=100)
    models = ["gpt-4o-future-snapshot-x", "gpt-4o"]
    assert cost(PriceBook(), "openai", "openai", models, usage)[0] == "0.0035"


def test_reported_cost_wins_over_everything():
    usage = Usage(input_tokens=10, output_tokens=10, reported_cost=Decimal("0.00151"))
    book = PriceBook({"openrouter/qwen/qwen3-coder": {"input": 1, "output": 1}})
    assert book.price("openrouter", "openrouter", ["qwen/qwen3-coder"], usage) == (
        Decimal("0.00151"),
        "reported",
    )


def test_override_beats_bundled_even_for_a_dated_response_model():
    book = PriceBook({"anthropic/claude-sonnet-4-5": {"input": 1, "output": 2}})
    models = ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"]
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost(book, "anthropic", "anthropic", models, usage) == ("3", "computed")


def test_override_keys_ignore_case():
    book = PriceBook({"OpenAI/GPT-Custom": {"input": 1, "output": 1}})
    found = book.lookup("openai", None, ["gpt-custom"])
    assert found is not None


def sonnet_cost(usage: Usage) -> str:
    """The cost text of a Claude Sonnet 4.5 request at the SONNET override."""
    book = PriceBook({"anthropic/claude-sonnet-4-5": SONNET})
    return cost(book, "anthropic", None, ["claude-sonnet-4-5"], usage)[0]


def test_tier_is_a_cliff_above_its_threshold():
    assert sonnet_cost(Usage(input_tokens=200_000, output_tokens=2000)) == "0.63"
    assert sonnet_cost(Usage(input_tokens=200_001, output_tokens=2000)) == "1.245006"


def test_tier_leaving_a_rate_out_keeps_the_base_rate():
    # The tier sets input and output only: cache rates stay at their base values.
    usage = Usage(
        input_tokens=300_000,
        cache_read_tokens=100_000,
        cache_write_tokens=50_000,
        cache_write_1h_tokens=10_000,
    )
    expected = 150_000 * 6 + 100_000 * 0.3 + 40_000 * 3.75 + 10_000 * 6
    assert Decimal(sonnet_cost(usage)) == Decimal(str(expected)) / 1_000_000


def test_highest_exceeded_tier_applies_whatever_their_order():
    price = Price(
        Rates(input=Decimal(1), output=Decimal(1)),
        (
            Tier(500, Rates(input=Decimal(3))),
            Tier(100, Rates(input=Decimal(2))),
        ),
    )
    assert price.rates_for(100).input == 1
    assert price.rates_for(101).input == 2
    assert price.rates_for(501).input == 3
    assert price.rates_for(501).output == 1


def test_missing_cache_rates_fall_back():
    rates = Rates(input=Decimal(2), output=Decimal(8)).filled()
    assert (rates.cache_read, rates.cache_write, rates.cache_write_1h) == (2, 2, 2)
    rates = Rates(input=Decimal(2), cache_write=Decimal(3)).filled()
    assert (rates.cache_write_1h, rates.output, rates.request) == (3, 0, 0)


def test_float_rates_are_exact():
    book = PriceBook({"openai/m": {"input": 0.1, "output": 0.2}})
    usage = Usage(input_tokens=3, output_tokens=3)
    assert cost(book, "openai", None, ["m"], usage)[0] == "0.0000009"


def test_string_and_decimal_rates_are_accepted():
    book = PriceBook({"openai/m": {"input": "0.1", "output": Decimal("0.2")}})
    assert book.lookup("openai", None, ["m"]).base == Rates(
        input=Decimal("0.1"), output=Decimal("0.2")
    )


def test_bundled_tiers_and_one_hour_writes():
    usage = Usage(
        input_tokens=250_000,
        cache_read_tokens=1000,
        cache_write_tokens=500,
        cache_write_1h_tokens=400,
        output_tokens=70,
    )
    models = ["claude-sonnet-4-5"]
    assert cost(PriceBook(), "anthropic", "anthropic", models, usage)[0] == "1.498725"


@pytest.mark.parametrize(
    ("price_id", "model", "counts"),
    [
        ("openai", "gpt-4o", (3000, 2048, 0, 0, 250)),
        ("anthropic", "claude-sonnet-4-5", (8012, 0, 8000, 0, 400)),
        ("anthropic", "claude-sonnet-4-5", (250_000, 1000, 500, 400, 70)),
        ("anthropic", "claude-opus-4-1", (5020, 10, 5000, 5000, 50)),
        ("google", "gemini-2.5-pro", (240_000, 20_000, 0, 0, 1500)),
        ("deepseek", "deepseek-chat", (1200, 1000, 0, 0, 300)),
        ("x-ai", "grok-4-0709", (9000, 1000, 0, 0, 3700)),
    ],
)
def test_formula_agrees_with_genai_prices(price_id, model, counts):
    prompt, read, write, hour, output = counts
    usage = Usage(prompt, read, write, hour, output)
    theirs = calc_price(
        GenaiUsage(
            input_tokens=prompt,
            cache_read_tokens=read,
            cache_write_tokens=write,
            cache_write_1h_tokens=hour,
            output_tokens=output,
        ),
        model,
        provider_id=price_id,
        genai_request_timestamp=WHEN,
    )
    ours, source = PriceBook().price(price_id, price_id, [model], usage, at=WHEN)
    assert (ours, source) == (theirs.total_price, "computed")


def test_prices_that_change_by_time_of_day():
    book = PriceBook()
    usage = Usage(input_tokens=1_000_000)
    peak = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    off_peak = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
    assert book.price("deepseek", "deepseek", ["deepseek-chat"], usage, at=peak) == (
        Decimal("0.27"),
        "computed",
    )
    assert book.price("deepseek", "deepseek", ["deepseek-chat"], usage, at=off_peak)[
        0
    ] == Decimal("0.135")


def test_per_request_fee_from_bundled_data():
    assert cost(PriceBook(), "perplexity", "perplexity", ["sonar"], Usage())[0] == (
        "0.012"
    )


def test_resolution_is_cached(monkeypatch):
    calls: list[str] = []
    real = pricing.bundled

    def spy(price_id, name):
        calls.append(name)
        return real(price_id, name)

    monkeypatch.setattr(pricing, "bundled", spy)
    book = PriceBook()
    for _ in range(3):
        book.price("openai", "openai", ["gpt-4o-2024-08-06", "gpt-4o"], Usage(1))
    assert calls == ["gpt-4o-2024-08-06"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gpt-4o": {"input": 1, "output": 1}}, "provider/model"),
        ({"openai/m": {"inptu": 1, "output": 1}}, "unknown field inptu"),
        ({"openai/m": {"input": -1, "output": 1}}, "not a price"),
        ({"openai/m": {"input": True, "output": 1}}, "not a price"),
        ({"openai/m": {"input": "cheap", "output": 1}}, "not a price"),
        ({"openai/m": {"input": float("nan"), "output": 1}}, "not a price"),
        ({"openai/m": {"input": 1}}, "input and output"),
        ({"openai/m": 3}, "table of rates"),
        ({"openai/m": {"input": 1, "output": 1, "tiers": {}}}, "list of tables"),
        ({"openai/m": {"input": 1, "output": 1, "tiers": [{"input": 2}]}}, "above"),
    ],
)
def test_bad_overrides_are_refused_by_name(overrides, message):
    with pytest.raises(ValueError, match=message) as caught:
        PriceBook(overrides)
    assert next(iter(overrides)) in str(caught.value)


def test_name_variants_most_specific_first():
    assert name_variants("openrouter/qwen/qwen3-coder") == [
        "openrouter/qwen/qwen3-coder",
        "qwen/qwen3-coder",
        "qwen3-coder",
    ]
    assert name_variants("openai/gpt-4.1-mini-2025-04-14") == [
        "openai/gpt-4.1-mini-2025-04-14",
        "openai/gpt-4.1-mini",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-mini",
    ]
    assert name_variants("claude-sonnet-4-5@20250929") == [
        "claude-sonnet-4-5@20250929",
        "claude-sonnet-4-5",
    ]
    assert name_variants("gpt-4.1-mini") == ["gpt-4.1-mini"]


counts = st.integers(-(10**6), 10**9)


@given(counts, counts, counts, counts, counts)
def test_cost_is_never_negative_even_for_inconsistent_usage(a, b, c, d, e):
    price = PriceBook({"anthropic/m": SONNET}).lookup("anthropic", None, ["m"])
    assert price.cost(Usage(a, b, c, d, e)) >= 0
