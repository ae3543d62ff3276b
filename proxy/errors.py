"""Error answers in the dialect of the route the client called."""

from __future__ import annotations

import json

from aiohttp import web

# Anthropic names its error types after the status they come with.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    504: "timeout_error",
}

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
    500: "server_error",
    502: "upstream_error",
    504: "timeout",
}


class GatewayError(Exception):
    """A request the gateway answers itself, with a status and a message to act on."""

    def __init__(self, status: int, message: str, code: str = "kilo_gateway") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def error_body(dialect: str, status: int, message: str, code: str) -> bytes:
    """The JSON error body a client of this dialect knows how to read."""
    if dialect == "anthropic":
        body = {
            "type": "error",
            "error": {
                "type": _ANTHROPIC_TYPES.get(status, "api_error"),
                "message": message,
            },
        }
    elif dialect == "gemini":
        body = {"error": {"code": status, "message": message, "status": code.upper()}}
    else:
        body = {
            "error": {
                "message": message,
                "type": _OPENAI_TYPES.get(status, "server_error"),
                "code": code,
                "param": None,
            }
        }
    # A lone surrogate from a client's JSON escapes cannot be UTF-8; written back as
    # its escape it stays inside its JSON string, where it came from.
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace")


def error_response(dialect: str, error: GatewayError) -> web.Response:
    """A complete aiohttp response for a gateway error."""
    return web.Response(
        status=error.status,
        body=error_body(dialect, error.status, error.message, error.code),
        content_type="application/json",
        headers={"x-kilo-error": error.code},
    )
