"""`kilo-tui gateway-key`: keys clients present to the gateway, made and revoked."""

from __future__ import annotations

import argparse
import re

from proxy.commands.common import PROG, Failure, command, context, missing_database
from proxy.commands.text import short_time, table
from proxy.gateway_keys import GatewayKey, GatewayKeyStore

_KEY_ID = re.compile(r"gk_[0-9a-f]{8}")


def add_parser(sub) -> None:
    """gateway-key create|list|revoke."""
    gk = command(sub, "gateway-key", None, "manage keys clients present to the gateway")
    actions = gk.add_subparsers(
        title="gateway-key commands", metavar="ACTION", required=True
    )
    create = command(
        actions, "create", cmd_gk_create, "make a key; printed once, on the last line"
    )
    create.add_argument("--project", required=True, help="project it is counted to")
    command(actions, "list", cmd_gk_list, "list gateway keys, masked")
    revoke = command(actions, "revoke", cmd_gk_revoke, "stop a key from working")
    revoke.add_argument("id", type=key_id, help="the key's id, gk_ and 8 hex digits")


def key_id(text: str) -> str:
    """A gateway key id as typed; bad usage when it cannot be one."""
    cleaned = text.strip().lower()
    if not _KEY_ID.fullmatch(cleaned):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a gateway key id (gk_ and 8 hex digits, as shown by: "
            f"{PROG} gateway-key list)"
        )
    return cleaned


def cmd_gk_create(args: argparse.Namespace) -> int:
    """Make a gateway key; the token is the last line and is never shown again."""
    paths, _ = context()
    new_id, token = GatewayKeyStore(paths.database()).create(args.project)
    print(f"Created gateway key {new_id} for project '{args.project.strip()}'.")
    print("It is shown only once. Clients send it as: Authorization: Bearer <key>")
    print(token)
    return 0


def cmd_gk_list(args: argparse.Namespace) -> int:
    """Every gateway key, masked, with its project and state."""
    paths, _ = context()
    keys = [] if missing_database(paths) else GatewayKeyStore(paths.database()).list()
    if not keys:
        print(f"No gateway keys. Make one with: {PROG} gateway-key create --project X")
        return 0
    rows = [
        (k.id, k.project, k.masked, short_time(k.created_at), _state(k)) for k in keys
    ]
    print(table(("ID", "PROJECT", "KEY", "CREATED", "STATE"), rows, left=5))
    return 0


def _state(key: GatewayKey) -> str:
    return "active" if key.active else f"revoked {short_time(key.revoked_at)}"


def cmd_gk_revoke(args: argparse.Namespace) -> int:
    """Revoke a gateway key; a running gateway notices within a second."""
    paths, _ = context()
    store = GatewayKeyStore(paths.database())
    keys = [] if missing_database(paths) else store.list()
    current = next((k for k in keys if k.id == args.id), None)
    if current is None:
        raise Failure(
            f"there is no gateway key {args.id}; see: {PROG} gateway-key list"
        )
    if not current.active:
        print(
            f"{current.id} (project '{current.project}') was already revoked on "
            f"{short_time(current.revoked_at)} UTC; nothing changed."
        )
        return 0
    key = store.revoke(args.id)
    print(
        f"Revoked {key.id} (project '{key.project}'); a running gateway refuses it "
        "within a second."
    )
    return 0
