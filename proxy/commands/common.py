"""What every subcommand shares: its errors, its parser class and its settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from proxy import queries
from proxy.config import Paths, Settings, load_settings, resolve_paths
from proxy.registry import Provider

PROG = "kilo-tui"


class UsageError(Exception):
    """The command line was wrong; exit status 2."""


class Failure(Exception):
    """The command could not do its job; exit status 1."""


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def command(sub, name: str, run: Callable | None, help: str) -> Parser:
    """A subcommand parser wired to its handler."""
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(run=run)
    return parser


def context() -> tuple[Paths, Settings]:
    """Where files are and what config.toml says."""
    paths = resolve_paths()
    return paths, load_settings(paths)


def provider(settings: Settings, pid: str) -> Provider:
    """A provider of the registry or config; bad usage if unknown."""
    try:
        return settings.providers[pid]
    except KeyError:
        known = ", ".join(sorted(settings.providers))
        raise UsageError(f"unknown provider {pid!r}; known: {known}") from None


def window(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    """--since and --until as moments; bad usage if unreadable or out of order."""
    since, until = _when(args.since), _when(args.until)
    if since is not None and until is not None and since >= until:
        raise UsageError(
            f"--since {args.since} is not before --until {args.until}; "
            "--since is the start of the window, e.g. --since 2d --until 1d"
        )
    return since, until


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return queries.parse_since(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OverflowError:
        raise UsageError(f"cannot use the time {text!r}: it is too far back") from None


def missing_database(paths: Paths, demo: bool = False) -> bool:
    """Whether nothing was recorded yet; read-only commands then create no file."""
    return not paths.database(demo).exists()
