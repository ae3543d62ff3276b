"""Token usage read from provider responses and streams, in the record's convention.

Every provider counts differently (see the table in the product's usage notes);
the meter turns each shape into one `records.Usage` where input_tokens is the
whole prompt, cache counts are parts of it, and output_tokens includes reasoning.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from proxy.records import Usage
from proxy.sse import SSEEvent

DIALECTS = frozenset({"openai", "anthropic", "gemini"})

# Providers whose usage.cost is the amount they billed, in USD.
REPORTS_COST = frozenset({"openrouter"})

# Anthropic stream events that can carry usage or an error; the rest are skipped
# unparsed because they are the bulk of a stream.
_ANTHROPIC_EVENTS = frozenset({"message_start", "message_delta", "error"})
_ANTHROPIC_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)
_ANTHROPIC_TTL_FIELDS = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")

# Counts beyond this are junk, and converting a huge decimal to int is costly.
_MAX_COUNT = 10**15
_ERROR_TEXT_MAX = 200
# Long runs of key-like characters with a digit in them may be credentials.
_KEYLIKE = re.compile(r"[A-Za-z0-9_\-]{20,}")


def parse_json(body: bytes | str) -> Any:
    """JSON with floats kept as exact Decimals, or None when it is not JSON."""
    if isinstance(body, bytes | bytearray):
        # A stray invalid byte in the text must not hide the usage beside it.
        body = body.decode("utf-8-sig", "replace")
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None


class UsageMeter:
    """Collects one request's usage from its JSON body or its stream events."""

    __slots__ = ("dialect", "provider_id", "stream_error", "_usage", "_anthropic")

    def __init__(self, dialect: str, provider_id: str) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}")
        self.dialect = dialect
        self.provider_id = provider_id
        # A short, secret-free description of an error event inside a stream.
        self.stream_error: str | None = None
        self._usage = Usage()
        # Anthropic streams: each field's last reported value.
        self._anthropic: dict[str, int] = {}

    @property
    def usage(self) -> Usage:
        """The usage seen so far, normalised; all zero when none was reported."""
        return self._usage

    def feed_body(self, body: bytes) -> None:
        """Read a whole JSON response body; bodies without usage are not parsed."""
        if b'"usage' in body or b'"x_groq"' in body:
            self.feed_json(parse_json(body))

    def feed_json(self, obj: Any) -> None:
        """Read a whole parsed JSON response (use parse_json to keep cost digits)."""
        if isinstance(obj, list):  # Gemini's non-SSE stream is one JSON array
            for item in obj:
                if isinstance(item, dict):
                    self._read(item, final=True)
        elif isinstance(obj, dict):
            self._read(obj, final=True)

    def feed_event(self, ev: SSEEvent) -> None:
        """Read one stream event, parsing it only when it can carry usage or errors."""
        if self.dialect == "anthropic":
            wanted = ev.event in _ANTHROPIC_EVENTS or (
                ev.event is None and ('"usage"' in ev.data or '"error"' in ev.data)
            )
        elif self.dialect == "gemini":
            wanted = '"usageMetadata"' in ev.data or '"error"' in ev.data
        else:
            data = ev.data
            wanted = '"usage"' in data or '"x_groq"' in data or '"error"' in data
        if not wanted:
            return
        obj = parse_json(ev.data)
        if isinstance(obj, dict):
            self._note_error(obj, ev.event)
            self._read(obj, final=False)

    def _read(self, obj: dict, final: bool) -> None:
        """Take usage from one response object or stream chunk."""
        if self.dialect == "anthropic":
            self._read_anthropic(obj, final)
        elif self.dialect == "gemini":
            self._read_gemini(obj, final)
        else:
            self._read_openai(obj)

    def _read_openai(self, obj: dict) -> None:
        """Chat completions, Responses API objects and events, Groq's x_groq."""
        holder = obj
        raw = obj.get("usage")
        if not isinstance(raw, dict):
            raw = _dict(obj.get("x_groq"), "usage")
        if raw is None and isinstance(obj.get("response"), dict):
            holder = obj["response"]
            raw = holder.get("usage")
        found = openai_usage(raw, self.provider_id in REPORTS_COST)
        if found is not None:
            self._take(found, holder.get("model"), complete=True)

    def _read_anthropic(self, obj: dict, final: bool) -> None:
        """Messages bodies and message_start / message_delta events."""
        kind = obj.get("type")
        if kind == "message_start" and isinstance(obj.get("message"), dict):
            message = obj["message"]
            self._merge_anthropic(message.get("usage"), message.get("model"), False)
        elif kind == "message_delta":
            self._merge_anthropic(obj.get("usage"), None, True)
        elif kind == "message" or (final and kind is None):
            self._anthropic.clear()
            self._merge_anthropic(obj.get("usage"), obj.get("model"), True)

    def _merge_anthropic(self, raw: Any, model: Any, complete: bool) -> None:
        """Fold in one usage object: each present field replaces its last value."""
        if not isinstance(raw, dict):
            return
        fields = self._anthropic
        for key in _ANTHROPIC_FIELDS:
            _put(fields, key, _count(raw, key))
        lifetimes = raw.get("cache_creation")
        if isinstance(lifetimes, dict):
            for key in _ANTHROPIC_TTL_FIELDS:
                _put(fields, key, _count(lifetimes, key))
        if fields:
            self._take(anthropic_usage(fields), model, complete)

    def _read_gemini(self, obj: dict, final: bool) -> None:
        """generateContent bodies and stream chunks; each chunk's figures are totals."""
        found = gemini_usage(obj.get("usageMetadata"))
        if found is not None:
            self._take(found, obj.get("modelVersion"), final or _finished(obj))

    def _take(self, found: Usage, model: Any, complete: bool) -> None:
        """Make found the current usage, keeping the best-known response model."""
        found.response_model = (
            model if isinstance(model, str) and model else self._usage.response_model
        )
        found.complete = complete or self._usage.complete
        self._usage = found

    def _note_error(self, obj: dict, event: str | None) -> None:
        """Remember the first error a stream reports."""
        if self.stream_error is None:
            self.stream_error = stream_error_text(obj, event)


