"""Drive the console on a seeded log and write each screen to screenshots/.

    python scripts/screenshots.py [--out screenshots]

SVG always; PNG too when rsvg-convert is installed. Everything happens in a
temporary KILO_TUI_HOME with an in-memory keyring, so no real data or key is used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring

SIZE = (160, 48)
NOW = datetime(2026, 1, 15, 15, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


# name -> keys pressed after the data has loaded
SHOTS = {
    "live": [],
    "live-filter": ["slash", *"provider:anthropic cost>0.05", "enter"],
    "detail": ["slash", *"model:sonnet", "enter", "enter", "right"],
    "costs": ["2"],
    "costs-by-project": ["2", "g", "g"],
    "keys": ["3"],
    "connect": ["4"],
    "help": ["question_mark"],
}


async def shoot(name: str, keys: list[str], out: Path) -> Path:
    """Run the app headless, press the keys, and save the screen as SVG."""
    from kilo_tui.app import KiloApp
    from kilo_tui.host import StaticHost
    from proxy.config import Settings, resolve_paths

    host = StaticHost(Settings(), resolve_paths(), demo=name == "live")
    app = KiloApp(host, clock=lambda: NOW, monotonic=lambda: 1000.0)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        if name.startswith("live"):
            _last_minute(app)
            await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)
        target = out / f"{name}.svg"
        target.write_text(app.export_screenshot(title=f"kilo-tui · {name}"))
    return target


def _last_minute(app) -> None:
    """A minute of traffic through the rate meter, and two streams still running."""
    from dataclasses import replace

    from kilo_tui.seed import seed_records
    from proxy.events import Phase

    records = seed_records(NOW, count=240, days=1, seed=11)[-180:]
    for second in range(60):
        moment = NOW - timedelta(seconds=60 - second)
        batch = [
            (Phase.FINISHED, replace(r, id=f"live{second}-{i}", started_at=moment))
            for i, r in enumerate(records[second * 3 : second * 3 + 1 + second % 3])
        ]
        app.live_changed.publish(app.live.ingest(batch, 941.0 + second))
    running = [
        replace(r, id=f"run{i}", started_at=NOW, in_flight=True, status=0, stream=True)
        for i, r in enumerate(records[:2])
    ]
    app.live_changed.publish(
        app.live.ingest([(Phase.STARTED, r) for r in running], 1000.0)
    )


async def _settle(pilot) -> None:
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)


def prepare_home(home: Path) -> None:
    """Seed the log and store two made-up keys, one checked."""
    os.environ["KILO_TUI_HOME"] = str(home)
    os.environ["TZ"] = "UTC"
    time.tzset()
    from proxy.keystore import MemoryKeyring

    class PictureKeyring(MemoryKeyring):
        """Secrets in a dict, never the machine's keyring; named as on a desktop."""

        name = "Secret Service"

    keyring.set_keyring(PictureKeyring())
    from kilo_tui.seed import seed_database, seed_keys
    from proxy.config import resolve_paths

    paths = resolve_paths()
    paths.ensure()
    # The log ends a minute before NOW: the last minute is live traffic in Live,
    # which then reads newest first without a seam.
    for demo in (False, True):
        seed_database(paths.database(demo), NOW - timedelta(minutes=1), count=900)
    seed_keys(paths)


def _pin_key_times() -> None:
    """Keys are stamped when made; show them made at NOW, so pictures stay put."""
    from kilo_tui import keys_data

    stamp = NOW.astimezone().strftime("%Y-%m-%d %H:%M")
    keys_data._short_time = lambda value: value and stamp


def to_png(svg: Path) -> Path | None:
    """A PNG beside the SVG, when rsvg-convert is installed."""
    tool = shutil.which("rsvg-convert")
    if tool is None:
        return None
    png = svg.with_suffix(".png")
    # Runs of spaces align the columns; without xml:space="preserve" librsvg
    # collapses them and the picture no longer matches the terminal.
    text = svg.read_text(encoding="utf-8").replace(
        "<svg ", '<svg xml:space="preserve" ', 1
    )
    subprocess.run([tool, "-o", str(png)], input=text.encode(), check=True)
    return png


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    _pin_key_times()
    with tempfile.TemporaryDirectory(prefix="kilo-shots-") as home:
        prepare_home(Path(home))
        for name, keys in SHOTS.items():
            svg = asyncio.run(shoot(name, keys, args.out))
            png = to_png(svg)
            print(svg.relative_to(ROOT) if svg.is_relative_to(ROOT) else svg, end="")
            print(f" + {png.name}" if png else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
