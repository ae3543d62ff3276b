"""The Live filter language."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kilo_tui.filters import FilterError, parse
from tests.console.records import record

OK = record(1)
ANTHROPIC_500 = record(
    2,
    provider="anthropic",
    model="claude-sonnet-4-5",
    project="api",
    surface="kilo-code",
    status=500,
    cost_usd=Decimal(0),
)
EXPENSIVE = record(3, cost_usd=Decimal("0.25"), output_tokens=9000)
UNPRICED = record(4, provider="local", model="qwen", cost_usd=None)
RUNNING = record(5, in_flight=True, stream=True, status=0)
DISCONNECTED = record(6, status="client_disconnected", cost_usd=Decimal(0))
ALL = [OK, ANTHROPIC_500, EXPENSIVE, UNPRICED, RUNNING, DISCONNECTED]


def ids(text: str) -> list[str]:
    flt = parse(text)
    return [r.id for r in ALL if flt.matches(r)]


def test_empty_filter_matches_everything():
    assert ids("") == [r.id for r in ALL]
    assert not parse("  ").active


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("provider:anthropic", [ANTHROPIC_500]),
        ("PROVIDER:Anthropic", [ANTHROPIC_500]),
        ("model:sonnet", [ANTHROPIC_500]),
        ("project:api", [ANTHROPIC_500]),
        ("surface:kilo", [ANTHROPIC_500]),
        ("status:5xx", [ANTHROPIC_500]),
        ("status:500", [ANTHROPIC_500]),
        ("status:error", [ANTHROPIC_500, DISCONNECTED]),
        ("status:streaming", [RUNNING]),
        ("status:disconnected", [DISCONNECTED]),
        ("cost>0.01", [EXPENSIVE]),
        ("cost>=0.00056", [OK, EXPENSIVE]),
        ("cost:unpriced", [UNPRICED]),
        ("output>5000", [EXPENSIVE]),
        ("qwen", [UNPRICED]),
        ("-provider:openai", [ANTHROPIC_500, UNPRICED]),
        ("provider:openai cost>0.01", [EXPENSIVE]),
    ],
)
def test_terms(text, expected):
    assert ids(text) == [r.id for r in expected]


def test_status_ok_excludes_running_and_failed():
    assert ids("status:ok") == [OK.id, EXPENSIVE.id, UNPRICED.id]


def test_quoted_free_text_keeps_its_space():
    flt = parse('"gpt-4.1 mini"')
    assert not flt.matches(OK)


@pytest.mark.parametrize("text", ["cost>abc", "colour:red", 'model:"open'])
def test_errors_name_the_problem(text):
    with pytest.raises(FilterError) as err:
        parse(text)
    assert str(err.value)
