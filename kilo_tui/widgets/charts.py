"""Cost charts drawn with plotext, in the colours of the app's theme."""

from __future__ import annotations

from textual.color import Color
from textual_plotext import PlotextPlot

from proxy.queries import Figures, Trend

# Theme variables used for series, in order.
SERIES_COLOURS = ("primary", "secondary", "accent", "warning", "success", "error")
MAX_BARS = 12


def theme_colours(app) -> list[tuple[int, int, int]]:
    """The theme's accent colours as RGB, for plotext series."""
    variables = app.theme_variables
    return [
        Color.parse(variables[name]).rgb for name in SERIES_COLOURS if name in variables
    ]


def _label(group: str | None, width: int = 18) -> str:
    text = group or "(none)"
    return text if len(text) <= width else text[: width - 1] + "…"


class CostBars(PlotextPlot):
    """Cost per group as horizontal bars, costliest on top."""

    def show(self, rows: list[Figures]) -> None:
        """Draw the breakdown (priced cost only; unpriced groups draw no bar)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        shown = rows[:MAX_BARS][::-1]
        if shown:
            plt.bar(
                [_label(r.group) for r in shown],
                [float(r.cost or 0) for r in shown],
                orientation="horizontal",
                color=theme_colours(self.app)[0],
                width=0.6,
            )
        plt.title("Cost per group, USD")
        self.refresh()


class CostTrend(PlotextPlot):
    """Cost per bucket, stacked by the top groups and the rest."""

    def show(self, trend: Trend) -> None:
        """Draw a trend; x labels are bucket starts in local time."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        title = "Cost per hour, USD" if trend.bucket == "hour" else "Cost per day, USD"
        plt.title(title)
        if not trend.series or not trend.starts:
            self.refresh()
            return
        fmt = "%H:00" if trend.bucket == "hour" else "%m-%d"
        labels = [start.astimezone().strftime(fmt) for start in trend.starts]
        colours = theme_colours(self.app)
        plt.stacked_bar(
            labels,
            [[float(c) for c in s.costs] for s in trend.series],
            labels=[_label(s.group, 24) for s in trend.series],
            color=[colours[i % len(colours)] for i in range(len(trend.series))],
        )
        self.refresh()
