"""UsageMeter: every provider's usage shape, whole or streamed, in one convention."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy import usage as usage_module
from proxy.pricing import PriceBook
from proxy.records import Usage, decimal_text
from proxy.registry import PROVIDERS
from proxy.sse import SSEEvent, SSEParser
from proxy.usage import UsageMeter, mask_secrets, parse_json

CASES = [
    json.loads(path.read_text())
    for path in sorted((Path(__file__).parent / "cases").glob("*.json"))
]
TOKEN_FIELDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def case_chunks(upstream: dict) -> list[bytes]:
    """A case's upstream answer as the byte writes the provider made."""
    if "chunks" not in upstream:
        return [json.dumps(upstream["body"]).encode()]
    return [
        bytes.fromhex(c["hex"]) if isinstance(c, dict) else c.encode()
        for c in upstream["chunks"]
    ]


def case_dialect(case: dict) -> str:
    """How the case's route reads usage: by the API its path speaks."""
    path = case["client"]["path"]
    if path.startswith("/v1/messages"):
        return "anthropic"
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    return "openai"


def requested_model(case: dict) -> str:
    """The model the client asked for, without the gateway's provider prefix."""
    provider = case["upstream"]["provider"]
    if case_dialect(case) == "gemini":
        return case["client"]["path"].split("/models/")[1].split(":")[0]
    return case["client"]["json"]["model"].removeprefix(provider + "/")


def meter_case(case: dict, pieces: list[bytes] | None = None) -> UsageMeter:
    """Run a case's upstream answer through the parser (streams) and a meter."""
    upstream = case["upstream"]
    meter = UsageMeter(case_dialect(case), upstream["provider"])
    if "chunks" not in upstream:
        meter.feed_body(case_chunks(upstream)[0])
        return meter
    parser = SSEParser()
    for chunk in pieces if pieces is not None else case_chunks(upstream):
        for event in parser.feed(chunk):
            meter.feed_event(event)
    return meter


def counts(usage: Usage) -> dict[str, int]:
    return {name: getattr(usage, name) for name in TOKEN_FIELDS}


def assert_sane(usage: Usage) -> None:
    """No count below zero and no part larger than its whole."""
    assert min(counts(usage).values()) >= 0
    assert usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
    assert 0 <= usage.cache_write_1h_tokens <= usage.cache_write_tokens
    assert usage.reasoning_tokens <= usage.output_tokens
    assert usage.reported_cost is None or usage.reported_cost >= 0


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_record(case):
    meter = meter_case(case)
    record = case["expect"]["record"]
    provider = case["upstream"]["provider"]
    if case["upstream"]["status"] >= 400:
        # The gateway records failures at no cost itself; the meter finds nothing.
        assert meter.usage == Usage()
        return
    assert requested_model(case) == record["model"]
    assert counts(meter.usage) == {name: record[name] for name in TOKEN_FIELDS}
    assert meter.usage.complete
    assert meter.stream_error is None
    models = [meter.usage.response_model, requested_model(case)]
    cost, source = PriceBook(case["prices"]).price(
        provider, PROVIDERS[provider].price_id, models, meter.usage
    )
    assert decimal_text(cost) == record["cost_usd"]
    assert source == record["cost_source"]


@pytest.mark.parametrize(
    "case", [c for c in CASES if "chunks" in c["upstream"]], ids=lambda c: c["name"]
)
def test_case_streams_byte_by_byte(case):
    raw = b"".join(case_chunks(case["upstream"]))
    one_by_one = meter_case(case, [raw[i : i + 1] for i in range(len(raw))])
    assert one_by_one.usage == meter_case(case).usage


def openai_meter(*chunks: dict, provider: str = "openai") -> UsageMeter:
    meter = UsageMeter("openai", provider)
    for chunk in chunks:
        meter.feed_event(SSEEvent(None, json.dumps(chunk)))
    return meter


def test_later_null_or_zero_usage_never_overwrites():
    real = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    meter = openai_meter({"usage": real}, {"usage": None}, {"usage": zero}, {})
    assert (meter.usage.input_tokens, meter.usage.output_tokens) == (10, 5)
    assert meter.usage.complete


def test_stream_without_usage_is_incomplete():
    meter = openai_meter({"choices": [{"delta": {"content": "hi"}}], "usage": None})
    assert meter.usage == Usage()
    assert not meter.usage.complete


def test_deepseek_cache_hits_fall_back_to_cached_tokens():
    raw = {
        "prompt_tokens": 100,
        "completion_tokens": 1,
        "prompt_tokens_details": {"cached_tokens": 64},
    }
    assert (
        openai_meter({"usage": raw}, provider="deepseek").usage.cache_read_tokens == 64
    )


