"""Where kilo-tui keeps its files, and the settings read from config.toml."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from proxy.config_table import ConfigError, Table, shown
from proxy.registry import PROVIDERS, Provider, custom_provider, with_base_url

APP_NAME = "kilo-tui"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 32 * 1024 * 1024

TABLES = ("server", "console", "providers", "models", "prices")
SERVER_KEYS = (
    "host",
    "port",
    "max_body_bytes",
    "connect_timeout",
    "idle_timeout",
    "require_gateway_key",
    "allow_client_credentials",
)
CONSOLE_KEYS = ("live_window",)
PROVIDER_KEYS = ("base_url",)
CUSTOM_PROVIDER_KEYS = ("base_url", "name")
# First path segments the gateway answers itself; a provider of that name would
# shadow them on the /{provider}/{path} route.
RESERVED_IDS = frozenset({"v1", "health"})
# The key store and the raw route take provider ids of this shape.
_PROVIDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


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


def is_loopback(host: str) -> bool:
    """Whether a listen address is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """Whether a listen address means every address of this machine."""
    return host.strip("[]") in ("0.0.0.0", "::")


def client_url(host: str, port: int) -> str:
    """The base URL clients use; a wildcard listen address is replaced by a name."""
    if is_wildcard(host):
        # Only the local name: looking it up could send traffic off this machine.
        name = socket.gethostname()
        if not name or name == "localhost":
            name = "<this machine's address>"
        return f"http://{name}:{port}"
    bare = host.strip("[]")
    return f"http://[{bare}]:{port}" if ":" in bare else f"http://{bare}:{port}"


def load_settings(paths: Paths | None = None) -> Settings:
    """Read config.toml; a missing file means the defaults."""
    paths = paths or resolve_paths()
    try:
        raw = tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except NotADirectoryError:
        raise ConfigError(
            f"{paths.config_dir} is not a directory; kilo-tui keeps its files in "
            "one (check KILO_TUI_HOME)"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{paths.config_file}: {exc}") from exc
    return _settings(raw, str(paths.config_file), lowest_port=1)


def settings_from_dict(raw: dict, source: str = "config") -> Settings:
    """Settings from an already parsed config table; port 0 means any free port."""
    return _settings(raw, source, lowest_port=0)


def _settings(raw: dict, source: str, lowest_port: int) -> Settings:
    """Every table checked, in the order a reader of the file meets them."""
    top = Table(source, "", raw)
    top.check_keys(TABLES)
    settings = Settings()
    _read_server(settings, top.table("server"), lowest_port)
    console = top.table("console")
    console.check_keys(CONSOLE_KEYS)
    settings.live_window = console.count(
        "live_window", settings.live_window, "(requests the live view keeps)"
    )
    for pid, table in top.table("providers").tables().items():
        settings.providers[pid] = _provider(pid, table)
    settings.model_routes = _model_routes(top.table("models"), settings.providers)
    settings.prices = _prices(top.table("prices"))
    _check_exposure(settings, source)
    return settings


def _read_server(settings: Settings, server: Table, lowest_port: int) -> None:
    server.check_keys(SERVER_KEYS)
    settings.host = server.host("host", settings.host)
    settings.port = server.port("port", settings.port, lowest_port)
    settings.max_body_bytes = server.count(
        "max_body_bytes", settings.max_body_bytes, "(bytes, e.g. 33554432 = 32 MiB)"
    )
    settings.connect_timeout = server.seconds(
        "connect_timeout", settings.connect_timeout
    )
    settings.idle_timeout = server.seconds("idle_timeout", settings.idle_timeout)
    settings.require_gateway_key = server.flag("require_gateway_key", False)
    settings.allow_client_credentials = server.flag("allow_client_credentials", False)


def _provider(pid: str, table: Table) -> Provider:
    if "api_key" in table.values:
        raise ConfigError(
            f"{table.source}: [providers.{pid}] api_key: keys never go in config.toml; "
            f"store it with: kilo-tui keys add {pid}"
        )
    known = PROVIDERS.get(pid)
    table.check_keys(PROVIDER_KEYS if known else CUSTOM_PROVIDER_KEYS)
    base_url = table.url("base_url")
    if known is not None:
        return with_base_url(known, base_url) if base_url else known
    if not _PROVIDER_ID.fullmatch(pid) or pid in RESERVED_IDS:
        raise ConfigError(
            f"{table.source}: [providers.{pid}]: a new provider's id must be letters, "
            "digits, '.', '_' or '-' (at most 64) and not "
            + " or ".join(sorted(RESERVED_IDS))
        )
    if not base_url:
        raise ConfigError(
            f"{table.source}: [providers.{pid}] is not a known provider, so it needs a "
            "base_url (an OpenAI-compatible server such as Ollama or vLLM)"
        )
    return custom_provider(pid, base_url, table.text("name"))


def _model_routes(models: Table, providers: dict[str, Provider]) -> dict[str, str]:
    """[models]: bare model name -> the id of a provider known by now."""
    routes = {}
    for model, pid in models.values.items():
        if not isinstance(pid, str) or pid not in providers:
            hint = ""
            if isinstance(pid, dict):
                hint = f' (quote a name with dots in it: "{model}.…" = "provider")'
            raise models.error(
                f'"{model}"',
                pid,
                "the id of a provider of the registry or of [providers.…]: "
                + ", ".join(sorted(providers))
                + hint,
            )
        routes[str(model)] = pid
    return routes


def _prices(prices: Table) -> dict[str, dict]:
    """[prices]: checked by the same parser the gateway prices requests with."""
    tables = prices.tables()
    if not tables:
        return {}
    # Imported here: genai-prices takes a noticeable moment to load.
    from proxy.pricing import parse_overrides

    raw = {key: table.values for key, table in tables.items()}
    try:
        parse_overrides(raw)
    except ValueError as exc:
        raise ConfigError(f"{prices.source}: [prices] {exc}") from exc
    return raw


def _check_exposure(settings: Settings, source: str) -> None:
    """Off loopback, anyone who can reach the port could spend the stored keys."""
    if is_loopback(settings.host) or settings.require_gateway_key:
        return
    raise ConfigError(
        f"{source}: [server] host = {shown(settings.host)} lets other machines reach "
        "the gateway, so set require_gateway_key = true in [server] as well (then "
        "give each client a key from: kilo-tui gateway-key create --project NAME)"
    )
