"""Hides secrets in headers and bodies before they are shown."""

from __future__ import annotations

import json
import re

from kilo_tui.format import mask

SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "x-goog-api-key",
    "api-key",
    "cookie",
    "set-cookie",
}
_SECRET_FIELD = re.compile(r"(api[_-]?key|secret|password|token$|authorization)", re.I)
# Bearer tokens and the common key shapes, wherever they appear in text.
_SECRET_TEXT = re.compile(
    r"(?:Bearer\s+)?\b(?:sk|pk|rk|gsk|xai|AIza)[-_A-Za-z0-9]{12,}|Bearer\s+\S{12,}"
)


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with every credential reduced to its last four characters."""
    return {
        name: mask(value) if name.lower() in SECRET_HEADERS else mask_text(value)
        for name, value in headers.items()
    }


def mask_text(text: str) -> str:
    """Text with anything shaped like a key reduced to its last four characters."""
    return _SECRET_TEXT.sub(lambda m: mask(m.group(0)), text)


def pretty_body(
    body: bytes | bytearray | str | None, limit: int = 200_000
) -> tuple[str, str]:
    """A body as (text, lexer): JSON indented with secret fields masked, else as is."""
    if body is None or len(body) == 0:
        return "", "text"
    # The gateway grows response bodies in a bytearray as the stream arrives.
    raw = body if isinstance(body, str) else bytes(body).decode("utf-8", "replace")
    try:
        parsed = json.loads(raw)
    except ValueError:
        return mask_text(_cut(raw, limit)), "text"
    return _cut(
        json.dumps(_mask_json(parsed), indent=2, ensure_ascii=False), limit
    ), "json"


def _mask_json(value):
    if isinstance(value, dict):
        return {
            k: mask(str(v))
            if _SECRET_FIELD.search(k) and isinstance(v, str)
            else _mask_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… {len(text) - limit:,} more characters not shown"
