"""The kilo-tui command line: serve, keys, gateway-key, export and report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import inspect
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import NoReturn

from proxy import __version__, queries
from proxy.config import ConfigError, Paths, Settings, load_settings, resolve_paths
from proxy.gateway_keys import GatewayKeyError, GatewayKeyStore, is_gateway_key
from proxy.keystore import KeyStore, KeyStoreError, StoredKey
from proxy.records import iso_utc
from proxy.registry import Provider
from proxy.store import StoreError, open_reader

log = logging.getLogger(__name__)

PROG = "kilo-tui"
DEFAULT_REPORT_SINCE = "30d"
DEBUG_ENV = "KILO_TUI_DEBUG"


class UsageError(Exception):
    """The command line was wrong; exit status 2."""


class Failure(Exception):
    """The command could not do its job; exit status 1."""


# Failures whose message already tells the user what happened and what to do.
EXPECTED = (Failure, ConfigError, StoreError, KeyStoreError, GatewayKeyError)


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the process exit status. Never lets a traceback out."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with _logging_to_stderr():
        return _run(argv)


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
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        return _fail(
            f"unexpected error ({type(exc).__name__}: {exc}); run again with "
            f"{DEBUG_ENV}=1 to see the details",
            1,
        )


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


# --- the parser ---------------------------------------------------------------


def build_parser() -> Parser:
    """Every subcommand, its options and its help."""
    parser = Parser(
        prog=PROG,
        description="A local LLM gateway that records what every request cost.",
        epilog="With no command, `kilo-tui` opens the console with the gateway "
        "inside it; `kilo-tui --demo` opens it on simulated traffic, no key needed.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.set_defaults(run=lambda _args: _usage(parser))
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_serve(sub)
    _add_keys(sub)
    _add_gateway_key(sub)
    _add_export(sub)
    _add_report(sub)
    return parser


def _usage(parser: Parser) -> int:
    raise UsageError(
        "choose a command: serve, keys, gateway-key, export or report "
        f"(see: {parser.prog} --help)"
    )


def _command(sub, name: str, run: Callable, help: str) -> Parser:
    """A subcommand parser wired to its handler."""
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(run=run)
    return parser


def _add_serve(sub) -> None:
    p = _command(sub, "serve", cmd_serve, "run the gateway until SIGINT or SIGTERM")
    p.add_argument("--host", help="address to listen on (default from config)")
    p.add_argument("--port", type=_port, help="port to listen on (default from config)")


def _add_keys(sub) -> None:
    keys = _command(sub, "keys", None, "manage provider keys").add_subparsers(
        title="keys commands", metavar="ACTION", required=True
    )
    add = _command(keys, "add", cmd_keys_add, "store a key read from standard input")
    add.add_argument("provider", help="provider id, e.g. openai or anthropic")
    add.add_argument("--label", default="default", help="name of this key")
    _command(keys, "list", cmd_keys_list, "list stored keys, masked")
    test = _command(keys, "test", cmd_keys_test, "check a stored key with the provider")
    test.add_argument("provider")
    test.add_argument("--label", help="which key (default: the default one)")
    remove = _command(keys, "remove", cmd_keys_remove, "delete a stored key")
    remove.add_argument("provider")
    remove.add_argument("--label", help="which key, when the provider has several")
    _command(keys, "import", cmd_keys_import, "store keys found in the environment")


def _add_gateway_key(sub) -> None:
    gk = _command(
        sub, "gateway-key", None, "manage keys clients present to the gateway"
    )
    actions = gk.add_subparsers(title="gateway-key commands", metavar="ACTION")
    actions.required = True
    create = _command(
        actions, "create", cmd_gk_create, "make a key; printed once, on the last line"
    )
    create.add_argument("--project", required=True, help="project it is counted to")
    _command(actions, "list", cmd_gk_list, "list gateway keys, masked")
    revoke = _command(actions, "revoke", cmd_gk_revoke, "stop a key from working")
    revoke.add_argument("id", help="the key's id, gk_ and 8 hex digits")


def _add_window(p: Parser, since: str | None) -> None:
    """--since/--until/--demo, shared by export and report."""
    default = f" (default {since})" if since else " (default: everything)"
    p.add_argument(
        "--since", default=since, help="7d, 24h, 30m or a UTC date" + default
    )
    p.add_argument("--until", help="end of the window, same forms (default: now)")
    p.add_argument("--demo", action="store_true", help="read the demo database")


def _add_export(sub) -> None:
    p = _command(sub, "export", cmd_export, "write the request log to standard output")
    p.add_argument("--format", choices=queries.EXPORT_FORMATS, default="csv")
    _add_window(p, None)


def _add_report(sub) -> None:
    p = _command(sub, "report", cmd_report, "print the cost breakdown")
    p.add_argument("--by", choices=tuple(queries.DIMENSIONS), default="model")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _add_window(p, DEFAULT_REPORT_SINCE)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


# --- shared helpers ---------------------------------------------------------------


def _context() -> tuple[Paths, Settings]:
    """Where files are and what config.toml says."""
    paths = resolve_paths()
    return paths, load_settings(paths)


def _provider(settings: Settings, pid: str) -> Provider:
    """A provider of the registry or config; bad usage if unknown."""
    try:
        return settings.providers[pid]
    except KeyError:
        known = ", ".join(sorted(settings.providers))
        raise UsageError(f"unknown provider {pid!r}; known: {known}") from None


def _when(text: str | None) -> datetime | None:
    """A --since/--until value as a moment; bad usage if unreadable."""
    if text is None:
        return None
    try:
        return queries.parse_since(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _table(headers: Sequence[str], rows: list[Sequence[str]], left: int = 1) -> str:
    """Columns padded to fit; the first `left` columns left-aligned, others right."""
    widths = [
        max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)
    ]
    lines = []
    for row in (headers, *rows):
        cells = [
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _short_time(text: str | None) -> str:
    """A stored ISO time as "2025-01-31 14:05" (UTC)."""
    return "-" if not text else text[:16].replace("T", " ")


# --- serve --------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the gateway in the foreground."""
    paths, settings = _context()
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    if not is_loopback(host) and not settings.require_gateway_key:
        raise Failure(
            f"refusing to listen on {host}, off loopback, without gateway keys: set "
            f"require_gateway_key = true under [server] in {paths.config_file} and "
            "create keys with: kilo-tui gateway-key create --project NAME"
        )
    try:
        from proxy import gateway
    except ModuleNotFoundError as exc:
        if exc.name != "proxy.gateway":
            raise
        raise Failure("this build of kilo-tui has no gateway to serve") from None
    result = gateway.serve_forever(settings, paths, host, port)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return result if isinstance(result, int) else 0


