"""SSEParser: events out only once complete, the same for any split of the bytes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proxy.sse import SSEEvent, SSEParser


def parse_all(*chunks: bytes) -> list[SSEEvent]:
    """Feed the chunks in order and collect every event."""
    parser = SSEParser()
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test_named_and_unnamed_events():
    stream = b"event: ping\ndata: {}\n\ndata: [DONE]\n\n"
    assert parse_all(stream) == [SSEEvent("ping", "{}"), SSEEvent(None, "[DONE]")]


def test_event_waits_for_its_blank_line():
    parser = SSEParser()
    assert parser.feed(b"data: one\n") == []
    assert parser.feed(b"data: two\n") == []
    assert parser.feed(b"\n") == [SSEEvent(None, "one\ntwo")]


def test_unterminated_event_is_never_dispatched():
    parser = SSEParser()
    assert parser.feed(b"data: cut off\n") == []
    assert parser.flush() == []


def test_comments_are_skipped_even_inside_an_event():
    stream = b": OPENROUTER PROCESSING\n\ndata: a\n: keep-alive\ndata: b\n\n"
    assert parse_all(stream) == [SSEEvent(None, "a\nb")]


def test_crlf_and_cr_line_endings():
    assert parse_all(b"event: x\r\ndata: 1\r\n\r\n") == [SSEEvent("x", "1")]
    assert parse_all(b"event: x\rdata: 1\r\r") == [SSEEvent("x", "1")]


def test_crlf_split_between_reads_is_one_line_ending():
    assert parse_all(b"data: 1\r", b"\n", b"\r", b"\n") == [SSEEvent(None, "1")]


def test_split_inside_a_multibyte_character():
    raw = "data: café 👍\n\n".encode()
    cut = raw.index(b"\xf0") + 2
    assert parse_all(raw[:cut], raw[cut:]) == [SSEEvent(None, "café 👍")]


def test_field_value_spacing():
    stream = b"data:tight\ndata:  two spaces\ndata\n\n"
    assert parse_all(stream) == [SSEEvent(None, "tight\n two spaces\n")]


def test_event_without_data_is_not_dispatched():
    assert parse_all(b"event: ping\n\n") == []


def test_empty_event_name_means_unnamed():
    assert parse_all(b"event:\ndata: x\n\n") == [SSEEvent(None, "x")]


def test_unknown_fields_are_ignored():
    assert parse_all(b"id: 7\nretry: 10\nfoo: bar\ndata: x\n\n") == [
        SSEEvent(None, "x")
    ]


def test_leading_byte_order_mark_is_dropped():
    assert parse_all(b"\xef\xbb", b"\xbfdata: x\n\n") == [SSEEvent(None, "x")]


def test_invalid_utf8_is_replaced_not_raised():
    assert parse_all(b"data: \xff\xfe\n\n") == [SSEEvent(None, "\ufffd\ufffd")]


def test_oversized_line_is_dropped_whatever_the_split():
    parser = SSEParser(max_line=16)
    long_line = b"data: " + b"x" * 20 + b"\n"
    events = [e for c in (long_line[:5], long_line[5:]) for e in parser.feed(c)]
    events += parser.feed(b"data: ok\n\n")
    assert events == [SSEEvent(None, "ok")]


# Text that can sit on one line: anything but line breaks, surrogates and a BOM.
line_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\ufeff"),
    max_size=12,
)
events = st.lists(
    st.tuples(
        st.one_of(st.none(), line_text),
        st.lists(line_text, min_size=1, max_size=3),
    ),
    max_size=5,
)


@st.composite
def streams(draw):
    """Events as bytes with comments mixed in, the events they hold, and splits."""
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines: list[str] = []
    expected: list[SSEEvent] = []
    for name, data in draw(events):
        if name is not None:
            lines.append(f"event: {name}")
        for value in data:
            if draw(st.booleans()):
                lines.append(": " + draw(line_text))
            lines.append(f"data: {value}")
        lines.append("")
        expected.append(SSEEvent(name or None, "\n".join(data)))
    raw = "".join(line + newline for line in lines).encode()
    cuts = draw(st.lists(st.integers(0, len(raw)), max_size=8))
    return raw, expected, sorted(cuts)


def split(raw: bytes, cuts: list[int]) -> list[bytes]:
    """raw in pieces at the given offsets (empty pieces included)."""
    bounds = [0, *cuts, len(raw)]
    return [raw[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@given(streams())
def test_any_split_gives_the_same_events(stream):
    raw, expected, cuts = stream
    assert parse_all(raw) == expected
    assert parse_all(*split(raw, cuts)) == expected


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_arbitrary_bytes_parse_the_same_split_or_whole(raw, cuts):
    cuts = sorted(c for c in cuts if c <= len(raw))
    assert parse_all(*split(raw, cuts)) == parse_all(raw)


@given(st.binary(max_size=200))
def test_byte_at_a_time_matches_whole(raw):
    assert parse_all(*(raw[i : i + 1] for i in range(len(raw)))) == parse_all(raw)


@given(st.binary(max_size=120), st.lists(st.integers(0, 120), max_size=6))
def test_line_limit_does_not_depend_on_the_split(raw, cuts):
    cuts = sorted(c for c in cuts if c <= len(raw))
    whole, pieces = SSEParser(max_line=8), SSEParser(max_line=8)
    expected = whole.feed(raw)
    assert [e for c in split(raw, cuts) for e in pieces.feed(c)] == expected