def openai_usage(raw: Any, reports_cost: bool = False) -> Usage | None:
    """An OpenAI-shaped usage object (chat or Responses), or None if empty."""
    if not isinstance(raw, dict):
        return None
    if "prompt_tokens" in raw or "completion_tokens" in raw:
        found = _chat_usage(raw)
    elif "input_tokens" in raw or "output_tokens" in raw:
        found = _responses_usage(raw)
    else:
        return None
    if reports_cost:
        found.reported_cost = _money(raw.get("cost"))
    if not (found.input_tokens or found.output_tokens) and found.reported_cost is None:
        return None  # a null or zeroed usage must never replace a real one
    return found


def _chat_usage(raw: dict) -> Usage:
    """Chat completions usage, with DeepSeek's and OpenRouter's extra fields."""
    prompt = _count(raw, "prompt_tokens") or 0
    completion = _count(raw, "completion_tokens") or 0
    total = _count(raw, "total_tokens")
    prompt_details = _dict(raw, "prompt_tokens_details")
    cached = _count(raw, "prompt_cache_hit_tokens")
    if cached is None:
        cached = _count(prompt_details, "cached_tokens") or 0
    writes = _count(prompt_details, "cache_write_tokens") or 0
    # Some providers (xAI, Gemini's OpenAI API) leave reasoning out of
    # completion_tokens but count it in total_tokens; it is billed as output.
    output = completion
    if total is not None and total > prompt + completion:
        output = total - prompt
    reasoning = _count(_dict(raw, "completion_tokens_details"), "reasoning_tokens")
    if reasoning is None:
        reasoning = output - completion
    return normalised(prompt, cached, writes, 0, output, reasoning)


def _responses_usage(raw: dict) -> Usage:
    """Responses API usage: input includes cached, output includes reasoning."""
    cached = _count(_dict(raw, "input_tokens_details"), "cached_tokens") or 0
    reasoning = _count(_dict(raw, "output_tokens_details"), "reasoning_tokens") or 0
    return normalised(
        _count(raw, "input_tokens") or 0,
        cached,
        0,
        0,
        _count(raw, "output_tokens") or 0,
        reasoning,
    )


def anthropic_usage(fields: dict[str, int]) -> Usage:
    """Anthropic counts: input_tokens excludes cache reads and writes, so add them."""
    read = fields.get("cache_read_input_tokens", 0)
    one_hour = fields.get("ephemeral_1h_input_tokens", 0)
    writes = fields.get("cache_creation_input_tokens")
    if writes is None:
        writes = fields.get("ephemeral_5m_input_tokens", 0) + one_hour
    prompt = fields.get("input_tokens", 0) + read + writes
    return normalised(prompt, read, writes, one_hour, fields.get("output_tokens", 0), 0)


