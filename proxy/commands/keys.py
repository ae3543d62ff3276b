"""`kilo-tui keys`: provider keys added, listed, tested, removed and imported."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from proxy.commands.common import (
    PROG,
    Failure,
    UsageError,
    command,
    context,
    missing_database,
    provider,
)
from proxy.commands.text import short_time, table
from proxy.gateway_keys import is_gateway_key
from proxy.keystore import ImportedKey, KeyStore, KeyStoreError, StoredKey, clean_secret
from proxy.registry import Provider


def add_parser(sub) -> None:
    """keys add|list|test|remove|import."""
    keys = command(sub, "keys", None, "manage provider keys").add_subparsers(
        title="keys commands", metavar="ACTION", required=True
    )
    add = command(keys, "add", cmd_keys_add, "store a key read from standard input")
    add.add_argument("provider", help="provider id, e.g. openai or anthropic")
    add.add_argument("--label", default="default", help="name of this key")
    command(keys, "list", cmd_keys_list, "list stored keys, masked")
    test = command(keys, "test", cmd_keys_test, "check a stored key with the provider")
    test.add_argument("provider")
    test.add_argument("--label", help="which key (default: the default one)")
    remove = command(keys, "remove", cmd_keys_remove, "delete a stored key")
    remove.add_argument("provider")
    remove.add_argument("--label", help="which key, when the provider has several")
    command(keys, "import", cmd_keys_import, "store keys found in the environment")


def secret_problem(secret: str) -> str | None:
    """Why a secret cannot be stored, in words, or None when it can."""
    if any(c in secret.strip() for c in "\r\n"):
        return "the key has more than one line"
    try:
        clean_secret(secret)
    except KeyStoreError as exc:
        return str(exc)
    return None


# --- add ------------------------------------------------------------------------


def cmd_keys_add(args: argparse.Namespace) -> int:
    """Store a provider key read from stdin, never from the command line."""
    paths, settings = context()
    chosen = provider(settings, args.provider)
    secret = _read_secret(chosen).strip()
    if not secret:
        raise UsageError(
            f"no key on standard input; pipe it in, e.g.: {PROG} keys add "
            f"{chosen.id} < keyfile"
        )
    if is_gateway_key(secret):
        raise UsageError(
            f"that is a kilo-tui gateway key, not a {chosen.name} key; "
            f"gateway keys are made with: {PROG} gateway-key create"
        )
    problem = secret_problem(secret)
    if problem:
        raise Failure(f"{problem}; give only the key itself on standard input")
    store = KeyStore(paths)
    old = store.find(chosen.id, args.label)
    key = store.add(chosen.id, secret, args.label)
    where = store.backend_description
    if old is None:
        print(f"Stored the {chosen.name} key '{key.label}' ({key.masked}) in {where}.")
    else:
        print(
            f"Replaced the {chosen.name} key '{key.label}' ({old.masked}) with "
            f"{key.masked} in {where}."
        )
    return 0


def _read_secret(chosen: Provider) -> str:
    """The key from a pipe, or typed at a hidden prompt on a terminal."""
    stdin = sys.stdin
    if stdin is None:
        raise UsageError("no standard input to read the key from")
    if stdin.isatty():
        return getpass.getpass(f"{chosen.name} API key (hidden): ")
    try:
        return stdin.read()
    except UnicodeDecodeError:
        raise UsageError("standard input is not text; pipe in the key alone") from None


# --- list -----------------------------------------------------------------------


def cmd_keys_list(args: argparse.Namespace) -> int:
    """The stored keys, masked, and plainly where their secrets live."""
    paths, _ = context()
    store = KeyStore(paths)
    keys = [] if missing_database(paths) else store.list()
    if not keys:
        print(f"No provider keys stored. Add one with: {PROG} keys add PROVIDER")
    else:
        headers = ("PROVIDER", "LABEL", "KEY", "ADDED", "CHECKED", "RESULT", "STORED")
        print(table(headers, [_key_row(k) for k in keys], left=7))
    print(_where_stored(store, keys))
    mode = exposed_mode(store.file.path)
    if mode is not None:
        print(
            f"{PROG}: warning: other users can read {store.file.path} (mode "
            f"{mode:04o}), so kilo-tui will not use the keys in it; make it private "
            f"with: chmod 600 {store.file.path}",
            file=sys.stderr,
        )
    return 0


def _key_row(key: StoredKey) -> tuple[str, ...]:
    return (
        key.provider,
        key.label,
        key.masked,
        short_time(key.created_at),
        short_time(key.checked_at),
        key.check_status or "-",
        key.stored_in,
    )


def _where_stored(store: KeyStore, keys: list[StoredKey]) -> str:
    """One plain sentence on where secrets are, naming the fallback file if used."""
    where = f"the fallback file {store.file.path}{_privacy(store.file.path)}"
    if store.is_fallback:
        return f"No usable OS keyring was found, so secrets are kept in {where}."
    if any(k.stored_in == "file" for k in keys):
        return (
            f"Keys marked 'file' are in {where}; new keys go to "
            f"{store.backend_description}."
        )
    return f"Secrets are in {store.backend_description}."


def _privacy(path: Path) -> str:
    """Who can read the file, as it really is now."""
    if not path.exists():
        return " (not created yet)"
    mode = exposed_mode(path)
    if mode is not None:
        return f" (readable by other users: mode {mode:04o})"
    return " (readable by you only)" if os.name == "posix" else ""


def exposed_mode(path: Path) -> int | None:
    """The file's permission bits when others may read or write it, else None."""
    if os.name != "posix":
        return None
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    return mode if mode & 0o077 else None


