"""Ready-to-copy ways of pointing common tools at the gateway."""

from __future__ import annotations

from dataclasses import dataclass

KEY_PLACEHOLDER = "sk-kilo-…"  # shown until a gateway key is chosen


@dataclass(frozen=True, slots=True)
class Snippet:
    """One tool's setup: a title, the text to copy, and how to highlight it."""

    id: str
    title: str
    lexer: str
    text: str


def snippets(base_url: str, key: str | None, project: str) -> list[Snippet]:
    """Every tool's setup for this gateway, with the key filled in when there is one."""
    token = key or KEY_PLACEHOLDER
    v1 = f"{base_url}/v1"
    return [
        Snippet("openai", "OpenAI SDK (Python)", "python", _openai(v1, token, project)),
        Snippet("claude", "Claude Code", "bash", _claude(base_url, token)),
        Snippet("kilo", "Kilo Code / Cline / Roo Code", "text", _kilo(v1, token)),
        Snippet("aider", "aider", "bash", _aider(v1, token)),
        Snippet("curl", "curl", "bash", _curl(v1, token, project)),
        Snippet("env", "Environment variables", "bash", _env(base_url, v1, token)),
    ]


def _openai(v1: str, token: str, project: str) -> str:
    return f"""from openai import OpenAI

client = OpenAI(
    base_url="{v1}",
    api_key="{token}",
    default_headers={{"X-Kilo-Project": "{project}"}},
)
reply = client.chat.completions.create(
    model="openai/gpt-4.1-mini",  # any provider/model with a stored key
    messages=[{{"role": "user", "content": "Hello"}}],
)
print(reply.choices[0].message.content)
"""


def _claude(base_url: str, token: str) -> str:
    return f"""export ANTHROPIC_BASE_URL="{base_url}"
export ANTHROPIC_AUTH_TOKEN="{token}"
claude
"""


def _kilo(v1: str, token: str) -> str:
    return f"""API Provider:  OpenAI Compatible
Base URL:      {v1}
API Key:       {token}
Model ID:      anthropic/claude-sonnet-4-5   (or any provider/model)

Anthropic models also work with the "Anthropic" provider and a custom base URL
of {v1.removesuffix("/v1")}.
"""


def _aider(v1: str, token: str) -> str:
    return f"""export OPENAI_API_BASE="{v1}"
export OPENAI_API_KEY="{token}"
aider --model openai/deepseek/deepseek-chat
"""


def _curl(v1: str, token: str, project: str) -> str:
    return f"""curl {v1}/chat/completions \\
  -H "Authorization: Bearer {token}" \\
  -H "X-Kilo-Project: {project}" \\
  -H "Content-Type: application/json" \\
  -d '{{"model": "deepseek/deepseek-chat",
       "messages": [{{"role": "user", "content": "Hello"}}]}}'
"""


def _env(base_url: str, v1: str, token: str) -> str:
    return f"""# OpenAI-compatible tools
export OPENAI_BASE_URL="{v1}"
export OPENAI_API_KEY="{token}"
# Anthropic-native tools
export ANTHROPIC_BASE_URL="{base_url}"
export ANTHROPIC_API_KEY="{token}"
"""
