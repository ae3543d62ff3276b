"""One request in detail: overview, usage and cost arithmetic, bodies, headers."""

from __future__ import annotations

import json

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from kilo_tui.arithmetic import explain
from kilo_tui.capture import capture_for, rates_for
from kilo_tui.format import (
    SYNTAX_STYLE,
    count,
    duration,
    exact_money,
    plain,
    status_label,
)
from kilo_tui.masking import mask_headers, pretty_body
from proxy.records import RequestRecord, iso_utc


class DetailScreen(Screen):
    """Everything kilo-tui knows about one request, secrets masked."""

    CSS_PATH = "detail.tcss"
    BINDINGS = [
        Binding("escape,q", "dismiss", "Back", id="detail.back"),
        Binding("c", "copy_record", "Copy record", id="detail.copy"),
    ]

    def __init__(self, record: RequestRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        r = self.record
        title = f"{status_label(r)}  {r.provider}/{r.model}"
        yield Static(
            Text(plain(f"{title}  ·  {r.project}  ·  {r.surface}")), id="detail-title"
        )
        capture = capture_for(self.app.host, r.id)
        with TabbedContent(id="detail-tabs"):
            with TabPane("Overview", id="overview"):
                yield VerticalScroll(Static(_overview(r)))
            with TabPane("Usage & cost", id="usage"):
                rates = rates_for(self.app.host.settings, r)
                yield VerticalScroll(
                    Static(_usage(r)), Static(_cost(r, rates), classes="cost")
                )
            with TabPane("Request", id="request"):
                yield _exchange(capture, "request")
            with TabPane("Response", id="response"):
                yield _exchange(capture, "response")
        yield Footer()

    def action_copy_record(self) -> None:
        self.app.copy_to_clipboard(json.dumps(self.record.as_dict(), indent=2))
        self.notify("The record is on the clipboard (as JSON).")


def _grid(rows: list[tuple[str, str]], title: str | None = None) -> Table:
    table = Table.grid(padding=(0, 2))
    table.title = title
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, value in rows:
        # Text, not str: values come from clients, never markup nor escape codes.
        table.add_row(label, Text(plain(value)))
    return table


def _overview(r: RequestRecord) -> Table:
    started = f"{iso_utc(r.started_at)}  ({r.started_at.astimezone():%H:%M:%S} local)"
    return _grid(
        [
            ("id", r.id),
            ("started", started),
            ("route", r.path or "–"),
            ("provider", r.provider),
            ("model asked", r.model),
            ("model answered", r.usage.response_model or "–"),
            ("project", r.project),
            ("surface", r.surface),
            ("gateway key", r.gateway_key_id or "–"),
            ("status", f"{status_label(r)} ({r.status})"),
            ("streamed", "yes" if r.stream else "no"),
            ("time to first byte", duration(r.ttfb_ms)),
            ("duration", duration(r.latency_ms)),
            ("cost", f"{_cost_text(r.cost_usd)} ({r.cost_source})"),
            ("error", r.error or "–"),
        ]
    )


def _cost_text(cost) -> str:
    # Exact here, as in the arithmetic; the Live table shows it rounded.
    return "unpriced" if cost is None else exact_money(cost)


def _usage(r: RequestRecord) -> Table:
    u = r.usage
    return _grid(
        [
            ("input tokens", count(u.input_tokens)),
            ("└ read from cache", count(u.cache_read_tokens)),
            ("└ written to cache", count(u.cache_write_tokens)),
            ("  └ for one hour", count(u.cache_write_1h_tokens)),
            ("output tokens", count(u.output_tokens)),
            ("└ reasoning", count(u.reasoning_tokens)),
            ("final usage seen", "yes" if u.complete else "no"),
        ],
        title="Usage",
    )


def _cost(r: RequestRecord, rates) -> Table:
    table = Table(title="Cost", show_edge=False, box=None, padding=(0, 2))
    table.add_column("part")
    table.add_column("amount", justify="right")
    for label, amount in explain(r, rates):
        table.add_row(Text(label), amount)
    return table


def _exchange(capture, side: str) -> VerticalScroll:
    if capture is None:
        return VerticalScroll(
            Static(
                "The gateway keeps no copy of this request's headers and bodies "
                "(it may have left its short memory of recent requests).",
                classes="muted",
            )
        )
    headers = getattr(capture, f"{side}_headers", {}) or {}
    body, lexer = pretty_body(getattr(capture, f"{side}_body", None))
    lines = [plain(f"{name}: {value}") for name, value in mask_headers(headers).items()]
    # Bodies and headers are what clients and providers sent: escape codes in them
    # are shown as symbols, never sent to the terminal.
    return VerticalScroll(
        Static(Text("\n".join(lines) or "(no headers)"), classes="headers"),
        Static(
            Syntax(
                _keep_lines(body) or "(empty body)",
                lexer,
                word_wrap=True,
                **SYNTAX_STYLE,
            ),
            classes="body",
        ),
    )


def _keep_lines(text: str) -> str:
    """Control characters made visible, except the line breaks and tabs of a body."""
    return "\n".join(plain(line.replace("\t", "    ")) for line in text.split("\n"))
