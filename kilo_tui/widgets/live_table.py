"""The Live table: a bounded, filtered list of requests drawn only where visible."""

from __future__ import annotations

import textwrap
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from kilo_tui.format import fit
from kilo_tui.widgets.live_columns import GAP, Layout, layout
from proxy.records import RequestRecord, utc_now


@dataclass(slots=True)
class Row:
    """A shown request and its place in arrival order."""

    seq: int
    record: RequestRecord


class LiveTable(ScrollView, can_focus=True):
    """Newest first; rows keyed by request id so a running stream updates in place.

    Only the visible lines are ever built, so a batch of changes costs the same
    whether the window holds ten requests or ten thousand.
    """

    COMPONENT_CLASSES = {
        "live-table--header",
        "live-table--cursor",
        "live-table--ok",
        "live-table--error",
        "live-table--streaming",
        "live-table--muted",
        "live-table--unpriced",
    }

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "Newest", show=False),
        Binding("end,G", "last", "Oldest", show=False),
        Binding("enter", "choose", "Details", id="live.details"),
    ]

    cursor = reactive(0, always_update=True)

    class RequestChosen(Message):
        """The user asked to see one request in detail."""

        def __init__(self, record: RequestRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, clock: Callable[[], datetime] = utc_now, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        # Kept sorted by -seq, so index 0 is the newest shown request.
        self._order: list[int] = []
        self._rows: list[Row] = []
        self._by_id: dict[str, Row] = {}
        self._layout: Layout | None = None
        self._layout_width = 0
        # Said in the body while no request is shown.
        self.placeholder = ""

    @property
    def row_count(self) -> int:
        """How many requests are shown."""
        return len(self._rows)

    @property
    def cursor_record(self) -> RequestRecord | None:
        """The request under the cursor, if any."""
        if 0 <= self.cursor < len(self._rows):
            return self._rows[self.cursor].record
        return None

    def row_ids(self) -> list[str]:
        """The ids of the shown requests, newest first."""
        return [row.record.id for row in self._rows]

    def replace_all(self, rows: list[tuple[int, RequestRecord]]) -> None:
        """Show exactly these requests (after a filter change)."""
        self._rows = sorted((Row(s, r) for s, r in rows), key=lambda row: -row.seq)
        self._order = [-row.seq for row in self._rows]
        self._by_id = {row.record.id: row for row in self._rows}
        self.cursor = 0
        self.scroll_to(y=0, animate=False)
        self._resized()

    def apply(
        self,
        upserts: list[tuple[int, RequestRecord]],
        removed: set[str],
    ) -> None:
        """One batch: insert or update requests and drop others, keeping the view."""
        anchor = self.cursor_record.id if self.cursor_record else None
        at_top = self.cursor == 0
        self._remove(removed)
        for seq, record in upserts:
            self._upsert(seq, record)
        self._restore(anchor, at_top)
        self._resized()

    def _remove(self, removed: set[str]) -> None:
        present = removed & self._by_id.keys()
        if not present:
            return
        self._rows = [row for row in self._rows if row.record.id not in present]
        self._order = [-row.seq for row in self._rows]
        for record_id in present:
            del self._by_id[record_id]

    def _upsert(self, seq: int, record: RequestRecord) -> None:
        row = self._by_id.get(record.id)
        if row is not None:
            row.record = record
            return
        row = Row(seq, record)
        position = bisect_left(self._order, -seq)
        self._order.insert(position, -seq)
        self._rows.insert(position, row)
        self._by_id[record.id] = row

    def _restore(self, anchor: str | None, at_top: bool) -> None:
        # Following the newest row, or keeping the one the user is reading in place.
        if at_top or anchor not in self._by_id:
            self.cursor = 0 if at_top else min(self.cursor, max(len(self._rows) - 1, 0))
            return
        new_index = bisect_left(self._order, -self._by_id[anchor].seq)
        shift = new_index - self.cursor
        self.cursor = new_index
        if shift and self.scroll_y > 0:
            self.scroll_to(y=self.scroll_y + shift, animate=False)

    def _resized(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)
        self.refresh()

    def show_placeholder(self, text: str) -> None:
        """What to say while the table is empty (first run, or nothing matches)."""
        if text != self.placeholder:
            self.placeholder = text
            self.refresh()

    def _columns(self, width: int) -> Layout:
        # Recomputed only when the width changes: render_line runs for every line.
        if self._layout is None or self._layout_width != width:
            self._layout, self._layout_width = layout(width - 2), width
        return self._layout

    def on_resize(self) -> None:
        self._resized()

    def watch_cursor(self, cursor: int) -> None:
        self._scroll_to_cursor()
        self.refresh()

    def _scroll_to_cursor(self) -> None:
        visible = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)

    def action_cursor(self, step: int) -> None:
        self.cursor = max(0, min(self.cursor + step, len(self._rows) - 1))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(self.size.height - 2, 1))

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = max(len(self._rows) - 1, 0)

    def action_choose(self) -> None:
        if self.cursor_record is not None:
            self.post_message(self.RequestChosen(self.cursor_record))

    def on_click(self, event: Click) -> None:
        index = int(self.scroll_y) + event.y - 1
        if event.y == 0 or not 0 <= index < len(self._rows):
            return
        if index == self.cursor and event.chain >= 2:
            self.action_choose()
        self.cursor = index

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        index = int(self.scroll_y) + y - 1
        if not self._rows:
            return self._placeholder_line(y - 2, width)
        if index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        record = self._rows[index].record
        return self._line(record, width, index == self.cursor, self.clock())

    def _placeholder_line(self, line: int, width: int) -> Strip:
        # One blank line under the header, then the hint wrapped to the width.
        lines = textwrap.wrap(self.placeholder, max(width - 4, 10))
        if not 0 <= line < len(lines):
            return Strip.blank(width, self.rich_style)
        style = self.rich_style + self.get_component_rich_style("live-table--muted")
        text = fit("  " + lines[line], width)
        return Strip([Segment(text, style)]).adjust_cell_length(width, self.rich_style)

    def _header(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("live-table--header")
        columns = self._columns(width)
        cells = [(c.title, c.right) for c in columns.columns]
        return self._strip(cells, [style] * len(cells), width, style)

    def _line(
        self, record: RequestRecord, width: int, selected: bool, now: datetime
    ) -> Strip:
        base = self.rich_style
        if selected:
            base += self.get_component_rich_style("live-table--cursor")
        cells, styles = [], []
        for column in self._columns(width).columns:
            text, kind = column.cell(record, now)
            cells.append((text, column.right))
            styles.append(base + self._kind_style(kind) if kind else base)
        return self._strip(cells, styles, width, base)

    def _kind_style(self, kind: str) -> Style:
        return self.get_component_rich_style(f"live-table--{kind}", partial=True)

    def _strip(
        self,
        cells: list[tuple[str, bool]],
        styles: list[Style],
        width: int,
        fill: Style,
    ) -> Strip:
        segments = [Segment(" ", fill)]
        for (text, right), style, size in zip(
            cells, styles, self._columns(width).widths, strict=True
        ):
            segments.append(Segment(fit(text, size, right), style))
            segments.append(Segment(" " * GAP, fill))
        return Strip(segments).adjust_cell_length(width, fill)
