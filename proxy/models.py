"""GET /v1/models: the models of every provider that has a key, named provider/model."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import httpx

from proxy.config import Settings
from proxy.registry import AUTH_GOOG, AUTH_X_API_KEY, Provider

log = logging.getLogger(__name__)

_CACHE_SECONDS = 300.0


class ModelLister:
    """Asks each keyed provider for its models, concurrently, and caches the answer."""

    def __init__(
        self, settings: Settings, secret_for: Callable[[str], Awaitable[str | None]]
    ) -> None:
        self.settings = settings
        self.secret_for = secret_for
        self._cached: dict | None = None
        self._expires = 0.0

    async def list(self) -> dict:
        """An OpenAI-shaped model list; providers that fail are left out and logged."""
        if self._cached is not None and time.monotonic() < self._expires:
            return self._cached
        providers = list(self.settings.providers.values())
        secrets = [await self.secret_for(p.id) for p in providers]
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            answers = await asyncio.gather(
                *(
                    _models_of(client, p, s)
                    for p, s in zip(providers, secrets, strict=True)
                    if s is not None or p.key_optional
                )
            )
        data = [model for answer in answers for model in answer]
        self._cached = {"object": "list", "data": data}
        self._expires = time.monotonic() + _CACHE_SECONDS
        return self._cached


async def _models_of(
    client: httpx.AsyncClient, provider: Provider, secret: str | None
) -> list[dict]:
    headers = dict(provider.extra_headers)
    if secret and provider.auth == AUTH_X_API_KEY:
        headers["x-api-key"] = secret
    elif secret and provider.auth == AUTH_GOOG:
        headers["x-goog-api-key"] = secret
    elif secret:
        headers["Authorization"] = f"Bearer {secret}"
    url = provider.base_url + provider.check.path
    if provider.check.method != "GET":
        return []
    try:
        answer = await client.get(url, headers=headers)
        answer.raise_for_status()
        items = answer.json().get("data") or answer.json().get("models") or []
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.warning("could not list %s models: %s", provider.id, type(exc).__name__)
        return []
    return [_entry(provider, item) for item in items if isinstance(item, dict)]


def _entry(provider: Provider, item: dict) -> dict:
    name = str(item.get("id") or item.get("name") or "").removeprefix("models/")
    return {"id": f"{provider.id}/{name}", "object": "model", "owned_by": provider.id}
