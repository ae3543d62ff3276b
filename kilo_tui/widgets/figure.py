"""A labelled figure in a small box, used by the Live strip and the Costs totals."""

from __future__ import annotations

from textual.widgets import Static


class Figure(Static):
    """One figure with its label in the border."""

    def __init__(self, label: str, id: str) -> None:
        super().__init__(id=id, classes="figure")
        self.border_title = label

    def show(self, text: str, warn: bool = False) -> None:
        """Update the figure, marking it when it deserves attention."""
        self.update(text)
        self.set_class(warn, "warn")
