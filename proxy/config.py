"""Where kilo-tui keeps its files, and the settings read from config.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from proxy.registry import PROVIDERS, Provider, custom_provider, with_base_url

APP_NAME = "kilo-tui"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 32 * 1024 * 1024


class ConfigError(Exception):
    """config.toml cannot be read or holds a value that makes no sense."""


@dataclass(slots=True)
class Paths:
    """Every file kilo-tui writes, under one home or the platform's directories."""

    config_dir: Path
    data_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.json"

    def database(self, demo: bool = False) -> Path:
        """The request log; demo traffic lives in a database of its own."""
        return self.data_dir / ("demo.sqlite3" if demo else "kilo.sqlite3")

    def ensure(self) -> None:
        """Create the directories, readable by their owner only."""
        for directory in (self.config_dir, self.data_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)


def resolve_paths() -> Paths:
    """KILO_TUI_HOME when set, else the platform's user config and data directories."""
    home = os.environ.get("KILO_TUI_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root, root)
    return Paths(
        Path(platformdirs.user_config_dir(APP_NAME)),
        Path(platformdirs.user_data_dir(APP_NAME)),
    )


@dataclass(slots=True)
class Settings:
    """Everything config.toml can set, with the defaults in force when it is silent."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    providers: dict[str, Provider] = field(default_factory=lambda: dict(PROVIDERS))
    # Bare model name -> provider id, for names no prefix rule recognises.
    model_routes: dict[str, str] = field(default_factory=dict)
    # Raw [prices."provider/model"] tables, USD per million tokens.
    prices: dict[str, dict] = field(default_factory=dict)
    max_body_bytes: int = DEFAULT_MAX_BODY
    connect_timeout: float = 10.0
    idle_timeout: float = 300.0
    # Off loopback, every request must carry a gateway key.
    require_gateway_key: bool = False
    # Whether a client's own provider credential is forwarded when a gateway key is
    # required (on loopback it always is).
    allow_client_credentials: bool = False
    live_window: int = 1000


def load_settings(paths: Paths | None = None) -> Settings:
    """Read config.toml; a missing file means the defaults."""
    paths = paths or resolve_paths()
    try:
        raw = tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{paths.config_file}: {exc}") from exc
    return settings_from_dict(raw, source=str(paths.config_file))


def settings_from_dict(raw: dict, source: str = "config") -> Settings:
    """Settings from an already parsed config table."""
    settings = Settings()
    server = _table(raw, "server", source)
    settings.host = str(server.get("host", settings.host))
    settings.port = _int(server, "port", settings.port, source)
    settings.max_body_bytes = _int(
        server, "max_body_bytes", settings.max_body_bytes, source
    )
    settings.connect_timeout = float(
        server.get("connect_timeout", settings.connect_timeout)
    )
    settings.idle_timeout = float(server.get("idle_timeout", settings.idle_timeout))
    settings.require_gateway_key = bool(server.get("require_gateway_key", False))
    settings.allow_client_credentials = bool(
        server.get("allow_client_credentials", False)
    )
    settings.live_window = _int(
        _table(raw, "console", source), "live_window", 1000, source
    )

    for pid, table in _table(raw, "providers", source).items():
        settings.providers[pid] = _provider(pid, table, source)

    routes = _table(raw, "models", source)
    settings.model_routes = {str(k): str(v) for k, v in routes.items()}
    settings.prices = {
        str(k): dict(v) for k, v in _table(raw, "prices", source).items()
    }
    return settings


def _provider(pid: str, table: object, source: str) -> Provider:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [providers.{pid}] must be a table")
    base_url = table.get("base_url")
    if base_url is not None and not str(base_url).startswith(("http://", "https://")):
        raise ConfigError(
            f"{source}: providers.{pid}.base_url must start with http:// or https://"
        )
    known = PROVIDERS.get(pid)
    if known is None:
        if not base_url:
            raise ConfigError(
                f"{source}: [providers.{pid}] is not a known provider, so it needs a "
                "base_url (an OpenAI-compatible server such as Ollama or vLLM)"
            )
        return custom_provider(pid, str(base_url), table.get("name"))
    return with_base_url(known, str(base_url)) if base_url else known


def _table(raw: dict, key: str, source: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{key}] must be a table")
    return value


def _int(table: dict, key: str, default: int, source: str) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{source}: {key} must be a whole number, not {value!r}")
    return value