def is_loopback(host: str) -> bool:
    """Whether a listen address is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- keys ---------------------------------------------------------------------


def cmd_keys_add(args: argparse.Namespace) -> int:
    """Store a provider key read from stdin, never from the command line."""
    paths, settings = _context()
    provider = _provider(settings, args.provider)
    secret = _read_secret(provider).strip()
    if not secret:
        raise UsageError(
            f"no key on standard input; pipe it in, e.g.: kilo-tui keys add "
            f"{provider.id} < keyfile"
        )
    if is_gateway_key(secret):
        raise UsageError(
            f"that is a kilo-tui gateway key, not a {provider.name} key; "
            "gateway keys are made with: kilo-tui gateway-key create"
        )
    store = KeyStore(paths)
    key = store.add(provider.id, secret, args.label)
    print(
        f"Stored the {provider.name} key '{key.label}' ({key.masked}) in "
        f"{store.backend_description}."
    )
    return 0


def _read_secret(provider: Provider) -> str:
    """The key from a pipe, or typed at a hidden prompt on a terminal."""
    stdin = sys.stdin
    if stdin is None:
        raise UsageError("no standard input to read the key from")
    if stdin.isatty():
        return getpass.getpass(f"{provider.name} API key (hidden): ")
    return stdin.read()


def cmd_keys_list(args: argparse.Namespace) -> int:
    """The stored keys, masked, and plainly where their secrets live."""
    paths, _ = _context()
    store = KeyStore(paths)
    keys = store.list()
    if not keys:
        print("No provider keys stored. Add one with: kilo-tui keys add PROVIDER")
    else:
        headers = ("PROVIDER", "LABEL", "KEY", "ADDED", "CHECKED", "RESULT", "STORED")
        print(_table(headers, [_key_row(k) for k in keys], left=7))
    print(_where_stored(store, keys))
    return 0


def _key_row(key: StoredKey) -> tuple[str, ...]:
    return (
        key.provider,
        key.label,
        key.masked,
        _short_time(key.created_at),
        _short_time(key.checked_at),
        key.check_status or "-",
        key.stored_in,
    )


def _where_stored(store: KeyStore, keys: list[StoredKey]) -> str:
    """One plain sentence on where secrets are, naming the fallback file if used."""
    where = f"the fallback file {store.file.path} (readable by you only)"
    if store.is_fallback:
        return f"No usable OS keyring was found, so secrets are kept in {where}."
    if any(k.stored_in == "file" for k in keys):
        return (
            f"Keys marked 'file' are in {where}; new keys go to "
            f"{store.backend_description}."
        )
    return f"Secrets are in {store.backend_description}."


def cmd_keys_test(args: argparse.Namespace) -> int:
    """Check a stored key against the provider and remember the outcome."""
    from proxy.keycheck import check_key

    paths, settings = _context()
    provider = _provider(settings, args.provider)
    store = KeyStore(paths)
    key = store.find(provider.id, args.label)
    secret = None if key is None else store.secret(provider.id, key.label)
    if key is None or secret is None:
        which = f" '{args.label}'" if args.label else ""
        raise Failure(
            f"no {provider.id} key{which} is stored; add one with: "
            f"kilo-tui keys add {provider.id}"
        )
    result = check_key(provider, secret, timeout=settings.connect_timeout)
    # The same detail text the console writes, model count last.
    detail = result.detail
    if result.models is not None:
        detail = f"{detail}, {result.models} models"
    store.record_check(provider.id, key.label, result.status, result.latency_ms, detail)
    print(_check_line(provider, key, result))
    if not result.ok:
        raise Failure(_check_advice(provider, key, result.status))
    return 0


def _check_line(provider: Provider, key: StoredKey, result) -> str:
    models = "" if result.models is None else f", {result.models} models"
    latency = "" if result.latency_ms is None else f" in {result.latency_ms:.0f} ms"
    detail = f" ({result.detail})" if result.detail and not result.ok else ""
    return (
        f"{provider.id} '{key.label}' {key.masked}: "
        f"{result.status}{latency}{models}{detail}"
    )


def _check_advice(provider: Provider, key: StoredKey, status: str) -> str:
    """What to do after a check that did not pass."""
    if status == "invalid":
        return (
            f"{provider.name} refused the key; replace it with: "
            f"kilo-tui keys add {provider.id} --label {key.label}"
        )
    if status == "rate_limited":
        return f"{provider.name} is rate-limiting this key; try again in a minute"
    return (
        f"could not get an answer from {provider.base_url}; check the network and "
        f"the base_url of [providers.{provider.id}] in config.toml"
    )


def cmd_keys_remove(args: argparse.Namespace) -> int:
    """Delete a key; asks for --label when the provider has several."""
    paths, _ = _context()
    store = KeyStore(paths)
    keys = [k for k in store.list() if k.provider == args.provider]
    if args.label is None and len(keys) > 1:
        labels = ", ".join(k.label for k in keys)
        raise UsageError(
            f"{args.provider} has {len(keys)} keys ({labels}); choose one with --label"
        )
    removed = store.remove(args.provider, args.label)
    if not removed:
        which = f" '{args.label}'" if args.label else ""
        raise Failure(
            f"no {args.provider} key{which} is stored; see: kilo-tui keys list"
        )
    for key in removed:
        print(f"Removed the {key.provider} key '{key.label}' ({key.masked}).")
    return 0


def cmd_keys_import(args: argparse.Namespace) -> int:
    """Store provider keys found in the usual environment variables."""
    paths, settings = _context()
    store = KeyStore(paths)
    found = store.import_from_env(os.environ, settings.providers)
    if not found:
        print("No provider keys found in the environment (e.g. OPENAI_API_KEY).")
        return 0
    for item in found:
        verb = "Stored" if item.action == "added" else "Already stored:"
        print(
            f"{verb} {item.provider} '{item.label}' (…{item.last4}) from {item.env_var}"
        )
    print(f"Keys are kept in {store.backend_description}.")
    return 0


# --- gateway keys -------------------------------------------------------------


def cmd_gk_create(args: argparse.Namespace) -> int:
    """Make a gateway key; the token is the last line and is never shown again."""
    paths, _ = _context()
    key_id, token = GatewayKeyStore(paths.database()).create(args.project)
    print(f"Created gateway key {key_id} for project '{args.project.strip()}'.")
    print("It is shown only once. Clients send it as: Authorization: Bearer <key>")
    print(token)
    return 0


def cmd_gk_list(args: argparse.Namespace) -> int:
    """Every gateway key, masked, with its project and state."""
    paths, _ = _context()
    keys = GatewayKeyStore(paths.database()).list()
    if not keys:
        print("No gateway keys. Make one with: kilo-tui gateway-key create --project X")
        return 0
    rows = [
        (
            k.id,
            k.project,
            k.masked,
            _short_time(k.created_at),
            "active" if k.active else f"revoked {_short_time(k.revoked_at)}",
        )
        for k in keys
    ]
    print(_table(("ID", "PROJECT", "KEY", "CREATED", "STATE"), rows, left=5))
    return 0


def cmd_gk_revoke(args: argparse.Namespace) -> int:
    """Revoke a gateway key; a running gateway notices within a second."""
    paths, _ = _context()
    key = GatewayKeyStore(paths.database()).revoke(args.id)
    print(
        f"Revoked {key.id} (project '{key.project}'); a running gateway refuses it "
        "within a second."
    )
    return 0


# --- export and report --------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    """Stream the request log as CSV or JSON."""
    paths, _ = _context()
    since, until = _when(args.since), _when(args.until)
    return asyncio.run(_export(paths, args, since, until))


async def _export(paths: Paths, args, since, until) -> int:
    db = await open_reader(paths.database(args.demo))
    try:
        # Closed before the connection, even when stdout goes away mid-way.
        rows = queries.iter_export_rows(db, since, until)
        async with contextlib.aclosing(rows):
            await queries.write_export(rows, sys.stdout, args.format)
    finally:
        await db.close()
    sys.stdout.flush()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Print the cost breakdown by one dimension."""
    paths, _ = _context()
    since, until = _when(args.since), _when(args.until)
    groups, total = asyncio.run(_report_data(paths, args, since, until))
    if args.format == "json":
        print(json.dumps(_report_json(args, since, until, groups, total), indent=2))
    elif args.format == "csv":
        queries.write_csv_rows((g.as_dict() for g in groups), sys.stdout)
    else:
        print(_report_table(args, since, until, groups, total))
    return 0