def test_thinking_outside_completion_is_billed_from_total():
    # Gemini's OpenAI API: completion_tokens leaves thinking out, total counts it.
    raw = {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 230}
    found = openai_meter({"usage": raw}, provider="google").usage
    assert (found.output_tokens, found.reasoning_tokens) == (130, 80)


def test_openrouter_cost_keeps_its_exact_digits_and_cache_writes():
    body = (
        b'{"model": "anthropic/claude-sonnet-4.5", "usage": {"prompt_tokens": 900,'
        b' "completion_tokens": 20, "cost": 0.000123456789012345678901,'
        b' "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 700}}}'
    )
    meter = UsageMeter("openai", "openrouter")
    meter.feed_body(body)
    assert meter.usage.reported_cost == Decimal("0.000123456789012345678901")
    assert (meter.usage.cache_read_tokens, meter.usage.cache_write_tokens) == (100, 700)
    assert meter.usage.response_model == "anthropic/claude-sonnet-4.5"


def test_cost_is_only_taken_from_providers_that_bill_it():
    raw = {"prompt_tokens": 1, "completion_tokens": 1, "cost": 5}
    assert openai_meter({"usage": raw}).usage.reported_cost is None


def test_float_cost_from_plain_json_is_read_as_written():
    meter = UsageMeter("openai", "openrouter")
    meter.feed_json({"usage": {"prompt_tokens": 1, "cost": 0.1}})
    assert meter.usage.reported_cost == Decimal("0.1")


def test_responses_api_body():
    meter = UsageMeter("openai", "openai")
    meter.feed_json(
        {
            "model": "o4-mini-2025-04-16",
            "usage": {
                "input_tokens": 300,
                "input_tokens_details": {"cached_tokens": 256},
                "output_tokens": 90,
                "output_tokens_details": {"reasoning_tokens": 64},
                "total_tokens": 390,
            },
        }
    )
    assert counts(meter.usage) == {
        "input_tokens": 300,
        "cache_read_tokens": 256,
        "cache_write_tokens": 0,
        "output_tokens": 90,
        "reasoning_tokens": 64,
    }
    assert meter.usage.response_model == "o4-mini-2025-04-16"


def test_responses_api_stream_reads_the_completed_event():
    created = {"type": "response.created", "response": {"usage": None, "error": None}}
    done = {
        "type": "response.completed",
        "response": {
            "model": "gpt-5",
            "usage": {"input_tokens": 7, "output_tokens": 3},
        },
    }
    meter = UsageMeter("openai", "openai")
    for name, body in (("response.created", created), ("response.completed", done)):
        meter.feed_event(SSEEvent(name, json.dumps(body)))
    assert (meter.usage.input_tokens, meter.usage.output_tokens) == (7, 3)
    assert meter.usage.response_model == "gpt-5"
    assert meter.stream_error is None


def test_responses_api_failure_is_a_stream_error():
    failed = {
        "type": "response.failed",
        "response": {"error": {"code": "server_error", "message": "boom"}},
    }
    meter = UsageMeter("openai", "openai")
    meter.feed_event(SSEEvent("response.failed", json.dumps(failed)))
    assert meter.stream_error == "server_error: boom"


def test_openai_error_chunk_is_reported_with_keys_masked():
    error = {"message": "bad key sk-proj-abcdef1234567890XYZW", "code": "invalid"}
    meter = openai_meter({"error": error})
    assert meter.stream_error == "invalid: bad key ****XYZW"


def test_first_stream_error_is_kept():
    meter = openai_meter({"error": {"message": "first"}}, {"error": "second"})
    assert meter.stream_error == "first"


def test_mask_secrets_leaves_words_alone():
    assert mask_secrets("rate_limit_exceeded_for_organization") == (
        "rate_limit_exceeded_for_organization"
    )
    assert mask_secrets("key AIzaSyA1234567890abcdefghijk") == "key ****hijk"


def anthropic_meter(*events: tuple[str, dict]) -> UsageMeter:
    meter = UsageMeter("anthropic", "anthropic")
    for name, body in events:
        meter.feed_event(SSEEvent(name, json.dumps(body)))
    return meter


def message_start(**counts: int) -> tuple[str, dict]:
    body = {"type": "message_start", "message": {"model": "claude-x", "usage": counts}}
    return "message_start", body


def test_anthropic_stream_cut_before_message_delta_is_incomplete():
    meter = anthropic_meter(message_start(input_tokens=9, output_tokens=1))
    assert (meter.usage.input_tokens, meter.usage.output_tokens) == (9, 1)
    assert not meter.usage.complete
    assert meter.usage.response_model == "claude-x"


