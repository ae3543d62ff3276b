"""The benchmark's quick mode: every request answered, byte-exact, and logged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_answers_and_logs_every_request(tmp_path):
    """A few seconds of load through `kilo-tui serve`; speed is never asserted."""
    env = {
        **os.environ,
        "KILO_TUI_HOME": str(tmp_path / "unused-home"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 0, report
    assert "every request answered, byte-exact and logged" in done.stdout, report
