"""The `kilo-tui` command: the console, the demo console, or a gateway subcommand."""

from __future__ import annotations

import argparse
import os
import sys

USAGE = """\
usage: kilo-tui [--demo [--rate N]]
       kilo-tui serve|keys|gateway-key|export|report ... (see kilo-tui --help)

With no arguments, the console starts with the gateway inside it.
--demo runs it on simulated providers and traffic, with data kept apart.
"""


def main(argv: list[str] | None = None) -> int:
    """Run the console, or hand a subcommand to the gateway's command line."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] not in ("--demo", "--console"):
        from proxy.cli import main as proxy_main

        return proxy_main(args)
    try:
        options = _parse(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return run_console(demo=options.demo, rate=options.rate)


def _parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kilo-tui", usage=USAGE)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--console", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1.0, help="demo traffic scale")
    return parser.parse_args(args)


def run_console(demo: bool = False, rate: float = 1.0) -> int:
    """Start the console; problems with config are one line on stderr, never a trace."""
    from proxy.config import ConfigError, load_settings, resolve_paths

    paths = resolve_paths()
    try:
        settings = load_settings(paths)
    except ConfigError as exc:
        print(f"kilo-tui: {exc}", file=sys.stderr)
        return 1
    host = _host(settings, paths, demo, rate)
    from kilo_tui.app import KiloApp

    app = KiloApp(host)
    app.run()
    host.stop()
    return app.return_code or 0


def _host(settings, paths, demo: bool, rate: float):
    if demo:
        from kilo_tui.demo import DemoHost

        seed = os.environ.get("KILO_TUI_DEMO_SEED")
        return DemoHost(settings, paths, rate=rate, seed=int(seed) if seed else None)
    from kilo_tui.host import GatewayHost

    return GatewayHost(settings, paths)


if __name__ == "__main__":
    sys.exit(main())