async def _report_data(paths: Paths, args, since, until):
    db = await open_reader(paths.database(args.demo))
    try:
        groups = await queries.breakdown(db, args.by, since, until)
        return groups, await queries.totals(db, since, until)
    finally:
        await db.close()


def _report_json(args, since, until, groups, total) -> dict:
    return {
        "by": args.by,
        "since": None if since is None else iso_utc(since),
        "until": None if until is None else iso_utc(until),
        "groups": [g.as_dict() for g in groups],
        "total": total.as_dict(),
    }


def _report_table(args, since, until, groups, total) -> str:
    """The breakdown as aligned text, totals last, unpriced requests called out."""
    window = "all time" if since is None else f"since {_short_time(iso_utc(since))}"
    if until is not None:
        window += f" until {_short_time(iso_utc(until))}"
    title = f"Cost by {args.by}, {window} UTC"
    if not total.requests:
        return f"{title}\nNo requests in this window."
    headers = (args.by.upper(), "REQUESTS", "INPUT", "CACHED", "OUTPUT", "REASONING")
    headers += ("COST", "UNPRICED", "SHARE")
    rows = [_report_row(g, args.by) for g in groups]
    rows.append(_report_row(total, args.by, label="TOTAL"))
    lines = [title, _table(headers, rows)]
    if total.unpriced:
        lines.append(
            f"{total.unpriced:,} request(s) had no known price: they are counted under "
            "UNPRICED, not in COST. Add a price under [prices] in config.toml."
        )
    return "\n".join(lines)


def _report_row(f: queries.Figures, by: str, label: str | None = None) -> tuple:
    group = label or (f.group if f.group is not None else "(no key)")
    return (
        group,
        f"{f.requests:,}",
        tokens(f.input_tokens),
        tokens(f.cache_read_tokens),
        tokens(f.output_tokens),
        tokens(f.reasoning_tokens),
        usd(f.cost),
        f"{f.unpriced:,}",
        f"{f.share * 100:.1f}%",
    )


def tokens(count: int) -> str:
    """A token count for reading: 950, 12.3k, 4.56M."""
    value, suffix = float(count), ""
    for bigger in ("k", "M", "B"):
        if round(value) < 1000:
            break
        value, suffix = value / 1000, bigger
    if not suffix:
        return str(count)
    return (f"{value:.3g}" if value < 1000 else f"{value:,.0f}") + suffix


def usd(cost: Decimal | None) -> str:
    """Dollars with at least 4 decimals and 4 significant digits for tiny sums."""
    if cost is None:
        return "—"
    places = 4 if cost == 0 else min(max(4, 3 - cost.adjusted()), 12)
    rounded = cost.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.{places}f}"


if __name__ == "__main__":
    sys.exit(main())
