"""kilo-tui's console, headless, with the gateway embedded and the Live screen open.

Measures what the console costs the gateway: the same traffic as `kilo-tui serve`,
while the app drains the live feed and repaints on its own clock (output discarded).
Reads config from KILO_TUI_HOME like the product. Stops cleanly on SIGINT/SIGTERM.

    KILO_TUI_HOME=/tmp/x python bench/console_gateway.py --port 9300
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from kilo_tui.app import KiloApp
from kilo_tui.host import RUNNING, GatewayHost
from proxy.config import load_settings, resolve_paths
from proxy.gateway import new_event_loop


async def run(host: str, port: int) -> int:
    """Run the app headless until a signal, then quit it the way a user would."""
    paths = resolve_paths()
    settings = load_settings(paths)
    settings.host, settings.port = host, port
    host = GatewayHost(settings, paths)
    app = KiloApp(host)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: app.call_later(app.action_quit))
    watcher = asyncio.create_task(_watch(app, host))
    await app.run_async(headless=True, size=(160, 48))
    watcher.cancel()
    print("console stopped", flush=True)
    return 1 if host.problem else 0


async def _watch(app: KiloApp, host: GatewayHost) -> None:
    """Say when the gateway runs; headless, nobody reads a failure notice, so print
    why it failed and end."""
    while host.state != RUNNING and host.problem is None:
        await asyncio.sleep(0.1)
    if host.problem is None:
        print(f"gateway running at {host.base_url}", flush=True)
        return
    problem = host.problem
    print(f"gateway failed: {problem.title}: {problem.detail}", flush=True)
    app.exit(return_code=1)


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9300)
    args = parser.parse_args()
    loop = new_event_loop()
    try:
        raise SystemExit(loop.run_until_complete(run(args.host, args.port)))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
