"""The kilo-tui command line: parses, dispatches, and turns failures into one line.

The subcommands live in proxy.commands, one module per command group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence

from proxy import __version__
from proxy.commands import gateway_key, keys, reports, serve
from proxy.commands.common import PROG, Failure, Parser, UsageError
from proxy.config import ConfigError
from proxy.gateway_keys import GatewayKeyError
from proxy.keystore import KeyStoreError
from proxy.store import StoreError

log = logging.getLogger(__name__)

DEBUG_ENV = "KILO_TUI_DEBUG"

# Failures whose message already tells the user what happened and what to do.
EXPECTED = (Failure, ConfigError, StoreError, KeyStoreError, GatewayKeyError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the process exit status. Never lets a traceback out."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with _logging_to_stderr():
        return _run(argv)


def build_parser() -> Parser:
    """Every subcommand, its options and its help."""
    parser = Parser(
        prog=PROG,
        description="A local LLM gateway that records what every request cost.",
        epilog="With no command, `kilo-tui` opens the console with the gateway "
        "inside it; `kilo-tui --demo` opens it on simulated traffic, no key needed.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.set_defaults(run=lambda _args: _choose_a_command(parser))
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    serve.add_parser(sub)
    keys.add_parser(sub)
    gateway_key.add_parser(sub)
    reports.add_parsers(sub)
    return parser


def _choose_a_command(parser: Parser) -> int:
    raise UsageError(
        "choose a command: serve, keys, gateway-key, export or report "
        f"(see: {parser.prog} --help)"
    )


def _run(argv: list[str]) -> int:
    """Parse and dispatch, turning every failure into a one-line message."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args) or 0
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        return _fail(f"error: {exc}", 2)
    except EXPECTED as exc:
        return _fail(f"error: {exc}", 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except OSError as exc:
        # A full disk, a home directory that is a file, a folder we may not write.
        log.debug("file system error", exc_info=True)
        return _fail(f"error: {_os_error(exc)}", 1)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        return _fail(
            f"unexpected error ({type(exc).__name__}: {exc}); run again with "
            f"{DEBUG_ENV}=1 to see the details",
            1,
        )


def _os_error(exc: OSError) -> str:
    """An OSError in words, naming the file when there is one."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


def _silence_stdout() -> None:
    """After a closed pipe (`export | head`), drop whatever is still buffered."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the moment of each record."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.setLevel(level)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


@contextlib.contextmanager
def _logging_to_stderr() -> Iterator[None]:
    """Warnings to stderr; everything, tracebacks included, with KILO_TUI_DEBUG=1."""
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    root = logging.getLogger()
    handler = _StderrHandler(logging.DEBUG if debug else logging.WARNING)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s %(message)s"))
    level = root.level
    root.addHandler(handler)
    if debug:
        root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
