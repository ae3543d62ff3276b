"""`kilo-tui serve`: the gateway alone, in the foreground."""

from __future__ import annotations

import argparse
import errno
import os
import socket
from typing import TYPE_CHECKING

from proxy.commands.common import Failure, command, context
from proxy.config import ConfigError, Paths, is_loopback
from proxy.keystore import KeyStoreError
from proxy.store import StoreError

if TYPE_CHECKING:
    from proxy.server import BindError


def add_parser(sub) -> None:
    """serve [--host H] [--port P]."""
    p = command(sub, "serve", cmd_serve, "run the gateway until SIGINT or SIGTERM")
    p.add_argument("--host", help="address to listen on (default from config)")
    p.add_argument(
        "--port", type=port_number, help="port to listen on (default from config)"
    )


def port_number(text: str) -> int:
    """A --port value; 0 asks for any free port."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return number


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the gateway in the foreground."""
    paths, settings = context()
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    if not is_loopback(host) and not settings.require_gateway_key:
        raise Failure(
            f"refusing to listen on {host}: other machines could reach it and spend "
            "your keys; to allow it, add require_gateway_key = true under [server] "
            f"in {paths.config_file}, then give each client a key from: "
            "kilo-tui gateway-key create --project NAME"
        )
    # Imported here: aiohttp takes a moment to load, and only serve needs it.
    from proxy import gateway

    try:
        result = gateway.serve_forever(settings, paths, host, port)
    except gateway.GatewayBindError as exc:
        raise Failure(bind_failure(exc, paths)) from None
    except (ConfigError, StoreError, KeyStoreError) as exc:
        raise Failure(f"the gateway did not start: {exc}") from None
    return result if isinstance(result, int) else 0


def bind_failure(exc: BindError, paths: Paths) -> str:
    """Why the gateway could not listen, and what to change."""
    cause = exc.__cause__
    code = getattr(cause, "errno", None)
    where = f"port {exc.port} on {exc.host}"
    # asyncio's own text repeats the address; the system's words are enough.
    reason = os.strerror(code) if isinstance(code, int) and code > 0 else exc.reason
    other_port = (
        f"pick another port with --port or [server] port in {paths.config_file}"
    )
    if code == errno.EADDRINUSE:
        return (
            f"{where} is already in use ({reason}): stop the other process, "
            f"or {other_port}"
        )
    if code == errno.EACCES:
        return (
            f"not allowed to listen on {where} ({reason}): ports below 1024 "
            f"need special rights; {other_port}"
        )
    if isinstance(cause, socket.gaierror) or code == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {exc.host} ({reason}): it is not an address of "
            f"this machine; use 127.0.0.1, or pick another with --host or [server] "
            f"host in {paths.config_file}"
        )
    return (
        f"cannot listen on {where} ({reason}); pick another address with "
        f"--host/--port or [server] in {paths.config_file}"
    )