def test_anthropic_null_fields_in_delta_keep_earlier_values():
    delta = {
        "type": "message_delta",
        "usage": {"input_tokens": None, "output_tokens": 7},
    }
    meter = anthropic_meter(
        message_start(input_tokens=9, cache_read_input_tokens=3, output_tokens=1),
        ("message_delta", delta),
    )
    assert (meter.usage.input_tokens, meter.usage.output_tokens) == (12, 7)
    assert meter.usage.complete


def test_anthropic_error_event_inside_a_stream():
    error = {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    meter = anthropic_meter(message_start(input_tokens=9), ("error", error))
    assert meter.stream_error == "overloaded_error: Overloaded"


def test_anthropic_one_hour_split_from_lifetimes_alone():
    meter = UsageMeter("anthropic", "anthropic")
    lifetimes = {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 400}
    meter.feed_json(
        {
            "type": "message",
            "usage": {
                "input_tokens": 5,
                "cache_creation": lifetimes,
                "output_tokens": 2,
            },
        }
    )
    assert meter.usage.input_tokens == 505
    assert meter.usage.cache_write_tokens == 500
    assert meter.usage.cache_write_1h_tokens == 400


def gemini_chunk(prompt: int, candidates: int, finished: bool = False) -> str:
    candidate = {"content": {"parts": [{"text": "x"}]}}
    if finished:
        candidate["finishReason"] = "STOP"
    metadata = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    chunk = {"candidates": [candidate], "usageMetadata": metadata}
    return json.dumps(chunk | {"modelVersion": "gemini-2.5-flash"})


def test_gemini_stream_totals_are_replaced_not_summed():
    meter = UsageMeter("gemini", "google")
    meter.feed_event(SSEEvent(None, gemini_chunk(50, 3)))
    assert not meter.usage.complete
    meter.feed_event(SSEEvent(None, gemini_chunk(50, 9, finished=True)))
    assert (meter.usage.input_tokens, meter.usage.output_tokens) == (50, 9)
    assert meter.usage.complete
    assert meter.usage.response_model == "gemini-2.5-flash"


def test_gemini_tool_prompt_and_cache_and_array_body():
    metadata = {
        "promptTokenCount": 1000,
        "toolUsePromptTokenCount": 200,
        "cachedContentTokenCount": 800,
        "candidatesTokenCount": 10,
    }
    meter = UsageMeter("gemini", "google")
    meter.feed_json(
        [{"usageMetadata": {"promptTokenCount": 1}}, {"usageMetadata": metadata}]
    )
    assert counts(meter.usage)["input_tokens"] == 1200
    assert counts(meter.usage)["cache_read_tokens"] == 800


def test_gemini_error_chunk():
    meter = UsageMeter("gemini", "google")
    error = {"error": {"code": 503, "status": "UNAVAILABLE", "message": "overloaded"}}
    meter.feed_event(SSEEvent(None, json.dumps(error)))
    assert meter.stream_error == "503: UNAVAILABLE: overloaded"


def count_parses(monkeypatch) -> list[str]:
    """Record every JSON parse the meter makes."""
    seen: list[str] = []
    real = usage_module.parse_json

    def spy(body):
        seen.append(body)
        return real(body)

    monkeypatch.setattr(usage_module, "parse_json", spy)
    return seen


def test_content_events_are_not_parsed(monkeypatch):
    seen = count_parses(monkeypatch)
    text = json.dumps({"delta": {"text": 'say "usage" and "error"'}})
    anthropic_meter(("content_block_delta", json.loads(text)), ("ping", {}))
    openai_meter({"choices": [{"delta": {"content": '"usage"'}}]})
    UsageMeter("openai", "openai").feed_event(SSEEvent(None, "[DONE]"))
    UsageMeter("gemini", "google").feed_event(SSEEvent(None, '{"candidates": []}'))
    assert seen == []


def test_bodies_without_usage_are_not_parsed(monkeypatch):
    seen = count_parses(monkeypatch)
    UsageMeter("openai", "openai").feed_body(b'{"error": {"message": "nope"}}')
    assert seen == []


def test_unknown_dialect_is_refused():
    with pytest.raises(ValueError):
        UsageMeter("cohere", "cohere")


def test_parse_json_returns_none_for_junk():
    assert parse_json(b"\xff{") is None
    assert parse_json("[" * 100_000) is None


@st.composite
def openai_streams(draw):
    """An OpenAI chat stream with usage on its last chunk, and that usage."""
    prompt = draw(st.integers(0, 10**7))
    cached = draw(st.integers(0, prompt))
    completion = draw(st.integers(1, 10**6))
    reasoning = draw(st.integers(0, completion))
    texts = draw(st.lists(st.text(max_size=8), max_size=4))
    chunks = [{"choices": [{"delta": {"content": t}}], "usage": None} for t in texts]
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    chunks.append({"choices": [], "usage": usage})
    events = [f"data: {json.dumps(c, ensure_ascii=False)}\r\n\r\n" for c in chunks]
    raw = (": keep-alive\n\n" + "".join(events) + "data: [DONE]\n\n").encode()
    expected = Usage(prompt, cached, 0, 0, completion, reasoning, complete=True)
    return raw, expected


@st.composite
def anthropic_streams(draw):
    """An Anthropic stream whose message_delta may repeat the input counts."""
    fresh, read, write = (draw(st.integers(0, 10**6)) for _ in range(3))
    hour = draw(st.integers(0, write))
    output = draw(st.integers(1, 10**5))
    start = {
        "input_tokens": fresh,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
        "cache_creation": {"ephemeral_1h_input_tokens": hour},
        "output_tokens": 1,
    }
    delta = {"output_tokens": output}
    if draw(st.booleans()):
        delta |= {k: v for k, v in start.items() if k != "output_tokens"}
    text = draw(st.text(max_size=10))
    events = [
        ("message_start", {"type": "message_start", "message": {"usage": start}}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "delta": {"text": text}},
        ),
        ("ping", {"type": "ping"}),
        ("message_delta", {"type": "message_delta", "usage": delta}),
    ]
    raw = "".join(
        f"event: {name}\ndata: {json.dumps(body, ensure_ascii=False)}\n\n"
        for name, body in events
    ).encode()
    expected = Usage(fresh + read + write, read, write, hour, output, 0, complete=True)
    return raw, expected


