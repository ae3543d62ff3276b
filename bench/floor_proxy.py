"""The floor: the least a Python gateway can do (aiohttp in, aiohttp out, no records).

It forwards bytes and nothing else, so the gap between it and kilo-tui is the price of
routing, metering, pricing and logging.

    python bench/floor_proxy.py --port 9200 --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import aiohttp
from aiohttp import web

_DROP = {"host", "content-length", "transfer-encoding", "connection"}


def make_handler(session: aiohttp.ClientSession, upstream: str):
    """One handler that relays a request and streams the answer back."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/health":
            return web.Response(text="ok")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        async with session.request(
            request.method, upstream + request.path, data=body, headers=headers
        ) as answer:
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _DROP}
            if not answer.headers.get("content-type", "").startswith("text/event"):
                return web.Response(
                    status=answer.status, body=await answer.read(), headers=out
                )
            response = web.StreamResponse(status=answer.status, headers=out)
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    return handle


async def serve(port: int, upstream: str) -> None:
    """Serve until SIGINT or SIGTERM."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        server = web.Server(make_handler(session, upstream), access_log=None)
        loop = asyncio.get_running_loop()
        listener = await loop.create_server(server, "127.0.0.1", port, backlog=4096)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        listener.close()


def main() -> None:
    """Parse arguments and serve on uvloop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--upstream", default="http://127.0.0.1:9100")
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args.port, args.upstream))


if __name__ == "__main__":
    main()
