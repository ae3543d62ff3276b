"""The Connect screen: base URLs and setups to copy for common tools."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from kilo_tui.format import SYNTAX_STYLE, mask, plain
from kilo_tui.screens.base import ConsoleScreen
from kilo_tui.snippets import NO_KEY, Setup, Snippet, setup


class ConnectScreen(ConsoleScreen):
    """Where to point a tool, with a gateway key filled in when one is chosen."""

    MODE = "connect"
    CSS_PATH = "connect.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("c", "copy", "Copy snippet", id="connect.copy"),
        Binding("k", "focus_key", "Gateway key", id="connect.key"),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="connect-top"):
            yield Static(id="base-urls")
            with Horizontal(id="connect-choices"):
                yield Label("Gateway key")
                yield Select([], prompt=f'none ("{NO_KEY}")', id="key")
                yield Input(placeholder="or paste sk-kilo-…", password=True, id="paste")
                yield Label("Project")
                yield Input(value="default", id="project")
        with Horizontal(id="connect-main"):
            yield OptionList(id="tools")
            with VerticalScroll(id="snippet-box"):
                yield Static(id="snippet")
                yield Static(id="snippet-notes")

    def on_mount(self) -> None:
        self.watch(self.app, "gateway_state", lambda _: self._refresh(), init=False)
        self.query_one("#tools", OptionList).focus()

    def on_screen_resume(self) -> None:
        self._fill_keys()
        self._refresh()

    def _fill_keys(self) -> None:
        select = self.query_one("#key", Select)
        options = [
            (Text(f"{plain(project)} ({key_id}, {mask(secret)})"), key_id)
            for key_id, (project, secret) in self.app.session_keys.items()
        ]
        current = select.value
        select.set_options(options)
        if current in self.app.session_keys:
            select.value = current

    @property
    def base_url(self) -> str:
        return self.app.host.expected_url

    def _key(self) -> str | None:
        pasted = self.query_one("#paste", Input).value.strip()
        if pasted:
            return pasted
        chosen = self.query_one("#key", Select).value
        entry = self.app.session_keys.get(chosen) if chosen != Select.BLANK else None
        return entry[1] if entry else None

    def _project(self) -> str:
        key_id = self.query_one("#key", Select).value
        if key_id in self.app.session_keys:
            return self.app.session_keys[key_id][0]
        return self.query_one("#project", Input).value.strip() or "default"

    def _setup(self) -> Setup:
        required = self.app.host.settings.require_gateway_key
        return setup(self.base_url, self._key(), self._project(), required)

    def _snippets(self) -> list[Snippet]:
        return self._setup().snippets

    def _refresh(self) -> None:
        self.query_one("#base-urls", Static).update(_base_urls(self.base_url, self.app))
        tools = self.query_one("#tools", OptionList)
        highlighted = tools.highlighted or 0
        tools.set_options([Option(s.title, id=s.id) for s in self._snippets()])
        tools.highlighted = highlighted
        self._show(highlighted)

    def _show(self, index: int | None) -> None:
        chosen = self._setup()
        snippet = chosen.snippets[index or 0]
        notes = self.query_one("#snippet-notes", Static)
        # Text, not markup: notes quote the project name as typed.
        notes.update(Text("\n\n".join(plain(n) for n in chosen.notes)))
        notes.display = bool(chosen.notes)
        body = Syntax(snippet.text, snippet.lexer, word_wrap=True, **SYNTAX_STYLE)
        self.query_one("#snippet", Static).update(body)
        box = self.query_one("#snippet-box")
        box.border_title = snippet.title
        box.border_subtitle = "c copies"

    @on(OptionList.OptionHighlighted, "#tools")
    def _tool_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option_index)

    @on(Select.Changed)
    @on(Input.Changed)
    def _choice_changed(self) -> None:
        self._refresh()

    def action_copy(self) -> None:
        index = self.query_one("#tools", OptionList).highlighted or 0
        snippet = self._snippets()[index]
        self.app.copy_to_clipboard(snippet.text)
        self.notify(f"{snippet.title} setup copied to the clipboard.")

    def action_focus_key(self) -> None:
        self.query_one("#key", Select).focus()


def _base_urls(base_url: str, app) -> Text:
    state = "" if app.gateway_state == "running" else "  (gateway not running)"
    return Text.assemble(
        ("OpenAI-compatible  ", "bold"),
        f"{base_url}/v1{state}\n",
        ("Anthropic          ", "bold"),
        f"{base_url}\n",
        ("Any provider, raw  ", "bold"),
        f"{base_url}/{{provider}}/…  ",
        (
            f"e.g. {base_url}/google/v1beta/models/gemini-2.5-flash:generateContent",
            "dim",
        ),
    )
