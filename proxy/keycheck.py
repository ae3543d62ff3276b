"""A live check of a provider key: the cheapest authenticated request it allows."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import httpx

from proxy.registry import AUTH_BEARER, AUTH_GOOG, AUTH_X_API_KEY, Provider

log = logging.getLogger(__name__)

VALID = "valid"
INVALID = "invalid"
RATE_LIMITED = "rate_limited"
UNREACHABLE = "unreachable"
_DETAIL_MAX = 160


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a key check found; detail never holds the key."""

    status: str
    latency_ms: float | None = None
    models: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == VALID


def auth_headers(provider: Provider, secret: str) -> dict[str, str]:
    """The headers that carry a key the way the provider expects it."""
    headers = dict(provider.extra_headers)
    if not secret:
        return headers
    if provider.auth == AUTH_X_API_KEY:
        headers["x-api-key"] = secret
    elif provider.auth == AUTH_GOOG:
        headers["x-goog-api-key"] = secret
    elif provider.auth == AUTH_BEARER:
        headers["Authorization"] = f"Bearer {secret}"
    else:
        raise ValueError(f"unknown auth style {provider.auth!r} for {provider.id}")
    return headers


def check_url(provider: Provider) -> str:
    """Where the check request goes."""
    return provider.base_url.rstrip("/") + provider.check.path


def check_key(provider: Provider, secret: str, timeout: float = 10.0) -> CheckResult:
    """Check a key with a blocking request; never raises for network trouble."""
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.request(**_request(provider, secret))
    except httpx.HTTPError as exc:
        return _unreachable(provider, exc, started)
    return classify(response, secret, _since(started))


async def check_key_async(
    provider: Provider, secret: str, timeout: float = 10.0
) -> CheckResult:
    """check_key() for an event loop."""
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as c:
            response = await c.request(**_request(provider, secret))
    except httpx.HTTPError as exc:
        return _unreachable(provider, exc, started)
    return classify(response, secret, _since(started))


def _request(provider: Provider, secret: str) -> dict:
    """Keyword arguments for httpx's request()."""
    return {
        "method": provider.check.method,
        "url": check_url(provider),
        "headers": auth_headers(provider, secret),
        "json": provider.check.json,
    }


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _unreachable(provider: Provider, exc: Exception, started: float) -> CheckResult:
    """A network failure: nothing was learnt about the key."""
    log.info("key check for %s failed: %s", provider.id, type(exc).__name__)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return CheckResult(
        UNREACHABLE,
        _since(started),
        detail=f"{check_url(provider)} {kind} ({type(exc).__name__})",
    )


def classify(response: httpx.Response, secret: str, latency_ms: float) -> CheckResult:
    """The check's outcome from the provider's answer."""
    code = response.status_code
    body = _json(response)
    if 200 <= code < 300:
        return CheckResult(VALID, latency_ms, _model_count(body), f"HTTP {code}")
    message = _scrub(_message(body, response.text), secret)[:_DETAIL_MAX]
    detail = f"HTTP {code}" + (f": {message}" if message else "")
    if code in (401, 403) or (code == 400 and "key" in message.lower()):
        return CheckResult(INVALID, latency_ms, detail=detail)
    if code == 402:
        return CheckResult(INVALID, latency_ms, detail=detail + " (no credit left)")
    if code == 429:
        return CheckResult(RATE_LIMITED, latency_ms, detail=detail)
    return CheckResult(UNREACHABLE, latency_ms, detail=detail)


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def _model_count(body: object) -> int | None:
    """How many models a listing holds (OpenAI "data", Gemini "models")."""
    if isinstance(body, dict):
        for field in ("data", "models"):
            if isinstance(body.get(field), list):
                return len(body[field])
    return None


def _message(body: object, text: str) -> str:
    """The provider's own words about an error, in one short line."""
    found = text
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            found = str(error.get("message") or "")
        elif isinstance(error, str):
            found = error
        if not found and isinstance(body.get("message"), str):
            found = body["message"]
    return " ".join(found.split())


def _scrub(text: str, secret: str) -> str:
    """The text with any echo of the key (or of a long piece of it) masked."""
    if not secret:
        return text
    for piece in (secret, secret[:12], secret[-12:]):
        if len(piece) >= 8:
            text = text.replace(piece, "…")
    return text
