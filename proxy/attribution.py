"""Which tool made a request, from the headers tools send."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

# Checked in order against X-Title, then HTTP-Referer, then User-Agent, lower-cased.
# More specific names come before the generic SDK names they are built on.
_SIGNATURES: tuple[tuple[str, str], ...] = (
    ("claude-code", "claude-code"),
    ("claude-cli", "claude-code"),
    ("codex", "codex"),
    ("kilo-code", "kilo-code"),
    ("kilocode", "kilo-code"),
    ("kilo code", "kilo-code"),
    ("roo-code", "roo-code"),
    ("roocode", "roo-code"),
    ("roo code", "roo-code"),
    ("roovetgit", "roo-code"),
    ("cline", "cline"),
    ("continue", "continue"),
    ("aider", "aider"),
    ("cursor", "cursor"),
    ("openai/python", "openai-sdk"),
    ("openai/js", "openai-sdk"),
    ("openai-python", "openai-sdk"),
    ("anthropic/python", "anthropic-sdk"),
    ("anthropic/js", "anthropic-sdk"),
    ("anthropic-typescript", "anthropic-sdk"),
    ("curl/", "curl"),
)

_HEADERS = ("x-title", "x-openrouter-title", "http-referer", "referer", "user-agent")


def surface_of(headers: Mapping[str, str]) -> str:
    """The tool behind a request: X-Kilo-Surface, else recognised, else "unknown"."""
    explicit = headers.get("x-kilo-surface")
    if explicit:
        return clean_label(explicit)
    for name in _HEADERS:
        value = headers.get(name)
        if value:
            surface = _recognise(value)
            if surface:
                return surface
    return "unknown"


@lru_cache(maxsize=512)
def _recognise(value: str) -> str | None:
    lowered = value.lower()
    for needle, surface in _SIGNATURES:
        if needle in lowered:
            return surface
    return None


def clean_label(value: str, limit: int = 64) -> str:
    """A header value made safe to store and show: printable, trimmed, bounded."""
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:limit] or "unknown"
