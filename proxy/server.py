"""The gateway's HTTP server, kept behind one module so it can be swapped.

aiohttp's low-level server is used without an Application: one handler function,
no routing table or middleware objects per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class BindError(OSError):
    """The gateway could not listen on its address."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


class HttpServer:
    """Listens on one address and hands every request to one handler."""

    def __init__(self, handler: Handler) -> None:
        # Cancelling the handler when its client goes away is what lets the
        # gateway close the upstream request at once and record the disconnect.
        self._server = web.Server(handler, handler_cancellation=True, access_log=None)
        self._listener: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        """Bind and start accepting; raises BindError with the reason."""
        loop = asyncio.get_running_loop()
        try:
            self._listener = await loop.create_server(
                self._server, host, port, reuse_address=True, backlog=1024
            )
        except OSError as exc:
            raise BindError(host, port, exc.strerror or str(exc)) from exc
        sock: socket.socket = self._listener.sockets[0]
        self.port = sock.getsockname()[1]

    def stop_accepting(self) -> None:
        """Refuse new connections; requests under way go on."""
        if self._listener is not None:
            self._listener.close()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, give handlers still running `grace` seconds, then close."""
        if self._listener is None:
            return
        self._listener.close()
        await self._server.shutdown(grace)
        await self._listener.wait_closed()
        self._listener = None


def json_response(payload: dict, status: int = 200) -> web.Response:
    """A small JSON answer from the gateway itself."""
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json",
    )
