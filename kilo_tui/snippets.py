"""Ready-to-copy ways of pointing common tools at the gateway."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The gateway reads this key as "no credential": fine from this machine, and
# plain ASCII, so every SDK accepts it in a header.
NO_KEY = "kilo"
# What fits in an HTTP header and in the quotes of every snippet below unchanged.
_SAFE = re.compile(r"[A-Za-z0-9._:/@+=~-][A-Za-z0-9 ._:/@+=~-]*")
# What a key can hold: gateway keys are "sk-kilo-" and URL-safe base64.
_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{1,200}")


@dataclass(frozen=True, slots=True)
class Snippet:
    """One tool's setup: a title, the text to copy, and how to highlight it."""

    id: str
    title: str
    lexer: str
    text: str


@dataclass(frozen=True, slots=True)
class Setup:
    """The snippets for one choice of key and project, and what to know about them."""

    snippets: list[Snippet]
    notes: list[str]


def header_safe(value: str) -> bool:
    """Whether a value can go into a header and a quoted snippet as it is."""
    return bool(_SAFE.fullmatch(value)) and len(value) <= 64


def setup(
    base_url: str, key: str | None, project: str, key_required: bool = False
) -> Setup:
    """Every tool's setup for this gateway, with the key filled in when there is one.

    Without a gateway key the snippets send `kilo`; a project that cannot travel in
    a header (not plain ASCII) is left out with a note rather than break an SDK.
    """
    notes = []
    if key is not None and not _KEY.fullmatch(key):
        notes.append(
            "The pasted key has characters no key has (spaces, quotes, or letters "
            "outside plain ASCII), so it is not used. Paste the sk-kilo-… key exactly "
            "as it was shown when it was made."
        )
        key = None
    if key is None and key_required:
        notes.append(
            "This gateway requires a gateway key (require_gateway_key in the config), "
            f'so "{NO_KEY}" will be refused: choose or paste a gateway key.'
        )
    if key is None:
        notes.append(
            f'No gateway key: the snippets send "{NO_KEY}", which the gateway takes '
            "as no key at all. That works only from this machine (loopback), and "
            "the requests count to the project in X-Kilo-Project, else to "
            '"default". For a project of their own, create a gateway key per '
            "project (3 Keys, then n) and choose it here."
        )
        header = project if header_safe(project) else None
        if header is None:
            notes.append(
                f"The project {project!r} cannot be sent in an HTTP header (only "
                "plain ASCII letters, digits and . _ - : / @ + = ~ can), so the "
                "snippets leave X-Kilo-Project out. A gateway key for that project "
                "counts requests to it whatever its name."
            )
    else:
        # A gateway key decides the project itself; the header would be ignored.
        header = None
    token = key or NO_KEY
    return Setup(snippets(base_url, token, header), notes)


def snippets(base_url: str, token: str, project: str | None) -> list[Snippet]:
    """Every tool's setup, sending `token` and, when given, the project header."""
    v1 = f"{base_url}/v1"
    return [
        Snippet("openai", "OpenAI SDK (Python)", "python", _openai(v1, token, project)),
        Snippet("claude", "Claude Code", "bash", _claude(base_url, token)),
        Snippet("kilo", "Kilo Code / Cline / Roo Code", "text", _kilo(v1, token)),
        Snippet("aider", "aider", "bash", _aider(v1, token)),
        Snippet("curl", "curl", "bash", _curl(v1, token, project)),
        Snippet("env", "Environment variables", "bash", _env(base_url, v1, token)),
    ]


def _openai(v1: str, token: str, project: str | None) -> str:
    headers = (
        f'    default_headers={{"X-Kilo-Project": "{project}"}},\n' if project else ""
    )
    return f"""from openai import OpenAI

client = OpenAI(
    base_url="{v1}",
    api_key="{token}",
{headers})
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


def _curl(v1: str, token: str, project: str | None) -> str:
    header = f'  -H "X-Kilo-Project: {project}" \\\n' if project else ""
    return f"""curl {v1}/chat/completions \\
  -H "Authorization: Bearer {token}" \\
{header}  -H "Content-Type: application/json" \\
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
