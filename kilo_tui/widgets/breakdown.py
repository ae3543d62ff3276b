"""The Costs breakdown table: one row per group, columns chosen to fit the width."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

from kilo_tui.format import count, fit, money, plain
from proxy.queries import Figures

# Group names are cut (with an ellipsis) before they squeeze a number out.
GROUP_MIN = 12
# DataTable pads every cell by one on each side.
_PADDING = 2


@dataclass(frozen=True, slots=True)
class Column:
    """A breakdown column; the lowest rank goes first when the width runs short."""

    key: str
    title: str
    rank: int = 0


COLUMNS = (
    Column("group", "Group"),
    Column("requests", "Requests"),
    Column("input", "Input", rank=3),
    Column("cached", "Cached", rank=2),
    Column("output", "Output", rank=5),
    Column("reasoning", "Reasoning", rank=1),
    Column("cost", "Cost"),
    Column("unpriced", "Unpriced", rank=4),
    Column("share", "Share"),
)


def cells(r: Figures) -> dict[str, str]:
    """A group's figures as the table writes them."""
    return {
        "group": plain(r.group or "(none)"),
        "requests": count(r.requests),
        "input": count(r.input_tokens),
        "cached": count(r.cache_read_tokens),
        "output": count(r.output_tokens),
        "reasoning": count(r.reasoning_tokens),
        "cost": money(r.cost) if r.cost is not None else "–",
        "unpriced": count(r.unpriced) if r.unpriced else "",
        "share": f"{r.share:.1%}",
    }


def plan(
    rows: list[dict[str, str]], width: int
) -> tuple[tuple[Column, ...], dict[str, int]]:
    """The columns that fit `width` cells and the width of each; numbers whole."""
    natural = {
        c.key: max([cell_len(c.title), *(cell_len(r[c.key]) for r in rows)])
        for c in COLUMNS
    }
    shown = list(COLUMNS)

    def needed() -> int:
        numbers = sum(natural[c.key] for c in shown if c.key != "group")
        return numbers + min(natural["group"], GROUP_MIN) + _PADDING * len(shown)

    for column in sorted((c for c in COLUMNS if c.rank), key=lambda c: c.rank):
        if needed() <= width:
            break
        shown.remove(column)
    widths = {c.key: natural[c.key] for c in shown}
    others = sum(widths.values()) - widths["group"] + _PADDING * len(shown)
    widths["group"] = max(min(natural["group"], width - others), GROUP_MIN)
    return tuple(shown), widths


class BreakdownTable(DataTable):
    """Totals per group; numbers are never cut, long group names are."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._rows: list[Figures] = []
        self._drawn: tuple[int, tuple[str, ...]] | None = None

    def show(self, rows: list[Figures]) -> None:
        """Show a new breakdown, keeping the cursor's place."""
        self._rows = rows
        self._drawn = None
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        # Room for the scrollbar only when the rows will need one.
        overflow = len(self._rows) + 1 > self.size.height
        bar = self.styles.scrollbar_size_vertical if overflow else 0
        width = max(self.size.width - bar, 0)
        written = [cells(r) for r in self._rows]
        shown, widths = plan(written, width)
        layout = (width, tuple(c.key for c in shown))
        if layout == self._drawn:
            return
        self._drawn = layout
        cursor = self.cursor_row
        self.clear(columns=True)
        for column in shown:
            # Numbers are right-aligned, and so are their headings.
            justify = "left" if column.key == "group" else "right"
            title = Text(column.title, justify=justify)
            self.add_column(title, width=widths[column.key], key=column.key)
        for figures, row in zip(self._rows, written, strict=True):
            self.add_row(
                *(_cell(row[c.key], widths[c.key], c.key == "group") for c in shown),
                key=figures.group or "",
            )
        if self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1))


def _cell(text: str, width: int, is_group: bool) -> Text:
    # Text, not str: group names come from clients and are never markup.
    if is_group:
        return Text(fit(text, width))
    return Text(text, justify="right")
