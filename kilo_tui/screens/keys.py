"""The Keys screen: provider keys (add, test, remove, import) and gateway keys."""

from __future__ import annotations

import logging
import os

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Static
from textual.worker import get_current_worker

from kilo_tui import keys_data
from kilo_tui.format import duration, plain
from kilo_tui.messages import (
    GatewayKeyCreated,
    KeysChanged,
    KeysLoaded,
    KeyTested,
    WorkFailed,
)
from kilo_tui.screens.base import ConsoleScreen
from kilo_tui.screens.modals import (
    AddKeyDialog,
    ConfirmDialog,
    ProjectDialog,
    ShowOnceDialog,
)

log = logging.getLogger(__name__)

PROVIDER_COLUMNS = (
    ("provider", "Provider"),
    ("id", "Id"),
    ("key", "Key"),
    ("stored", "Stored in"),
    ("check", "Last check"),
    ("latency", "Latency"),
    ("models", "Models"),
    ("when", "Checked"),
)
# Left out below NARROW columns, so the key and its check stay in view.
NARROW = 110
NARROW_DROPS = {"id", "models", "when"}
GATEWAY_COLUMNS = (
    ("id", "Id"),
    ("project", "Project"),
    ("created", "Created"),
    ("state", "State"),
)
CHECK_STYLES = {
    "valid": "ok",
    "invalid": "error",
    "rate_limited": "warn",
    "unreachable": "warn",
    "testing": "warn",
}