def gemini_usage(raw: Any) -> Usage | None:
    """Gemini usageMetadata: thinking is counted apart from candidates."""
    if not isinstance(raw, dict):
        return None
    # Tool-use prompt tokens are billed as input like the rest of the prompt.
    prompt = (_count(raw, "promptTokenCount") or 0) + (
        _count(raw, "toolUsePromptTokenCount") or 0
    )
    thoughts = _count(raw, "thoughtsTokenCount") or 0
    output = (_count(raw, "candidatesTokenCount") or 0) + thoughts
    if not (prompt or output):
        return None
    cached = _count(raw, "cachedContentTokenCount") or 0
    return normalised(prompt, cached, 0, 0, output, thoughts)


def normalised(
    prompt: int, read: int, writes: int, one_hour: int, output: int, reasoning: int
) -> Usage:
    """A Usage whose parts never exceed their wholes, so no derived count is < 0."""
    prompt = max(prompt, 0)
    read = min(max(read, 0), prompt)
    writes = min(max(writes, 0), prompt - read)
    output = max(output, 0)
    return Usage(
        input_tokens=prompt,
        cache_read_tokens=read,
        cache_write_tokens=writes,
        cache_write_1h_tokens=min(max(one_hour, 0), writes),
        output_tokens=output,
        reasoning_tokens=min(max(reasoning, 0), output),
    )


def stream_error_text(obj: dict, event: str | None = None) -> str | None:
    """A short description of an error chunk or event, or None if it is not one."""
    error = obj.get("error")
    kind = obj.get("type")
    if error is None and kind == "response.failed":
        response = obj.get("response")
        error = response.get("error") if isinstance(response, dict) else None
        error = error or "response failed"
    elif error is None and (kind == "error" or event == "error"):
        error = obj
    if not error:
        return None
    return _describe(error)


def _describe(error: Any) -> str:
    """Type/code and message of an error object, trimmed and with keys masked."""
    # Anthropic wraps the error object in another; a few levels is plenty.
    for _ in range(3):
        if isinstance(error, dict) and isinstance(error.get("error"), dict):
            error = error["error"]
    if isinstance(error, dict):
        parts = [error.get(k) for k in ("type", "code", "status", "message")]
        text = ": ".join(str(p) for p in parts if isinstance(p, str | int) and p != "")
    else:
        text = str(error) if isinstance(error, str | int) else ""
    # Cut before masking so a huge message costs little, and after so it is short.
    return mask_secrets(text[: _ERROR_TEXT_MAX * 4] or "error")[:_ERROR_TEXT_MAX]


def mask_secrets(text: str) -> str:
    """Text with key-like runs cut to their last four characters."""
    return _KEYLIKE.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    token = match.group(0)
    if any(c.isdigit() for c in token):
        return "****" + token[-4:]
    return token


def _finished(chunk: dict) -> bool:
    """Whether a Gemini stream chunk closes its candidate (its usage is final)."""
    candidates = chunk.get("candidates")
    if not isinstance(candidates, list):
        return False
    return any(isinstance(c, dict) and c.get("finishReason") for c in candidates)


def _put(fields: dict[str, int], key: str, value: int | None) -> None:
    if value is not None:
        fields[key] = value


def _dict(obj: Any, key: str) -> Any:
    """obj[key] when obj is a dict, else None."""
    return obj.get(key) if isinstance(obj, dict) else None


def _count(obj: Any, key: str) -> int | None:
    """A token count at obj[key]: a non-negative whole number, else None."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(key)
    if type(value) is int:
        return value if 0 <= value < _MAX_COUNT else None
    if isinstance(value, Decimal) and value.is_finite() and 0 <= value < _MAX_COUNT:
        whole = int(value)
        return whole if whole == value else None
    return None


def _money(value: Any) -> Decimal | None:
    """A reported USD amount as an exact Decimal, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, float):
        # Shortest repr is the text the provider sent when it was parsed as float.
        value = Decimal(repr(value))
    if isinstance(value, Decimal) and value.is_finite() and value >= 0:
        return value
    return None
