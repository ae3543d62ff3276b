"""Fuzzing: the stream parser, usage normalisation, body rewriting and the log row."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.config import Settings
from proxy.pricing import PriceBook
from proxy.records import RequestRecord, Usage
from proxy.requestbody import rewrite_body
from proxy.routing import openai_route
from proxy.sse import SSEEvent, SSEParser
from proxy.store import COLUMNS, connect, insert_rows, record_row
from proxy.usage import UsageMeter

pytestmark = pytest.mark.reliability

FUZZ = settings(max_examples=150, deadline=None)

# --- the stream parser ----------------------------------------------------------

line_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\ufeff"),
    max_size=16,
)
comments = st.lists(line_text.map(lambda t: ":" + t), max_size=2)
unknown_fields = st.lists(
    st.tuples(st.sampled_from(["id", "retry", "foo", "Data", "event "]), line_text).map(
        lambda kv: f"{kv[0]}: {kv[1]}"
    ),
    max_size=2,
)


@st.composite
def sse_streams(draw):
    """Events with comments and unknown fields anywhere, mixed LF/CRLF endings."""
    lines: list[str] = []
    expected: list[SSEEvent] = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.one_of(st.none(), line_text))
        data = draw(st.lists(line_text, min_size=1, max_size=3))
        lines += draw(comments)
        if name is not None:
            value = draw(st.sampled_from(["", " "])) + name
            lines.append(f"event:{value}")
            name = value.removeprefix(" ")  # one space after the colon is not kept
        for value in data:
            lines += draw(comments) + draw(unknown_fields)
            lines.append(f"data: {value}")
        lines += draw(comments)
        lines.append("")
        expected.append(SSEEvent(name or None, "\n".join(data)))
        if draw(st.booleans()):  # a keep-alive block of its own
            lines += [": keep-alive", ""]
    ending = st.sampled_from(["\n", "\r\n"])
    endings = draw(st.lists(ending, min_size=len(lines), max_size=len(lines)))
    raw = "".join(line + end for line, end in zip(lines, endings, strict=True))
    return raw.encode(), expected


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c % (len(raw) + 1) for c in cuts), len(raw)]
    return [raw[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _parse(pieces: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    return [event for piece in pieces for event in parser.feed(piece)]


@FUZZ
@given(sse_streams(), st.lists(st.integers(0, 10**6), max_size=12))
def test_parser_ignores_comments_and_unknown_fields_whatever_the_split(stream, cuts):
    raw, expected = stream
    assert _parse([raw]) == expected
    assert _parse(_split(raw, cuts)) == expected


# --- usage normalisation --------------------------------------------------------

junk = st.one_of(
    st.integers(-(10**20), 10**20),
    st.integers(0, 10**7),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.just([]),
    st.just({}),
)


def _fields(names: list[str]):
    """A dict where each of names may be missing or hold any junk value."""
    return st.fixed_dictionaries({}, optional={name: junk for name in names})


openai_usage = st.builds(
    lambda top, prompt, completion: (
        top | {"prompt_tokens_details": prompt, "completion_tokens_details": completion}
    ),
    _fields(
        [
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "prompt_cache_hit_tokens",
            "prompt_cache_miss_tokens",
            "input_tokens",
            "output_tokens",
            "cost",
        ]
    ),
    _fields(["cached_tokens", "cache_write_tokens"]),
    _fields(["reasoning_tokens"]),
)
anthropic_usage = st.builds(
    lambda top, life: top | {"cache_creation": life},
    _fields(
        [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
        ]
    ),
    _fields(["ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"]),
)
gemini_usage = _fields(
    [
        "promptTokenCount",
        "cachedContentTokenCount",
        "candidatesTokenCount",
        "thoughtsTokenCount",
        "toolUsePromptTokenCount",
        "totalTokenCount",
    ]
)


def _openai_events(usages: list[dict]) -> list[tuple[str | None, dict]]:
    chunk = {"choices": [{"delta": {"content": "hi"}}], "usage": None}
    return [(None, chunk)] + [(None, {"choices": [], "usage": u}) for u in usages]


def _anthropic_events(usages: list[dict]) -> list[tuple[str | None, dict]]:
    first, *rest = usages or [{}]
    events = [("message_start", {"type": "message_start", "message": {"usage": first}})]
    events.append(("ping", {"type": "ping"}))
    events += [("message_delta", {"type": "message_delta", "usage": u}) for u in rest]
    return events


def _gemini_events(usages: list[dict]) -> list[tuple[str | None, dict]]:
    return [(None, {"candidates": [], "usageMetadata": u}) for u in usages]


DIALECTS = {
    "openai": (openai_usage, _openai_events),
    "anthropic": (anthropic_usage, _anthropic_events),
    "gemini": (gemini_usage, _gemini_events),
}


@st.composite
def usage_streams(draw):
    """A stream in one dialect whose usage fields hold random values."""
    dialect = draw(st.sampled_from(sorted(DIALECTS)))
    usage_shape, events_of = DIALECTS[dialect]
    usages = draw(st.lists(usage_shape, min_size=1, max_size=3))
    parts = []
    for name, body in events_of(usages):
        parts += [f": {c}\n" for c in draw(st.lists(st.sampled_from(["x", ""])))]
        head = f"event: {name}\n" if name else ""
        text = json.dumps(body, default=str)
        parts.append(f"{head}data: {text}\n\n")
    return dialect, "".join(parts).encode()


def assert_sane(usage: Usage) -> None:
    """No count below zero and no part larger than its whole."""
    assert (
        min(
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.cache_write_1h_tokens,
            usage.output_tokens,
            usage.reasoning_tokens,
        )
        >= 0
    )
    assert usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
    assert usage.cache_write_1h_tokens <= usage.cache_write_tokens
    assert usage.reasoning_tokens <= usage.output_tokens
    assert usage.reported_cost is None or usage.reported_cost >= 0


def _meter(dialect: str, provider: str, pieces: list[bytes]) -> Usage:
    meter = UsageMeter(dialect, provider)
    parser = SSEParser()
    for piece in pieces:
        for event in parser.feed(piece):
            meter.feed_event(event)
    return meter.usage


PRICES = PriceBook({"openai/gpt-4o": {"input": 2.5, "output": 10, "cache_read": 1.25}})


@FUZZ
@given(
    usage_streams(),
    st.sampled_from(["openai", "openrouter", "deepseek", "xai"]),
    st.lists(st.integers(0, 10**6), max_size=8),
)
def test_random_usage_values_never_raise_go_negative_or_break_sums(
    stream, provider, cuts
):
    dialect, raw = stream
    whole = _meter(dialect, provider, [raw])
    split = _meter(dialect, provider, _split(raw, cuts))
    assert whole == split
    assert_sane(whole)
    cost, _ = PRICES.price("openai", "openai", ["gpt-4o"], whole)
    assert cost is None or cost >= 0


@FUZZ
@given(usage_streams())
def test_random_usage_in_a_whole_body_is_sane(stream):
    dialect, raw = stream
    for event in SSEParser().feed(raw):
        meter = UsageMeter(dialect, "openrouter")
        meter.feed_body(event.data.encode())
        assert_sane(meter.usage)


# --- rewriting the request body -------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.text(max_size=10), st.floats(0, 9)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner)
    ),
    max_leaves=10,
)
model_names = st.text(
    st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda name: name.strip() == name and "/" not in name)


@FUZZ
@given(
    model_names,
    st.dictionaries(
        st.text(max_size=8).filter(lambda k: k not in ("model", "stream")), json_values
    ),
    st.sampled_from([None, True, False]),
    st.booleans(),
    st.sampled_from([(",", ":"), (", ", ": ")]),
)
def test_rewritten_body_is_the_same_json_but_for_the_named_changes(
    model, extra, stream, ascii_only, separators
):
    settings_ = Settings()
    payload = {"model": f"openai/{model}", **extra}
    if stream is not None:
        payload["stream"] = stream
    body = json.dumps(payload, ensure_ascii=ascii_only, separators=separators)
    route = openai_route("/v1/chat/completions", payload["model"], settings_)

    sent, strip = rewrite_body(body.encode(), payload, route)

    expected = dict(payload, model=model)
    if stream is True and "stream_options" not in extra:
        expected["stream_options"] = {"include_usage": True}
    if isinstance(extra.get("stream_options"), dict) and stream is True:
        expected["stream_options"] = extra["stream_options"] | {"include_usage": True}
    elif "stream_options" in extra and stream is True:
        expected["stream_options"] = {"include_usage": True}
    assert json.loads(sent) == expected
    assert strip is (stream is True)


# --- the log row ----------------------------------------------------------------

any_text = st.text(max_size=12)  # lone surrogates included
costs = st.one_of(
    st.none(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=0, max_value=10**30, places=12),
)
huge = st.integers(-(2**70), 2**70)


@FUZZ
@given(
    st.builds(
        RequestRecord,
        id=any_text,
        started_at=st.datetimes(timezones=st.just(UTC)),
        provider=any_text,
        model=any_text,
        project=any_text,
        surface=any_text,
        gateway_key_id=st.one_of(st.none(), any_text),
        status=st.one_of(huge, any_text),
        stream=st.booleans(),
        path=any_text,
        usage=st.builds(
            Usage,
            input_tokens=huge,
            cache_read_tokens=huge,
            cache_write_tokens=huge,
            output_tokens=huge,
            reasoning_tokens=huge,
            response_model=st.one_of(st.none(), any_text),
        ),
        cost_usd=costs,
        latency_ms=st.floats(),
        ttfb_ms=st.one_of(st.none(), st.floats()),
        error=st.one_of(st.none(), any_text),
    )
)
def test_any_record_can_be_written_to_the_log(record):
    row = record_row(record)
    assert len(row) == len(COLUMNS)
    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(Path(tmp) / "fuzz.sqlite3")
        try:
            insert_rows(conn, [row])
        finally:
            conn.close()


def test_a_bad_record_does_not_hold_back_the_good_ones(tmp_path):
    """One batch: a record with every hostile value, then an ordinary one."""
    bad = RequestRecord(
        id="bad\ud800",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        provider="openai\udcff",
        model="\ud83d",
        cost_usd=Decimal("1e40"),
        usage=Usage(input_tokens=2**80, output_tokens=-5),
        error="\udfff",
    )
    good = RequestRecord("good", datetime(2026, 1, 1, tzinfo=UTC), "openai", "gpt-4o")
    conn = connect(tmp_path / "one.sqlite3")
    try:
        insert_rows(conn, [record_row(bad), record_row(good)])
        rows = conn.execute("SELECT id, cost_usd, cost_pusd FROM requests").fetchall()
    finally:
        conn.close()
    assert sorted(r[0] for r in rows) == ["bad?", "good"]
    assert (rows[0][1], rows[0][2]) == (None, None)


def test_sqlite_refuses_what_record_row_now_cleans(tmp_path):
    """The failure the cleaning prevents: SQLite cannot store a lone surrogate."""
    conn = sqlite3.connect(tmp_path / "raw.sqlite3")
    conn.execute("CREATE TABLE t (x TEXT)")
    with pytest.raises(UnicodeEncodeError):
        conn.execute("INSERT INTO t VALUES (?)", ("\ud800",))
    conn.close()