class KeysScreen(ConsoleScreen):
    """Every provider as a row, with its key, where it is kept, and its last check."""

    MODE = "keys"
    CSS_PATH = "keys.tcss"
    COMPONENT_CLASSES = {"keys--ok", "keys--error", "keys--warn"}
    BINDINGS = [
        Binding("a", "add", "Add key", id="keys.add"),
        Binding("t", "test", "Test", id="keys.test"),
        Binding("d,delete", "remove", "Remove", id="keys.remove"),
        Binding("i", "import_env", "Import env", id="keys.import"),
        Binding("n", "new_gateway_key", "New gateway key", id="keys.gateway_new"),
        Binding("v", "revoke", "Revoke", id="keys.gateway_revoke"),
        Binding("tab", "focus_next", "Next table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: keys_data.KeysSnapshot | None = None
        self.testing: set[tuple[str, str]] = set()

    def compose_body(self) -> ComposeResult:
        yield Static("", id="keystore-note")
        with Vertical(id="provider-section"):
            yield Label("Provider keys", classes="section-title")
            yield DataTable(id="providers", cursor_type="row", zebra_stripes=True)
        with Vertical(id="gateway-section"):
            yield Label(
                "Gateway keys  (tools send one instead of a provider key; "
                "their requests count to its project)",
                classes="section-title",
            )
            yield DataTable(id="gateway-keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#gateway-keys", DataTable)
        for key, label in GATEWAY_COLUMNS:
            table.add_column(label, key=key)
        self._provider_columns()
        self.query_one("#providers").focus()

    def on_resize(self) -> None:
        if self._provider_columns() and self.snapshot is not None:
            self._show_providers(self.snapshot)

    def _provider_columns(self) -> bool:
        """Set the provider table's columns for the width; True if they changed."""
        narrow = self.size.width < NARROW
        wanted = [
            (key, label)
            for key, label in PROVIDER_COLUMNS
            if not (narrow and key in NARROW_DROPS)
        ]
        table = self.query_one("#providers", DataTable)
        if [str(key.value) for key in table.columns] == [k for k, _ in wanted]:
            return False
        table.clear(columns=True)
        for key, label in wanted:
            table.add_column(label, key=key)
        return True

    def on_screen_resume(self) -> None:
        self._load()

    @work(exclusive=True, thread=True, group="keys", name="keys-load")
    def _load(self) -> None:
        """Read keys and their metadata; the OS keyring can be slow to answer."""
        try:
            snapshot = keys_data.load(self.app.host)
        except Exception as exc:
            self.post_message(WorkFailed("Keys", _reason(exc)))
            return
        # A newer read was started (say, just after a key was added): this one may
        # predate the change, and must not land after it.
        if not get_current_worker().is_cancelled:
            self.post_message(KeysLoaded(snapshot))

    def on_keys_loaded(self, message: KeysLoaded) -> None:
        self.snapshot = message.snapshot
        self._show_note(message.snapshot)
        self._show_providers(message.snapshot)
        self._show_gateway_keys(message.snapshot)

    def _show_note(self, snapshot: keys_data.KeysSnapshot) -> None:
        note = self.query_one("#keystore-note", Static)
        note.set_class(snapshot.fallback or snapshot.demo, "fallback")
        if snapshot.demo:
            note.update(
                "Demo mode: keys added here are kept in memory for this session and "
                "are not saved. Your real keys (OS keyring or secrets file) are "
                "neither used nor changed."
            )
        elif snapshot.fallback:
            note.update(
                f"⚠ Keys are kept in {snapshot.where}. Anyone who can log in as you "
                "can read that file; install an OS keyring to keep them there instead."
            )
        else:
            note.update(f"Keys are kept in {snapshot.where}.")

    def _show_providers(self, snapshot: keys_data.KeysSnapshot) -> None:
        table = self.query_one("#providers", DataTable)
        cursor = table.cursor_row
        table.clear()
        shown = [str(key.value) for key in table.columns]
        for row in snapshot.rows:
            cells = self._provider_cells(row)
            table.add_row(*(cells[key] for key in shown), key=row.row_key)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    def _provider_cells(self, row: keys_data.KeyRow) -> dict:
        testing = (row.provider, row.label) in self.testing
        status = "testing…" if testing else row.check_status or ""
        kind = "testing" if testing else row.check_status
        return {
            "provider": Text(row.provider_name),
            "id": Text(row.provider, style="dim"),
            "key": Text(f"{row.label} …{row.last4}")
            if row.last4
            else Text("no key", style="dim"),
            "stored": _stored(row.stored),
            "check": Text(status, style=_check_style(self, kind)),
            "latency": duration(row.latency_ms) if row.latency_ms is not None else "",
            "models": str(row.models) if row.models is not None else "",
            "when": Text(row.checked_at or ""),
        }

    def _show_gateway_keys(self, snapshot: keys_data.KeysSnapshot) -> None:
        table = self.query_one("#gateway-keys", DataTable)
        table.clear()
        for key in snapshot.gateway_keys:
            state = f"revoked {key.revoked}" if key.revoked else "active"
            cells = (key.id, key.project, key.created or "", state)
            table.add_row(*(Text(plain(c)) for c in cells), key=key.id)

    def _selected(self) -> keys_data.KeyRow | None:
        table = self.query_one("#providers", DataTable)
        if self.snapshot is None or not table.row_count:
            return None
        return self.snapshot.rows[table.cursor_row]

    def action_add(self) -> None:
        providers = [(p.name, p.id) for p in self.app.host.settings.providers.values()]
        selected = self._selected()
        dialog = AddKeyDialog(
            providers, selected.provider if selected else None, demo=self.app.host.demo
        )
        self.app.push_screen(dialog, self._added)

    def _added(self, answer) -> None:
        if answer:
            self._add(*answer)

    @work(thread=True, group="keys-write", name="keys-add")
    def _add(self, provider: str, label: str, secret: str) -> None:
        """Store a key in the keyring (or the fallback file)."""
        try:
            keys_data.add(self.app.host, provider, label, secret)
        except Exception as exc:
            self.post_message(WorkFailed("Add key", _reason(exc)))
            return
        self.post_message(KeysChanged(f"Key {label} for {provider} stored."))

    def action_test(self) -> None:
        row = self._selected()
        if row is None or not row.last4:
            self.notify("Choose a provider that has a key to test.", severity="warning")
            return
        self.testing.add((row.provider, row.label))
        self._refresh_row(row)
        self._test(row.provider, row.label)

    @work(group="keys-test", name="keys-test", exit_on_error=False)
    async def _test(self, provider: str, label: str) -> None:
        """Ask the provider whether the key works; gives up after a timeout."""
        try:
            result = await keys_data.test(self.app.host, provider, label)
        except Exception as exc:
            result = keys_data.failed_check(_reason(exc))
        self.post_message(KeyTested(provider, label, result))

    def on_key_tested(self, message: KeyTested) -> None:
        self.testing.discard((message.provider, message.label))
        result = message.result
        severity = "information" if result.status == "valid" else "warning"
        models = f", {result.models} models" if result.models is not None else ""
        self.notify(
            f"{message.provider} ({message.label}): {result.status}, "
            f"{duration(result.latency_ms)}{models}"
            + (f"\n{result.detail}" if result.detail else ""),
            title="Key check",
            severity=severity,
        )
        self._load()

    def _refresh_row(self, row: keys_data.KeyRow) -> None:
        table = self.query_one("#providers", DataTable)
        cells = self._provider_cells(row)
        for key in table.columns:
            table.update_cell(row.row_key, key, cells[str(key.value)])

    def action_remove(self) -> None:
        row = self._selected()
        if row is None or not row.last4:
            self.notify("Choose a provider that has a key.", severity="warning")
            return
        question = (
            f"Remove the {row.provider_name} key {row.label} …{row.last4}?\n"
            "Requests to this provider will need another key."
        )
        self.app.push_screen(
            ConfirmDialog(question),
            lambda yes: yes and self._remove(row.provider, row.label),
        )

    @work(thread=True, group="keys-write", name="keys-remove")
    def _remove(self, provider: str, label: str) -> None:
        """Delete a key from the key store."""
        try:
            keys_data.remove(self.app.host, provider, label)
        except Exception as exc:
            self.post_message(WorkFailed("Remove key", _reason(exc)))
            return
        self.post_message(KeysChanged(f"Key {label} for {provider} removed."))

    def action_import_env(self) -> None:
        self._import(dict(os.environ))

    @work(thread=True, group="keys-write", name="keys-import")
    def _import(self, environ: dict[str, str]) -> None:
        """Store keys found in provider environment variables."""
        try:
            found = keys_data.import_env(self.app.host, environ)
        except Exception as exc:
            self.post_message(WorkFailed("Import", _reason(exc)))
            return
        note = (
            f"Imported keys for {', '.join(found)}."
            if found
            else "No provider key variables (OPENAI_API_KEY, …) were set."
        )
        self.post_message(KeysChanged(note))

    def on_keys_changed(self, message: KeysChanged) -> None:
        self.app.host.keys_changed()
        self.notify(message.note)
        self._load()

    def on_work_failed(self, message: WorkFailed) -> None:
        self.notify(message.reason, title=message.what, severity="error", timeout=15)

    def action_new_gateway_key(self) -> None:
        self.app.push_screen(
            ProjectDialog(), lambda project: project and self._create(project)
        )

    @work(thread=True, group="keys-write", name="gateway-key-create")
    def _create(self, project: str) -> None:
        """Make a gateway key for a project."""
        try:
            key_id, secret = keys_data.create_gateway_key(self.app.host, project)
        except Exception as exc:
            self.post_message(WorkFailed("Gateway key", _reason(exc)))
            return
        self.post_message(GatewayKeyCreated(key_id, project, secret))

    def on_gateway_key_created(self, message: GatewayKeyCreated) -> None:
        self.app.session_keys[message.key_id] = (message.project, message.secret)
        self.app.push_screen(
            ShowOnceDialog(message.key_id, message.project, message.secret)
        )
        self._load()

    def action_revoke(self) -> None:
        table = self.query_one("#gateway-keys", DataTable)
        if self.snapshot is None or not table.row_count:
            self.notify("There is no gateway key to revoke.", severity="warning")
            return
        key = self.snapshot.gateway_keys[table.cursor_row]
        if key.revoked:
            self.notify(f"{key.id} is already revoked.")
            return
        self.app.push_screen(
            ConfirmDialog(
                f"Revoke gateway key {key.id} ({key.project})?\n"
                "Tools using it will be refused within a second.",
                yes="Revoke",
            ),
            lambda yes: yes and self._revoke(key.id),
        )

    @work(thread=True, group="keys-write", name="gateway-key-revoke")
    def _revoke(self, key_id: str) -> None:
        """Revoke a gateway key."""
        try:
            keys_data.revoke_gateway_key(self.app.host, key_id)
        except Exception as exc:
            self.post_message(WorkFailed("Revoke", _reason(exc)))
            return
        self.app.session_keys.pop(key_id, None)
        self.post_message(KeysChanged(f"Gateway key {key_id} revoked."))


def _stored(where: str | None) -> Text:
    if not where:
        return Text("")
    if where == "file":
        return Text("fallback file ⚠", style="bold")
    return Text(where)


def _check_style(screen: KeysScreen, kind: str | None) -> str:
    # Component styles come from keys.tcss, so the theme decides the colours.
    name = CHECK_STYLES.get(kind or "")
    if not name:
        return ""
    return screen.get_component_rich_style(f"keys--{name}")


def _reason(exc: Exception) -> str:
    # The screen notifies; the event log keeps the kind of error too.
    log.info("%s: %s", type(exc).__name__, exc)
    return str(exc) or type(exc).__name__