def meter_stream(dialect: str, pieces: list[bytes]) -> UsageMeter:
    meter = UsageMeter(dialect, "test")
    parser = SSEParser()
    for piece in pieces:
        for event in parser.feed(piece):
            meter.feed_event(event)
    return meter


def pieces_of(raw: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c % (len(raw) + 1) for c in cuts), len(raw)]
    return [raw[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@given(
    st.one_of(
        st.tuples(st.just("openai"), openai_streams()),
        st.tuples(st.just("anthropic"), anthropic_streams()),
    ),
    st.lists(st.integers(0, 10**6), max_size=10),
)
def test_any_split_gives_the_same_usage(dialect_stream, cuts):
    dialect, (raw, expected) = dialect_stream
    whole = meter_stream(dialect, [raw]).usage
    split = meter_stream(dialect, pieces_of(raw, cuts)).usage
    assert whole == split == expected
    assert_sane(split)


USAGE_KEYS = (
    "usage prompt_tokens completion_tokens total_tokens prompt_tokens_details "
    "cached_tokens cache_write_tokens completion_tokens_details reasoning_tokens "
    "prompt_cache_hit_tokens input_tokens output_tokens input_tokens_details "
    "output_tokens_details cache_creation_input_tokens cache_read_input_tokens "
    "cache_creation ephemeral_1h_input_tokens ephemeral_5m_input_tokens "
    "usageMetadata promptTokenCount candidatesTokenCount thoughtsTokenCount "
    "cachedContentTokenCount toolUsePromptTokenCount candidates finishReason "
    "x_groq response message type error model modelVersion cost code status"
).split()
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["message_start", "message_delta", "message", "error"]),
)
junk_json = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(USAGE_KEYS), st.text(max_size=4)),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


@given(
    st.sampled_from(["openai", "anthropic", "gemini"]),
    st.sampled_from(["openrouter", "openai"]),
    st.lists(
        st.tuples(
            st.sampled_from([None, "message_start", "message_delta", "error"]),
            junk_json,
        ),
        max_size=4,
    ),
)
def test_junk_never_raises_and_never_goes_negative(dialect, provider, items):
    meter = UsageMeter(dialect, provider)
    for name, value in items:
        text = json.dumps(value)
        meter.feed_event(SSEEvent(name, text))
        meter.feed_json(parse_json(text))
        meter.feed_body(text.encode())
        assert_sane(meter.usage)
    assert meter.stream_error is None or len(meter.stream_error) <= 200


@given(st.sampled_from(["openai", "anthropic", "gemini"]), st.binary(max_size=300))
def test_junk_bytes_never_raise(dialect, raw):
    meter = meter_stream(dialect, [raw])
    meter.feed_body(raw)
    assert_sane(meter.usage)
