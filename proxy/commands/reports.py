"""`kilo-tui export` and `kilo-tui report`: the request log and its breakdown."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from proxy import queries
from proxy.commands.common import PROG, command, context, missing_database, window
from proxy.commands.text import plain_number, short_time, table, tokens, usd
from proxy.config import Paths
from proxy.records import iso_utc
from proxy.store import open_reader

DEFAULT_REPORT_SINCE = "30d"
REPORT_FIELDS = tuple(queries.Figures(None).as_dict())


def add_parsers(sub) -> None:
    """export and report, which share their window options."""
    export = command(
        sub, "export", cmd_export, "write the request log to standard output"
    )
    export.add_argument("--format", choices=queries.EXPORT_FORMATS, default="csv")
    _add_window(export, None)
    report = command(sub, "report", cmd_report, "print the cost breakdown")
    report.add_argument("--by", choices=tuple(queries.DIMENSIONS), default="model")
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _add_window(report, DEFAULT_REPORT_SINCE)


def _add_window(p: argparse.ArgumentParser, since: str | None) -> None:
    default = f" (default {since})" if since else " (default: everything)"
    p.add_argument(
        "--since", default=since, help="7d, 24h, 30m or a UTC date" + default
    )
    p.add_argument("--until", help="end of the window, same forms (default: now)")
    p.add_argument("--demo", action="store_true", help="read the demo database")


def _note_nothing_recorded(paths: Paths, demo: bool) -> None:
    """Said on stderr, so what goes to stdout stays a valid (empty) CSV or JSON."""
    print(
        f"{PROG}: note: nothing recorded yet ({paths.database(demo)} does not exist)",
        file=sys.stderr,
    )


# --- export ---------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    """Stream the request log as CSV or JSON."""
    paths, _ = context()
    since, until = window(args)
    if missing_database(paths, args.demo):
        _note_nothing_recorded(paths, args.demo)
        asyncio.run(queries.write_export(_no_rows(), sys.stdout, args.format))
    else:
        asyncio.run(_export(paths, args, since, until))
    sys.stdout.flush()
    return 0


async def _no_rows():
    for row in ():
        yield row


async def _export(paths: Paths, args, since, until) -> None:
    db = await open_reader(paths.database(args.demo))
    try:
        # Closed before the connection, even when stdout goes away mid-way.
        rows = queries.iter_export_rows(db, since, until)
        async with contextlib.aclosing(rows):
            await queries.write_export(rows, sys.stdout, args.format)
    finally:
        await db.close()


# --- report ---------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    """Print the cost breakdown by one dimension."""
    paths, _ = context()
    since, until = window(args)
    if missing_database(paths, args.demo):
        _note_nothing_recorded(paths, args.demo)
        groups, total = [], queries.Figures(None)
    else:
        groups, total = asyncio.run(_report_data(paths, args, since, until))
    if args.format == "json":
        print(json.dumps(_report_json(args, since, until, groups, total), indent=2))
    elif args.format == "csv":
        write_report_csv(groups, sys.stdout)
    else:
        print(_report_table(args, since, until, groups, total))
    return 0


async def _report_data(paths: Paths, args, since, until):
    db = await open_reader(paths.database(args.demo))
    try:
        groups = await queries.breakdown(db, args.by, since, until)
        return groups, await queries.totals(db, since, until)
    finally:
        await db.close()


def write_report_csv(groups: Iterable[queries.Figures], out: TextIO) -> None:
    """The groups as CSV: a header even when empty, share as plain digits."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_FIELDS)
    for figures in groups:
        row = figures.as_dict()
        row["share"] = plain_number(row["share"])
        writer.writerow(queries.csv_value(row[k]) for k in REPORT_FIELDS)


def _report_json(args, since, until, groups, total) -> dict:
    return {
        "by": args.by,
        "since": _iso(since),
        "until": _iso(until),
        "groups": [g.as_dict() for g in groups],
        "total": total.as_dict(),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_utc(moment)


def _report_table(args, since, until, groups, total) -> str:
    """The breakdown as aligned text, totals last, unpriced requests called out."""
    window_text = "all time" if since is None else f"since {short_time(_iso(since))}"
    if until is not None:
        window_text += f" until {short_time(_iso(until))}"
    title = f"Cost by {args.by}, {window_text} UTC"
    if not total.requests:
        return f"{title}\nNo requests in this window."
    headers = (args.by.upper(), "REQUESTS", "INPUT", "CACHED", "OUTPUT", "REASONING")
    headers += ("COST", "UNPRICED", "SHARE")
    rows = [_report_row(g) for g in groups]
    rows.append(_report_row(total, label="TOTAL"))
    lines = [title, table(headers, rows)]
    if total.unpriced:
        lines.append(
            f"{total.unpriced:,} request(s) had no known price: they are counted under "
            "UNPRICED, not in COST. Add a price under [prices] in config.toml."
        )
    return "\n".join(lines)


def _report_row(f: queries.Figures, label: str | None = None) -> tuple:
    group = label or (f.group if f.group is not None else "(no key)")
    return (
        group,
        f"{f.requests:,}",
        tokens(f.input_tokens),
        tokens(f.cache_read_tokens),
        tokens(f.output_tokens),
        tokens(f.reasoning_tokens),
        usd(f.cost),
        f"{f.unpriced:,}",
        f"{f.share * 100:.1f}%",
    )
