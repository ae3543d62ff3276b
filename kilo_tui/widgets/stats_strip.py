"""The strip above the Live table: rates over the last seconds and a sparkline."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline

from kilo_tui.format import compact, money
from kilo_tui.stats import Rates
from kilo_tui.widgets.figure import Figure


class StatsStrip(Horizontal):
    """Requests/s, tokens/s, spend per hour, error rate, in flight, recent history."""

    def compose(self) -> ComposeResult:
        yield Figure("req/s", id="rps")
        yield Figure("tokens/s", id="tps")
        yield Figure("$/hour", id="spend")
        yield Figure("errors", id="errors")
        yield Figure("running", id="flight")
        spark = Sparkline([0] * 60, summary_function=max, id="spark")
        spark.border_title = "requests, last minute"
        yield spark

    def show(self, rates: Rates) -> None:
        """Paint one moment's rates."""
        self.query_one("#rps", Figure).show(f"{rates.requests_per_s:.1f}")
        self.query_one("#tps", Figure).show(compact(rates.tokens_per_s))
        self.query_one("#spend", Figure).show(money(rates.usd_per_hour, floor=2))
        self.query_one("#errors", Figure).show(
            f"{rates.error_rate:.0%}", warn=rates.error_rate >= 0.05
        )
        self.query_one("#flight", Figure).show(str(rates.in_flight))
        self.query_one("#spark", Sparkline).data = rates.history
