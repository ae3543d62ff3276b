"""Reading a client's request body within the limit, and the two changes made to it.

The body is forwarded byte for byte except for two named changes: the gateway's
provider prefix is removed from the model name, and a stream that would otherwise
report no usage is asked to include it.
"""

from __future__ import annotations

import io
import json

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from proxy.errors import GatewayError
from proxy.routing import Route

_USAGE_OPTION = b'"stream_options":{"include_usage":true},'
# Bodies above this go upstream a piece at a time: handed over whole, the socket
# would keep sending all of it after the client gave up, and the provider would
# get a complete request nobody waits for.
_WHOLE_BODY_MAX = 1024 * 1024


async def read_body(request: web.BaseRequest, limit: int) -> bytes:
    """The whole body, or a 413 as soon as it grows past the limit."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit)
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await request.content.readany()
        except (HttpProcessingError, RequestPayloadError) as exc:
            raise GatewayError(
                400,
                "The request body could not be decoded as its Content-Encoding "
                f"says ({_reason(exc)}).",
                "invalid_body_encoding",
            ) from None
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "message", "") or exc).strip() or type(exc).__name__


def upstream_data(body: bytes) -> bytes | io.BytesIO | None:
    """The body in the form the upstream call sends best: large ones in pieces."""
    if len(body) > _WHOLE_BODY_MAX:
        return io.BytesIO(body)
    return body or None


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        413,
        f"The request body is larger than the gateway's limit of {limit} bytes. "
        "Raise [server] max_body_bytes in config.toml if this is expected.",
        "body_too_large",
    )


def rewrite_body(body: bytes, payload: dict | None, route: Route) -> tuple[bytes, bool]:
    """The body to send upstream, and whether the usage-only chunk must be removed."""
    if payload is None:
        return body, False
    if route.rewrite_model is not None:
        body = _replace_model(body, payload, route.rewrite_model)
    if not _needs_usage_option(payload, route):
        return body, False
    return _add_usage_option(body, payload), True


def _replace_model(body: bytes, payload: dict, model: str) -> bytes:
    """Swap the model's value in place, so every other byte stays as the client sent."""
    old = json.dumps(payload["model"]).encode()
    new = json.dumps(model).encode()
    candidates = (b'"model":' + old, b'"model": ' + old)
    for pattern in candidates:
        if body.count(pattern) == 1 and _count_model_keys(body) == 1:
            return body.replace(pattern, pattern[: -len(old)] + new, 1)
    # Escaped or oddly spaced: fall back to re-encoding the whole object.
    payload = dict(payload, model=model)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _count_model_keys(body: bytes) -> int:
    return body.count(b'"model"')


def _needs_usage_option(payload: dict, route: Route) -> bool:
    if route.dialect != "openai" or payload.get("stream") is not True:
        return False
    if route.provider.stream_usage_unasked:
        return False
    if not route.url.endswith("completions"):
        return False
    options = payload.get("stream_options")
    return not (isinstance(options, dict) and options.get("include_usage") is True)


def _add_usage_option(body: bytes, payload: dict) -> bytes:
    if "stream_options" not in payload:
        start = body.find(b"{")
        return body[: start + 1] + _USAGE_OPTION + body[start + 1 :]
    options = payload["stream_options"]
    options = dict(options) if isinstance(options, dict) else {}
    options["include_usage"] = True
    payload = dict(payload, stream_options=options)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
