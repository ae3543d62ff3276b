"""A banner under the header saying why the gateway is not serving."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ProblemBanner(Static):
    """Hidden while all is well; the problem and what to do otherwise."""

    def on_mount(self) -> None:
        self.watch(self.app, "gateway_state", self._show, init=True)

    def _show(self, state: str) -> None:
        problem = self.app.host.problem
        self.display = state == "failed" and problem is not None
        if self.display:
            # Plain text: advice quotes config lines such as [server].
            text = Text.assemble(
                (problem.title, "bold"), "\n", problem.detail, "\n", problem.advice
            )
            self.update(text)