# --- test and remove ------------------------------------------------------------


def cmd_keys_test(args: argparse.Namespace) -> int:
    """Check a stored key against the provider and remember the outcome."""
    from proxy.keycheck import check_key

    paths, settings = context()
    chosen = provider(settings, args.provider)
    store = KeyStore(paths)
    key = None if missing_database(paths) else store.find(chosen.id, args.label)
    secret = None if key is None else store.secret(chosen.id, key.label)
    if key is None or secret is None:
        which = f" '{args.label}'" if args.label else ""
        raise Failure(
            f"no {chosen.id} key{which} is stored; add one with: "
            f"{PROG} keys add {chosen.id}"
        )
    result = check_key(chosen, secret, timeout=settings.connect_timeout)
    # The same detail text the console writes, model count last.
    detail = result.detail
    if result.models is not None:
        detail = f"{detail}, {result.models} models"
    store.record_check(chosen.id, key.label, result.status, result.latency_ms, detail)
    print(_check_line(chosen, key, result))
    if not result.ok:
        raise Failure(_check_advice(chosen, key, result.status))
    return 0


def _check_line(chosen: Provider, key: StoredKey, result) -> str:
    models = "" if result.models is None else f", {result.models} models"
    latency = "" if result.latency_ms is None else f" in {result.latency_ms:.0f} ms"
    detail = f" ({result.detail})" if result.detail and not result.ok else ""
    return (
        f"{chosen.id} '{key.label}' {key.masked}: "
        f"{result.status}{latency}{models}{detail}"
    )


def _check_advice(chosen: Provider, key: StoredKey, status: str) -> str:
    """What to do after a check that did not pass."""
    if status == "invalid":
        return (
            f"{chosen.name} refused the key; replace it with: "
            f"{PROG} keys add {chosen.id} --label {key.label}"
        )
    if status == "rate_limited":
        return f"{chosen.name} is rate-limiting this key; try again in a minute"
    return (
        f"could not get an answer from {chosen.base_url}; check the network and "
        f"the base_url of [providers.{chosen.id}] in config.toml"
    )


def cmd_keys_remove(args: argparse.Namespace) -> int:
    """Delete a key; asks for --label when the provider has several."""
    paths, _ = context()
    store = KeyStore(paths)
    stored = [] if missing_database(paths) else store.list()
    keys = [k for k in stored if k.provider == args.provider]
    if args.label is None and len(keys) > 1:
        labels = ", ".join(k.label for k in keys)
        raise UsageError(
            f"{args.provider} has {len(keys)} keys ({labels}); choose one with --label"
        )
    removed = store.remove(args.provider, args.label) if keys else []
    if not removed:
        which = f" '{args.label}'" if args.label else ""
        raise Failure(f"no {args.provider} key{which} is stored; see: {PROG} keys list")
    for key in removed:
        print(f"Removed the {key.provider} key '{key.label}' ({key.masked}).")
    return 0


# --- import ---------------------------------------------------------------------


def cmd_keys_import(args: argparse.Namespace) -> int:
    """Store every usable key found in the usual environment variables."""
    paths, settings = context()
    store = KeyStore(paths)
    imported: list[ImportedKey] = []
    skipped: list[tuple[str, str, str]] = []
    for chosen in settings.providers.values():
        item, bad = _import_provider(store, chosen, os.environ)
        imported += [item] if item else []
        skipped += [(var, chosen.id, why) for var, why in bad]
    if not imported and not skipped:
        print("No provider keys found in the environment (e.g. OPENAI_API_KEY).")
        return 0
    for item in imported:
        verb = "Stored" if item.action == "added" else "Already stored:"
        print(
            f"{verb} {item.provider} '{item.label}' (…{item.last4}) from {item.env_var}"
        )
    if imported:
        print(f"Keys are kept in {store.backend_description}.")
    for var, pid, why in skipped:
        print(f"{PROG}: skipped {var} ({pid}): {why}", file=sys.stderr)
    if not imported:
        raise Failure("no key was imported; fix the variables named above")
    return 0


def _import_provider(
    store: KeyStore, chosen: Provider, environ: Mapping[str, str]
) -> tuple[ImportedKey | None, list[tuple[str, str]]]:
    """The first usable key among a provider's variables, and those skipped."""
    skipped = []
    for var in chosen.env_vars:
        value = environ.get(var, "").strip()
        if not value:
            continue
        problem = secret_problem(value)
        if problem is None:
            try:
                found = store.import_from_env({var: value}, {chosen.id: chosen})
                return found[0], skipped
            except KeyStoreError as exc:
                problem = str(exc)
        skipped.append((var, problem))
    return None, skipped
