"""The servers the benchmark measures, and how each is set up and started."""

from __future__ import annotations

import importlib.metadata
import shlex
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LITELLM_VERSION = "1.108.7"
LITELLM_VENV = BENCH / ".venv-litellm"
# Client credentials are forwarded unchanged on loopback, so no key store is needed.
BENCH_KEY = "sk-bench-0000000000000000"


@dataclass
class Target:
    """One server under test: how to start it and how to talk to it."""

    name: str
    command: list[str]
    model: str
    port: int = 0
    check: str = "exact"  # exact bytes, or the same content re-encoded
    health: str = "/health"
    env: dict[str, str] = field(default_factory=dict)
    database: Path | None = None  # its request log, when it keeps one
    version: str = ""
    startup: float = 60.0


def python_env(home: Path) -> dict[str, str]:
    """The environment for kilo-tui processes: an isolated home, no keyring."""
    return {
        "KILO_TUI_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PYTHONUNBUFFERED": "1",
    }


def write_kilo_config(home: Path, mock_port: int) -> None:
    """Point kilo-tui's OpenAI provider at the mock."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / "config.toml").write_text(
        f'[providers.openai]\nbase_url = "http://127.0.0.1:{mock_port}/v1"\n'
    )


def kilo(home: Path, port: int, mock_port: int) -> Target:
    """kilo-tui's gateway, headless, as `kilo-tui serve` runs it."""
    write_kilo_config(home, mock_port)
    cmd = [sys.executable, "-m", "proxy.cli", "serve", "--host", "127.0.0.1"]
    return Target(
        name="kilo-tui",
        command=[*cmd, "--port", str(port)],
        model="openai/gpt-4o-mini",
        port=port,
        env=python_env(home),
        database=home / "kilo.sqlite3",
        version=_dist_version("kilo-tui"),
    )


def console(home: Path, port: int, mock_port: int) -> Target:
    """kilo-tui's console, headless, gateway embedded, Live screen open."""
    target = kilo(home, port, mock_port)
    target.name = "kilo-tui console"
    target.command = [
        sys.executable,
        str(BENCH / "console_gateway.py"),
        "--port",
        str(port),
    ]
    return target


def custom(name: str, template: str, home: Path, port: int, mock_port: int) -> Target:
    """Any command speaking kilo-tui's routes: {port}, {mock_port}, {home}, {python}."""
    write_kilo_config(home, mock_port)
    command = template.format(
        port=port, mock_port=mock_port, home=home, python=sys.executable
    )
    return Target(
        name=name,
        command=shlex.split(command),
        model="openai/gpt-4o-mini",
        port=port,
        env=python_env(home),
        database=home / "kilo.sqlite3",
        version=_dist_version("kilo-tui"),
    )


def floor(port: int, mock_port: int) -> Target:
    """The least a Python proxy can do: aiohttp in and out, nothing recorded."""
    return Target(
        name="floor (bare aiohttp relay)",
        command=[
            sys.executable,
            str(BENCH / "floor_proxy.py"),
            "--port",
            str(port),
            "--upstream",
            f"http://127.0.0.1:{mock_port}",
        ],
        model="gpt-4o-mini",
        port=port,
        version=f"aiohttp {_dist_version('aiohttp')}",
    )


def direct(mock_port: int) -> Target:
    """The mock itself, for the baselines that added latency is measured over."""
    return Target(name="direct", command=[], model="gpt-4o-mini", port=mock_port)


def litellm(workdir: Path, port: int, mock_port: int) -> Target:
    """LiteLLM's proxy: one worker, no database, no callbacks, model at the mock."""
    ensure_litellm()
    config = workdir / "litellm.yaml"
    workdir.mkdir(parents=True, exist_ok=True)
    config.write_text(_litellm_config(mock_port))
    return Target(
        name="LiteLLM",
        command=[
            str(LITELLM_VENV / "bin" / "litellm"),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        model="gpt-4o-mini",
        port=port,
        check="content",
        health="/health/liveliness",
        env=_litellm_env(),
        version=f"litellm {LITELLM_VERSION}",
        startup=180.0,
    )


def _litellm_config(mock_port: int) -> str:
    return (
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: http://127.0.0.1:{mock_port}/v1\n"
        f"      api_key: {BENCH_KEY}\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  callbacks: []\n"
        "  success_callback: []\n"
        "  failure_callback: []\n"
        "general_settings:\n"
        # No master key means no per-request key check: LiteLLM at its fastest, as
        # kilo-tui on loopback checks no client key either.
        "  dangerously_permit_weak_or_unset_master_key: true\n"
    )


def _litellm_env() -> dict[str, str]:
    # Its bundled price map, never a download; any stray outbound HTTP call is sent
    # to a dead loopback port instead of leaving the machine.
    return {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }


def ensure_litellm() -> None:
    """Create bench/.venv-litellm with the pinned LiteLLM, uvloop and httptools."""
    python = LITELLM_VENV / "bin" / "python"
    if _litellm_installed(python) == LITELLM_VERSION:
        return
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} …")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            f"litellm[proxy]=={LITELLM_VERSION}",
            "uvloop",
            "httptools",
        ],
        check=True,
    )


def _litellm_installed(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = "import importlib.metadata as m; print(m.version('litellm'))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    return done.stdout.strip() or None


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def count_records(database: Path) -> int | None:
    """How many requests the log holds, read without disturbing the writer."""
    if not database.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        return db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        db.close()
