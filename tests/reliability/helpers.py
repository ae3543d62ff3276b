"""A gateway in its own process, and small tools the reliability tests share."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from keyring.backends import null

from proxy.config import Paths
from proxy.keystore import KeyStore

REPO = Path(__file__).resolve().parents[2]
# A keyring that keeps nothing, so provider keys go to the fallback secrets file
# and the gateway process finds the same keys as the test.
NULL_KEYRING = "keyring.backends.null.Keyring"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a kilo-tui child process living in `home`."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        KILO_TUI_HOME=str(home),
        PYTHON_KEYRING_BACKEND=NULL_KEYRING,
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def file_keystore(paths: Paths) -> KeyStore:
    """The key store a gateway process sees: secrets in the fallback file."""
    return KeyStore(paths, backend=null.Keyring())


def run_cli(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """`kilo-tui ARGS` in a child process; its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=child_env(home),
        cwd=REPO,
        timeout=60,
    )


class GatewayProcess:
    """`kilo-tui serve` in a child process on a free loopback port."""

    def __init__(self, home: Path, host: str = "127.0.0.1", **env: str) -> None:
        self.home = home
        self.host = host
        self.port = free_port()
        self.env = child_env(home, **env)
        self.stdout_path = home / f"serve-{self.port}.out"
        self.stderr_path = home / f"serve-{self.port}.err"
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """Where clients reach it."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> GatewayProcess:
        """Start it and wait until it prints its base URL."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "proxy.cli", "serve"]
                + ["--host", self.host, "--port", str(self.port)],
                stdout=out,
                stderr=err,
                env=self.env,
                cwd=REPO,
            )
        deadline = time.monotonic() + timeout
        while "gateway on" not in self.stdout:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start: {self.stderr}")
            time.sleep(0.02)
        return self

    @property
    def stdout(self) -> str:
        """Everything it printed so far."""
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        """Everything it logged so far."""
        return self.stderr_path.read_text(errors="replace")

    def signal(self, signum: int, timeout: float = 30.0) -> int:
        """Send a signal and wait for the process to end; its exit code."""
        self.proc.send_signal(signum)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        self.signal(signal.SIGKILL)

    def stop(self) -> None:
        """End it if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGTERM)

    def rss_kb(self) -> int:
        """Resident memory now, in KiB."""
        return _status_field(self.pid, "VmRSS")

    def peak_rss_kb(self) -> int:
        """The most resident memory it has had, in KiB."""
        return _status_field(self.pid, "VmHWM")


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise LookupError(name)


def db_rows(path: Path, sql: str = "SELECT * FROM requests") -> list[dict]:
    """Rows of the request log read with plain sqlite3, as another process would."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql)]
    finally:
        conn.close()


def integrity(path: Path) -> str:
    """SQLite's own verdict on a database file ("ok" when sound)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


async def eventually(check, timeout: float = 5.0, step: float = 0.02):
    """Poll an (async or plain) check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(step)
