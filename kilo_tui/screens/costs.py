"""The Costs screen: totals, a breakdown, and charts for a period."""

from __future__ import annotations

import logging
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Select, Static

from kilo_tui.costs_data import (
    GROUPS,
    PERIODS,
    CostsData,
    auto_bucket,
    export,
    export_path,
    load_costs,
)
from kilo_tui.format import compact, count, money
from kilo_tui.messages import CostsLoaded, ExportWritten, WorkFailed
from kilo_tui.screens.base import ConsoleScreen
from kilo_tui.widgets.breakdown import BreakdownTable
from kilo_tui.widgets.charts import CostBars, CostTrend
from kilo_tui.widgets.figure import Figure
from proxy.queries import Figures, parse_since

log = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0
_BUCKET_NAMES = {"hour": "hourly", "day": "daily"}
TOTALS = (
    ("cost", "cost"),
    ("requests", "requests"),
    ("average", "per request"),
    ("input", "input"),
    ("cached", "cached"),
    ("output", "output"),
    ("reasoning", "reasoning"),
    ("unpriced", "unpriced"),
)


class CostsScreen(ConsoleScreen):
    """Where the money went: the same figures as `kilo-tui report`."""

    MODE = "costs"
    CSS_PATH = "costs.tcss"
    BINDINGS = [
        Binding("p", "cycle_period", "Period", id="costs.period"),
        Binding("g", "cycle_group", "Group by", id="costs.group"),
        Binding("b", "toggle_bucket", "Hour/day", id="costs.bucket"),
        Binding("t", "toggle_chart", "Table/chart", id="costs.chart"),
        Binding("r", "reload", "Refresh", id="costs.refresh"),
        Binding("e", "export('breakdown')", "Export", id="costs.export"),
        Binding("E", "export('requests')", "Export rows", id="costs.export_rows"),
        Binding("f", "toggle_format", "CSV/JSON", id="costs.format"),
    ]
    # Narrow: the bar chart and the minor totals step aside. Short: the trend
    # does, until `t` swaps it in for the table.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-medium"), (44, "-tall")]

    def __init__(self) -> None:
        super().__init__()
        self.period = PERIODS[1]
        self.by = "model"
        # None: hourly or daily by the window's length; else what the user chose.
        self.chosen_bucket: str | None = None
        self.bucket = "day"
        self.fmt = "csv"
        self.data: CostsData | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="costs-controls"):
            yield Select(
                [(p.label, p.key) for p in PERIODS],
                value=self.period.key,
                allow_blank=False,
                id="period",
            )
            yield Input(placeholder="since: 3d, 12h or 2026-01-31", id="since")
            yield Select(
                [(f"by {g}", g) for g in GROUPS],
                value=self.by,
                allow_blank=False,
                id="group",
            )
            yield Static("", id="costs-window")
        with Horizontal(id="totals"):
            for key, label in TOTALS:
                yield Figure(label, id=f"total-{key}")
        with Horizontal(id="costs-main"):
            yield BreakdownTable(id="breakdown")
            yield CostBars(id="bars")
        yield CostTrend(id="trend")

    def on_mount(self) -> None:
        table = self.query_one("#breakdown", BreakdownTable)
        self.query_one("#since").display = False
        self.set_interval(REFRESH_SECONDS, self._auto_reload, name="costs-refresh")
        table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _auto_reload(self) -> None:
        if self.is_active:
            self.action_reload()

    def _window(self) -> tuple[datetime | None, datetime]:
        now = self.app.clock()
        if self.period.key != "custom":
            return self.period.start(now), now
        text = self.query_one("#since", Input).value.strip()
        return (parse_since(text, now) if text else None), now

    def action_reload(self) -> None:
        try:
            since, until = self._window()
        except ValueError as exc:
            self.notify(str(exc), title="Period", severity="warning")
            return
        self.bucket = self.chosen_bucket or auto_bucket(since, until)
        self._load(since, until, self.by, self.bucket)

    @work(exclusive=True, group="costs", name="costs-load", exit_on_error=False)
    async def _load(self, since, until, by: str, bucket: str) -> None:
        """Read totals, breakdown and trend for the window from the request log."""
        path = self.app.host.database
        try:
            data = await load_costs(path, by, since, until, bucket)
        except Exception as exc:
            self.post_message(WorkFailed("Costs", _reason(exc)))
            return
        self.post_message(CostsLoaded(data))

    def on_costs_loaded(self, message: CostsLoaded) -> None:
        self.data = message.data
        self._show_totals(message.data.totals)
        self.query_one(BreakdownTable).show(message.data.rows)
        self.query_one(CostBars).show(message.data.rows)
        self.query_one(CostTrend).show(message.data.trend)
        self._show_window(message.data)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.notify(message.reason, title=message.what, severity="error", timeout=15)

    def _show_totals(self, t: Figures) -> None:
        priced = t.requests - t.unpriced
        average = t.cost / priced if t.cost is not None and priced else None
        tokens = {
            "requests": t.requests,
            "input": t.input_tokens,
            "cached": t.cache_read_tokens,
            "output": t.output_tokens,
            "reasoning": t.reasoning_tokens,
            "unpriced": t.unpriced,
        }
        values = {
            "cost": money(t.cost) if t.cost is not None else "–",
            "average": money(average) if average is not None else "–",
        }
        for key, _ in TOTALS:
            figure = self.query_one(f"#total-{key}", Figure)
            warn = key == "unpriced" and t.unpriced > 0
            if key in tokens:
                # "12.3M" when the box is too narrow for every digit.
                figure.show(count(tokens[key]), warn, short=compact(tokens[key]))
            else:
                figure.show(values[key], warn)

    def _show_window(self, data: CostsData) -> None:
        since = "the beginning" if data.since is None else _when(data.since)
        # Most telling first: a narrow screen cuts the end off.
        self.query_one("#costs-window", Static).update(
            f"{_BUCKET_NAMES[data.trend.bucket]} · {since} → {_when(data.until)} · "
            f"exports {self.fmt}"
        )

    @on(Select.Changed, "#period")
    def _period_chosen(self, event: Select.Changed) -> None:
        self.period = next(p for p in PERIODS if p.key == event.value)
        self.chosen_bucket = None
        custom = self.query_one("#since", Input)
        custom.display = self.period.key == "custom"
        if custom.display:
            custom.focus()
        self.action_reload()

    @on(Select.Changed, "#group")
    def _group_chosen(self, event: Select.Changed) -> None:
        self.by = str(event.value)
        self.action_reload()

    @on(Input.Submitted, "#since")
    def _since_entered(self) -> None:
        self.action_reload()

    def action_cycle_period(self) -> None:
        keys = [p.key for p in PERIODS if p.key != "custom"]
        current = keys.index(self.period.key) if self.period.key in keys else -1
        self.query_one("#period", Select).value = keys[(current + 1) % len(keys)]

    def action_cycle_group(self) -> None:
        self.query_one("#group", Select).value = GROUPS[
            (GROUPS.index(self.by) + 1) % len(GROUPS)
        ]

    def action_toggle_bucket(self) -> None:
        self.chosen_bucket = "day" if self.bucket == "hour" else "hour"
        self.action_reload()

    def action_toggle_chart(self) -> None:
        self.toggle_class("-chart")

    def action_toggle_format(self) -> None:
        self.fmt = "json" if self.fmt == "csv" else "csv"
        if self.data is not None:
            self._show_window(self.data)

    def action_export(self, what: str) -> None:
        if self.data is None:
            self.notify("Nothing loaded yet.", severity="warning")
            return
        directory = self.app.host.paths.data_dir / "exports"
        target = export_path(directory, what, self.by, self.fmt, self.app.clock())
        self._export(target, what, self.fmt, self.data)

    @work(group="export", name="costs-export", exit_on_error=False)
    async def _export(self, target, what: str, fmt: str, data: CostsData) -> None:
        """Write the breakdown or the raw rows to a file."""
        try:
            rows = await export(self.app.host.database, target, what, fmt, data)
        except Exception as exc:
            self.post_message(WorkFailed("Export", _reason(exc)))
            return
        self.post_message(ExportWritten(target, rows))

    def on_export_written(self, message: ExportWritten) -> None:
        self.notify(
            f"{message.rows:,} rows written to\n{message.path}",
            title="Exported",
            timeout=12,
        )


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%m-%d %H:%M")


def _reason(exc: Exception) -> str:
    # One line the user can act on (the screen notifies); the event log keeps the
    # kind of error too.
    log.info("%s: %s", type(exc).__name__, exc)
    return str(exc) or type(exc).__name__
