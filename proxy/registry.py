"""The providers the gateway knows, as data: where they live and how they take a key."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# How a provider expects its key.
AUTH_BEARER = "bearer"
AUTH_X_API_KEY = "x-api-key"
AUTH_GOOG = "x-goog-api-key"


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """The cheapest authenticated request that proves a key works."""

    method: str
    path: str  # appended to the provider's base URL
    json: dict | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """One provider: its API's address, its auth, its price-data id."""

    id: str
    name: str
    # Root that config.toml's base_url replaces; raw routes append their path here.
    base_url: str
    auth: str = AUTH_BEARER
    # Appended to base_url for the OpenAI-compatible routes (/chat/completions, …).
    openai_path: str = ""
    # The provider's own API dialect on the raw route: "openai", "anthropic", "gemini".
    native: str = "openai"
    check: KeyCheck = KeyCheck("GET", "/models")
    # Whether its streams carry usage without stream_options.include_usage.
    stream_usage_unasked: bool = False
    # The provider id in genai-prices' bundled data, if it has one.
    price_id: str | None = None
    env_vars: tuple[str, ...] = ()
    # Bare model names starting with one of these are routed here.
    model_prefixes: tuple[str, ...] = ()
    key_optional: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def openai_base(self) -> str:
        """The base URL of its OpenAI-compatible API."""
        return self.base_url.rstrip("/") + self.openai_path


def _p(pid: str, name: str, base_url: str, **kw) -> Provider:
    env = kw.pop("env_vars", (f"{pid.upper()}_API_KEY",))
    return Provider(pid, name, base_url, env_vars=env, **kw)


PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (
        _p(
            "openai",
            "OpenAI",
            "https://api.openai.com/v1",
            price_id="openai",
            model_prefixes=("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-"),
        ),
        _p(
            "anthropic",
            "Anthropic",
            "https://api.anthropic.com",
            auth=AUTH_X_API_KEY,
            openai_path="/v1",
            native="anthropic",
            check=KeyCheck("GET", "/v1/models"),
            stream_usage_unasked=True,
            price_id="anthropic",
            model_prefixes=("claude-",),
            extra_headers={"anthropic-version": "2023-06-01"},
        ),
        _p(
            "google",
            "Google Gemini",
            "https://generativelanguage.googleapis.com",
            auth=AUTH_GOOG,
            openai_path="/v1beta/openai",
            native="gemini",
            check=KeyCheck("GET", "/v1beta/models"),
            price_id="google",
            env_vars=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            model_prefixes=("gemini-", "gemma-"),
        ),
        _p(
            "deepseek",
            "DeepSeek",
            "https://api.deepseek.com",
            price_id="deepseek",
            model_prefixes=("deepseek-",),
        ),
        _p(
            "xai",
            "xAI",
            "https://api.x.ai/v1",
            price_id="x-ai",
            model_prefixes=("grok-",),
        ),
        _p(
            "mistral",
            "Mistral",
            "https://api.mistral.ai/v1",
            stream_usage_unasked=True,
            price_id="mistral",
            model_prefixes=("mistral-", "codestral-", "magistral-", "devstral-"),
        ),
        _p(
            "groq",
            "Groq",
            "https://api.groq.com/openai/v1",
            stream_usage_unasked=True,
            price_id="groq",
        ),
        _p(
            "openrouter",
            "OpenRouter",
            "https://openrouter.ai/api/v1",
            stream_usage_unasked=True,
            price_id="openrouter",
        ),
        _p(
            "together",
            "Together AI",
            "https://api.together.xyz/v1",
            stream_usage_unasked=True,
            price_id="together",
        ),
        _p(
            "fireworks",
            "Fireworks AI",
            "https://api.fireworks.ai/inference/v1",
            stream_usage_unasked=True,
            price_id="fireworks",
        ),
        _p(
            "cerebras",
            "Cerebras",
            "https://api.cerebras.ai/v1",
            stream_usage_unasked=True,
            price_id="cerebras",
        ),
        _p(
            "perplexity",
            "Perplexity",
            "https://api.perplexity.ai",
            # Perplexity lists no models, so the check is a one-token completion.
            check=KeyCheck(
                "POST",
                "/chat/completions",
                {
                    "model": "sonar",
                    "max_tokens": 1,
                    "messages": [{"role": "user", "content": "ok"}],
                },
            ),
            stream_usage_unasked=True,
            price_id="perplexity",
            model_prefixes=("sonar",),
        ),
        _p(
            "moonshot",
            "Moonshot AI",
            "https://api.moonshot.ai/v1",
            price_id="moonshotai",
            model_prefixes=("kimi-", "moonshot-"),
        ),
        _p(
            "zai",
            "Z.ai",
            "https://api.z.ai/api/paas/v4",
            stream_usage_unasked=True,
            price_id="zai",
            model_prefixes=("glm-",),
        ),
        _p(
            "minimax",
            "MiniMax",
            "https://api.minimax.io/v1",
            price_id="minimax",
            model_prefixes=("minimax-",),
        ),
        _p("novita", "Novita AI", "https://api.novita.ai/openai/v1", price_id="novita"),
        _p("nebius", "Nebius AI Studio", "https://api.studio.nebius.com/v1"),
        _p(
            "cohere",
            "Cohere",
            "https://api.cohere.ai/compatibility/v1",
            price_id="cohere",
            env_vars=("COHERE_API_KEY", "CO_API_KEY"),
            model_prefixes=("command-",),
        ),
        _p(
            "inception",
            "Inception Labs",
            "https://api.inceptionlabs.ai/v1",
            model_prefixes=("mercury",),
        ),
    )
}


def custom_provider(pid: str, base_url: str, name: str | None = None) -> Provider:
    """An OpenAI-compatible server named in config (Ollama, vLLM, LM Studio)."""
    return Provider(
        pid,
        name or pid,
        base_url,
        key_optional=True,
        stream_usage_unasked=False,
        env_vars=(),
    )


def with_base_url(provider: Provider, base_url: str) -> Provider:
    """The same provider at another address."""
    return replace(provider, base_url=base_url.rstrip("/"))


def provider_for_model(model: str, providers: dict[str, Provider]) -> Provider | None:
    """The provider a bare model name belongs to, by its name's prefix."""
    lowered = model.lower()
    for provider in providers.values():
        if any(lowered.startswith(prefix) for prefix in provider.model_prefixes):
            return provider
    return None
