"""The side-by-side table of every figure, its ratios and the targets it is held to."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class Row:
    """One figure of the table: how to get it and which way is better."""

    label: str
    get: Callable[[dict, dict], float | None]  # (target results, direct results)
    lower_is_better: bool = True
    target: Callable[[float], bool] | None = None
    target_text: str = ""
    digits: int = 2
    compare: bool = True  # whether a ratio between servers means anything


def _fig(scenario: str, key: str):
    return lambda res, direct: (res.get(scenario) or {}).get(key)


def _added(scenario: str, key: str):
    def get(res, direct):
        mine = (res.get(scenario) or {}).get(key)
        base = (direct.get(scenario) or {}).get(key)
        return None if mine is None or base is None else mine - base

    return get


def _memory(key: str):
    return lambda res, direct: (res.get("memory") or {}).get(key)


def _per_stream_kb(res, direct):
    slow = res.get("slow1000") or {}
    if not slow.get("rss_peak") or not slow.get("ok"):
        return None
    return (slow["rss_peak"] - slow["rss_before"]) / slow["ok"] / 1024


def _after_ratio(res, direct):
    memory = res.get("memory") or {}
    if not memory.get("idle_mb") or memory.get("after_mb") is None:
        return None
    return memory["after_mb"] / memory["idle_mb"]


def _total(key: str):
    def get(res, direct):
        values = [v.get(key) for v in res.values() if isinstance(v, dict)]
        return sum(v for v in values if isinstance(v, int | float))

    return get


def _worst(key: str):
    def get(res, direct):
        values = [v.get(key) for v in res.values() if isinstance(v, dict)]
        values = [v * 100 for v in values if isinstance(v, int | float)]
        return max(values, default=None)

    return get


def _lost(res, direct):
    return (res.get("log") or {}).get("lost")


def _mock_share(scenario: str):
    def get(res, direct):
        figures = res.get(scenario) or {}
        if not figures.get("cpu_ms") or not figures.get("mock_cpu_ms"):
            return None
        return figures["cpu_ms"] / figures["mock_cpu_ms"]

    return get


ROWS = (
    Row(
        "c=1 added latency p50 (ms)",
        _added("c1", "p50"),
        True,
        lambda v: v <= 0.6,
        "<= 0.6",
        3,
    ),
    Row(
        "c=1 added latency p99 (ms)",
        _added("c1", "p99"),
        True,
        lambda v: v <= 2.0,
        "<= 2",
        3,
    ),
    Row(
        "c=64 requests/s",
        _fig("c64", "rate"),
        False,
        lambda v: v >= 2500,
        ">= 2,500",
        0,
    ),
    Row("c=64 latency p50 (ms)", _fig("c64", "p50")),
    Row("c=64 latency p99 (ms)", _fig("c64", "p99"), True, lambda v: v <= 60, "<= 60"),
    Row("c=64 CPU per request (ms)", _fig("c64", "cpu_ms"), digits=3),
    Row(
        "c=1 stream added TTFB p50 (ms)",
        _added("stream1", "ttfb_p50"),
        True,
        lambda v: v <= 1.0,
        "<= 1",
        3,
    ),
    Row(
        "c=1 stream added inter-chunk (ms)",
        _added("stream1", "chunk_gap"),
        digits=3,
        compare=False,
    ),
    Row(
        "200 streams: streams/s",
        _fig("stream200", "rate"),
        False,
        lambda v: v >= 1000,
        ">= 1,000",
        0,
    ),
    Row("200 streams: added TTFB p50 (ms)", _added("stream200", "ttfb_p50")),
    Row(
        "200 streams: added inter-chunk (ms)",
        _added("stream200", "chunk_gap"),
        digits=3,
        compare=False,
    ),
    Row("200 streams: CPU per stream (ms)", _fig("stream200", "cpu_ms"), digits=3),
    Row("memory idle (MB)", _memory("idle_mb"), True, lambda v: v <= 90, "<= 90", 1),
    Row(
        "memory per open stream (KB)",
        _per_stream_kb,
        True,
        lambda v: v <= 100,
        "<= 100",
        1,
    ),
    Row("memory after load (MB)", _memory("after_mb"), digits=1),
    Row("memory after / idle", _after_ratio, True, lambda v: v <= 1.10, "<= 1.10", 3),
    Row("records written/s (c=64)", _fig("logging", "records_rate"), False, digits=0),
    Row("records lost", _lost, True, lambda v: v == 0, "0", 0, compare=False),
    Row(
        "failed or altered answers",
        _total("errors"),
        True,
        lambda v: v == 0,
        "0",
        0,
        compare=False,
    ),
    Row(
        "answers not byte-exact",
        _total("mismatched"),
        True,
        lambda v: v == 0,
        "0",
        0,
        compare=False,
    ),
    Row(
        "other processes on the server's CPU (% of it, worst run)",
        _worst("foreign_on_server_cpu"),
        True,
        lambda v: v <= 10,
        "<= 10 (quiet machine)",
        0,
        compare=False,
    ),
    Row(
        "other processes on the load's CPU (% of it, worst run)",
        _worst("foreign_on_load_cpu"),
        True,
        lambda v: v <= 10,
        "<= 10 (quiet machine)",
        0,
        compare=False,
    ),
    Row(
        "server CPU / mock CPU (c=64)",
        _mock_share("c64"),
        False,
        lambda v: v >= 2,
        ">= 2",
        1,
        compare=False,
    ),
    Row(
        "server CPU / mock CPU (200 streams)",
        _mock_share("stream200"),
        False,
        lambda v: v >= 2,
        ">= 2",
        1,
        compare=False,
    ),
)


def _fmt(value, digits: int) -> str:
    if value is None:
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _ratio(mine, theirs, lower_is_better: bool) -> str:
    """How many times better the first figure is than the second."""
    if mine is None or theirs is None or mine <= 0 or theirs <= 0:
        return ""
    times = theirs / mine if lower_is_better else mine / theirs
    return f"{times:,.1f}x"


HEADLESS, CONSOLE = "kilo-tui", "kilo-tui console"


def table(results: dict[str, dict], direct: dict, reference: str | None) -> str:
    """The Markdown table: one column per server, ratios against the reference,
    and what the console costs against the headless gateway."""
    names = list(results)
    head = ["figure", *names]
    if reference and reference in results:
        head += [f"{n} vs {reference}" for n in names if n != reference]
    with_console = HEADLESS in results and CONSOLE in results
    if with_console:
        head.append("console vs headless (target within 25%)")
    head += ["target", f"met ({names[0]})"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in ROWS:
        cells = _cells(row, results, direct, reference, with_console)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cells(row: Row, results, direct, reference, with_console: bool) -> list:
    values = {name: row.get(res, direct) for name, res in results.items()}
    cells = [row.label, *(_fmt(v, row.digits) for v in values.values())]
    if reference and reference in results:
        theirs = values[reference] if row.compare else None
        cells += [
            _ratio(v, theirs, row.lower_is_better)
            for n, v in values.items()
            if n != reference
        ]
    if with_console:
        cells.append(_change(values[CONSOLE], values[HEADLESS], row.compare))
    first = next(iter(values.values()))
    met = (
        ""
        if row.target is None or first is None
        else ("yes" if row.target(first) else "no")
    )
    return [*cells, row.target_text, met]


def _change(value, base, compare: bool) -> str:
    """A figure's change from a base, in percent."""
    if not compare or value is None or base is None or base <= 0 or value < 0:
        return ""
    return f"{(value / base - 1) * 100:+.0f}%"


def verdicts(results: dict, direct: dict, name: str) -> dict[str, tuple]:
    """Each target's label -> (figure, met) for one server."""
    res = results.get(name) or {}
    out = {}
    for row in ROWS:
        if row.target is None:
            continue
        value = row.get(res, direct)
        out[row.label] = (value, None if value is None else row.target(value))
    return out


def machine() -> str:
    """CPU, cores, memory, kernel and Python, in one line."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return (
        f"{model}, {os.cpu_count()} cores, {pages / 1024**3:.0f} GiB, Linux "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def git_revision(root: Path) -> str:
    """The commit the tree is at, marked dirty when it has changes."""

    def run(*args):
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    head = run("rev-parse", "--short", "HEAD") or "uncommitted"
    return head + (" (with local changes)" if run("status", "--porcelain") else "")
