"""The help screen: what each screen is for, its keys, and the filter language."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# kilo-tui

A local gateway for your own provider keys, and a console that shows what every
request cost and who made it.

| key | does |
| --- | --- |
| `1` `2` `3` `4` | Live, Costs, Keys, Connect (or click the tabs) |
| `ctrl+p` | the command palette: every action of the current screen |
| `?` | this help |
| `ctrl+l` | the event log |
| `ctrl+q` | quit (the request log is flushed first) |

## Live

Requests as they happen, newest first. `space` pauses and follows again, `/` edits the
filter, `escape` clears it, `enter` (or a double click) opens a request, `x` clears the
window (the log on disk keeps everything).

Filter terms all have to hold:

| term | matches |
| --- | --- |
| `provider:anthropic` `model:sonnet` | part of that column |
| `project:web` `surface:cline` `key:gk_` | part of that column |
| `status:5xx` `status:429` `status:error` | status class or code |
| `status:ok` `status:streaming` | state |
| `cost>0.01` `tokens>=10000` `output>0` | dollars or tokens |
| `ttfb>800` `duration<2000` | milliseconds |
| `cost:unpriced` | no price known |
| `-provider:openai` | the opposite of a term |
| `retry` | free text anywhere in the row |

## Costs

A period (`p`), a grouping (`g`), hourly or daily buckets (`b`; by itself hourly up to
three days, daily beyond), the table or the trend chart (`t`, for small terminals),
refresh (`r`), and export (`e`: the breakdown, `E`: the raw rows). Unpriced requests
are counted in their own column, never as $0. The figures are those of
`kilo-tui report`.

## Keys

`a` adds a key (typed into a masked field), `t` tests the selected key, `d` removes it,
`i` imports keys from environment variables. Gateway keys: `n` creates one for a project
(shown once), `v` revokes the selected one. In demo mode, keys live in memory only and
are never saved.

## Connect

Base URLs and setups for common tools; `c` copies the one shown. Without a gateway key
the setups send the key `kilo`, which the gateway takes as "no key": it works from this
machine only, and counts to the project in X-Kilo-Project (else `default`).
"""


class HelpScreen(ModalScreen):
    """Keys and the filter language, over whatever screen is open."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)
