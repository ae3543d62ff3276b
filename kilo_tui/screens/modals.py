"""Small dialogs: add a key, confirm, name a project, show a new key once."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static


class Dialog(ModalScreen):
    """A centred box; escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


class AddKeyDialog(Dialog):
    """Provider, label and the secret itself, typed into a masked field."""

    def __init__(
        self,
        providers: list[tuple[str, str]],
        provider: str | None,
        demo: bool = False,
    ):
        super().__init__()
        self.providers = providers
        self.provider = provider
        self.demo = demo

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add a provider key", classes="dialog-title")
            yield Label("Provider")
            yield Select(
                self.providers,
                value=self.provider or Select.BLANK,
                prompt="provider",
                id="provider",
            )
            yield Label("Label (several keys per provider are told apart by it)")
            yield Input(value="default", placeholder="label", id="label")
            yield Label("Key")
            yield Input(placeholder="paste the key", password=True, id="secret")
            yield Static(
                "Demo mode: the key is kept in memory for this session only, and "
                "is not saved."
                if self.demo
                else "The key goes to the OS keyring (or the private fallback file); "
                "it is never shown again, only its last four characters.",
                classes="dialog-note",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Add", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#secret" if self.provider else "#provider").focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        provider = self.query_one("#provider", Select).value
        secret = self.query_one("#secret", Input).value.strip()
        label = self.query_one("#label", Input).value.strip() or "default"
        if provider == Select.BLANK or not secret:
            self.notify("Choose a provider and paste its key.", severity="warning")
            return
        self.dismiss((provider, label, secret))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(Dialog):
    """A yes/no question; dismisses with True only on yes."""

    def __init__(self, question: str, yes: str = "Remove") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ProjectDialog(Dialog):
    """The project a new gateway key will count its requests to."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("New gateway key", classes="dialog-title")
            yield Input(placeholder="project name, e.g. web", id="project")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#project").focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        project = self.query_one("#project", Input).value.strip()
        if not project:
            self.notify("Name the project the key is for.", severity="warning")
            return
        self.dismiss(project)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


class ShowOnceDialog(Dialog):
    """A new gateway key, shown this one time, with a copy button."""

    BINDINGS = [
        Binding("escape", "cancel", "Close", id="once.close"),
        Binding("c", "copy", "Copy", id="once.copy"),
    ]

    def __init__(self, key_id: str, project: str, secret: str) -> None:
        super().__init__()
        self.key_id = key_id
        self.project = project
        self.secret = secret

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(
                f"Gateway key {self.key_id} for project {self.project}",
                classes="dialog-title",
            )
            yield Static(self.secret, id="secret", classes="secret")
            yield Static(
                "Shown this once: only its hash is stored. Copy it now; the Connect "
                "screen fills it in for this session.",
                classes="dialog-note",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy", variant="primary", id="copy")
                yield Button("Close", id="close")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.secret)
        self.notify("The gateway key is on the clipboard.")

    @on(Button.Pressed, "#copy")
    def _copy(self) -> None:
        self.action_copy()

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)
