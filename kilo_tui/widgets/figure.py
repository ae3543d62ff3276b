"""A labelled figure in a small box, used by the Live strip and the Costs totals."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from kilo_tui.format import fit


class Figure(Widget):
    """One figure with its label in the border.

    A figure is never cut to a wrong number: when the box is too narrow it shows
    its short form (12.3M), and failing that marks the cut with an ellipsis.
    """

    def __init__(self, label: str, id: str) -> None:
        super().__init__(id=id, classes="figure")
        self.border_title = label
        self.text = ""
        self.short = ""

    def show(self, text: str, warn: bool = False, short: str | None = None) -> None:
        """Update the figure, marking it when it deserves attention."""
        if (text, short or "") != (self.text, self.short):
            self.text, self.short = text, short or ""
            self.refresh()
        self.set_class(warn, "warn")

    def render(self) -> Text:
        width = self.content_region.width
        for candidate in (self.text, self.short):
            if candidate and cell_len(candidate) <= width:
                return Text(candidate)
        return Text(fit(self.short or self.text, width) if width else self.text)
