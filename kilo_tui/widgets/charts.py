"""Cost charts drawn with plotext, in the colours of the app's theme."""

from __future__ import annotations

from datetime import datetime

from textual.color import Color
from textual_plotext import PlotextPlot

from kilo_tui.format import fit, plain
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
    return fit(plain(group or "(none)"), width).rstrip()


def bucket_labels(starts: list[datetime], bucket: str) -> list[str]:
    """Local-time labels for bucket starts, with the date when hours span days."""
    local = [start.astimezone() for start in starts]
    if bucket == "day":
        fmt = "%m-%d"
    elif len({moment.date() for moment in local}) > 1:
        fmt = "%m-%d %H:00"
    else:
        fmt = "%H:00"
    return [moment.strftime(fmt) for moment in local]


def ticks(count: int, label_width: int, room: int) -> list[int]:
    """Which of `count` buckets get a label, evenly spaced so labels never touch."""
    fit_in = max(room // (label_width + 4), 1)
    step = -(-count // fit_in)  # ceiling division
    return list(range(0, count, step))


class CostBars(PlotextPlot):
    """Cost per group as horizontal bars, costliest on top."""

    def show(self, rows: list[Figures]) -> None:
        """Draw the breakdown (priced cost only; unpriced groups draw no bar)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        shown = rows[:MAX_BARS][::-1]
        if shown:
            # Positions, not names: two long names may be cut to the same label.
            positions = list(range(len(shown)))
            plt.bar(
                positions,
                [float(r.cost or 0) for r in shown],
                orientation="horizontal",
                color=theme_colours(self.app)[0],
                width=0.6,
            )
            plt.yticks(positions, [_label(r.group) for r in shown])
        plt.title("Cost per group, USD")
        self.refresh()


class CostTrend(PlotextPlot):
    """Cost per bucket, stacked by the top groups and the rest."""

    labels: list[str] = []

    def render(self):
        # How many bucket labels fit depends on the width, known only now.
        if self.labels:
            room = max(self.size.width - 10, 20)
            shown = ticks(len(self.labels), len(self.labels[0]), room)
            self.plt.xticks(shown, [self.labels[i] for i in shown])
        return super().render()

    def show(self, trend: Trend) -> None:
        """Draw a trend; x labels are bucket starts in local time."""
        self.labels = []
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        title = "Cost per hour, USD" if trend.bucket == "hour" else "Cost per day, USD"
        plt.title(title)
        if not trend.series or not trend.starts:
            self.refresh()
            return
        # Bars at positions 0..n-1 in time order; only some carry a label, since
        # a month of hours has far more bars than a terminal has room for names.
        self.labels = bucket_labels(trend.starts, trend.bucket)
        positions = list(range(len(self.labels)))
        colours = theme_colours(self.app)
        plt.stacked_bar(
            positions,
            [[float(c) for c in s.costs] for s in trend.series],
            labels=[_label(s.group, 24) for s in trend.series],
            color=[colours[i % len(colours)] for i in range(len(trend.series))],
        )
        self.refresh()
