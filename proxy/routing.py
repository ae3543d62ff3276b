"""Where a request goes: the provider, the upstream URL, the model and the dialect."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.config import Settings
from proxy.errors import GatewayError
from proxy.registry import Provider, provider_for_model

OPENAI_ROUTES = frozenset(
    {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"}
)
ANTHROPIC_ROUTES = frozenset({"/v1/messages", "/v1/messages/count_tokens"})
# Routes whose answers carry no billable usage.
UNMETERED_SUFFIXES = ("/count_tokens", ":countTokens")


@dataclass(slots=True)
class Route:
    """A resolved request: who answers it and how to read the answer."""

    provider: Provider
    url: str
    dialect: str  # "openai", "anthropic" or "gemini": how usage and errors read
    model: str  # as the client asked, without the gateway's provider prefix
    # The model field to send upstream, when it differs from what the client sent.
    rewrite_model: str | None = None
    metered: bool = True


def split_model(
    requested: str, settings: Settings, *, default: str | None = None
) -> tuple[Provider, str]:
    """The provider and bare model for a model name, prefixed or not."""
    head, sep, rest = requested.partition("/")
    if sep and head in settings.providers:
        return settings.providers[head], rest
    routed = settings.model_routes.get(requested)
    if routed:
        return _known(routed, settings), requested
    provider = provider_for_model(requested, settings.providers)
    if provider is None and default:
        provider = settings.providers.get(default)
    if provider is None:
        raise GatewayError(
            404,
            f"No provider for model '{requested}'. Prefix it with a provider id "
            f"('openai/{requested}') or map it under [models] in config.toml. "
            f"Known providers: {', '.join(sorted(settings.providers))}.",
            "unknown_provider",
        )
    return provider, requested


def _known(pid: str, settings: Settings) -> Provider:
    provider = settings.providers.get(pid)
    if provider is None:
        raise GatewayError(
            404,
            f"Unknown provider '{pid}'. Known providers: "
            f"{', '.join(sorted(settings.providers))}.",
            "unknown_provider",
        )
    return provider


def openai_route(path: str, requested: str, settings: Settings) -> Route:
    """An OpenAI-compatible route, sent to the provider the model names."""
    provider, model = split_model(requested, settings)
    url = provider.openai_base + path.removeprefix("/v1")
    rewrite = model if model != requested else None
    return Route(provider, url, "openai", model, rewrite)


def anthropic_route(path: str, requested: str, settings: Settings) -> Route:
    """Anthropic's Messages API, for claude-… or anthropic/claude-…."""
    provider = _known("anthropic", settings)
    model = requested.removeprefix("anthropic/")
    url = provider.base_url + path
    rewrite = model if model != requested else None
    metered = not path.endswith(UNMETERED_SUFFIXES)
    return Route(provider, url, "anthropic", model, rewrite, metered)


def raw_route(pid: str, rest: str, body_model: str | None, settings: Settings) -> Route:
    """The provider's own API, path unchanged below its base URL."""
    provider = _known(pid, settings)
    url = provider.base_url + "/" + rest
    model = body_model or model_from_path(rest) or "unknown"
    metered = not rest.endswith(UNMETERED_SUFFIXES)
    return Route(provider, url, provider.native, model, None, metered)


def model_from_path(rest: str) -> str | None:
    """The model a path names (v1beta/models/gemini-2.5-pro:generateContent)."""
    marker = "models/"
    index = rest.find(marker)
    if index < 0:
        return None
    tail = rest[index + len(marker) :]
    return tail.split(":", 1)[0].split("/", 1)[0] or None


def is_stream_path(rest: str) -> bool:
    """Whether a native path asks for a stream (Gemini's streamGenerateContent)."""
    return ":streamGenerateContent" in rest
