"""One table of config.toml, read with checks that name the file, key and value."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from urllib.parse import urlsplit


class ConfigError(Exception):
    """config.toml cannot be read or holds a value that makes no sense."""


def shown(value: object) -> str:
    """A config value as it would be written in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    return str(value)


@dataclass(frozen=True, slots=True)
class Table:
    """One table of config.toml, read with checks that name the file and key."""

    source: str
    name: str
    values: dict

    def error(self, key: str, value: object, expected: str) -> ConfigError:
        """A ConfigError naming the file, the key, the bad value and what is wanted."""
        where = f"[{self.name}] " if self.name else ""
        return ConfigError(
            f"{self.source}: {where}{key} = {shown(value)}: expected {expected}"
        )

    def check_keys(self, known: tuple[str, ...]) -> None:
        """Unknown keys are errors, so a typo cannot silently keep a default."""
        unknown = [str(k) for k in self.values if k not in known]
        if unknown:
            where = f"[{self.name}]" if self.name else "the top level"
            raise ConfigError(
                f"{self.source}: unknown key {', '.join(sorted(unknown))} in {where}; "
                f"known keys: {', '.join(known)}"
            )

    def table(self, key: str) -> Table:
        """A sub-table; an empty one when absent."""
        value = self.values.get(key, {})
        name = f"{self.name}.{key}" if self.name else key
        if not isinstance(value, dict):
            raise ConfigError(
                f"{self.source}: [{name}] must be a table, not {shown(value)}"
            )
        return Table(self.source, name, value)

    def tables(self) -> dict[str, Table]:
        """Every value of this table, each of which must be a table itself."""
        return {str(key): self.table(key) for key in self.values}

    def host(self, key: str, default: str) -> str:
        """A listen address: a non-empty name or IP without spaces."""
        value = self.values.get(key, default)
        if not isinstance(value, str) or not value or any(c.isspace() for c in value):
            raise self.error(key, value, 'an address such as "127.0.0.1" or "::1"')
        return value

    def port(self, key: str, default: int, lowest: int = 1) -> int:
        """A TCP port from `lowest` (0 means any free port) to 65535."""
        value = self.values.get(key, default)
        if not _whole(value) or not lowest <= value <= 65535:
            raise self.error(key, value, f"a whole number from {lowest} to 65535")
        return value

    def count(self, key: str, default: int, unit: str = "") -> int:
        """A whole number above zero; `unit` says what it counts."""
        value = self.values.get(key, default)
        if not _whole(value) or value < 1:
            raise self.error(key, value, f"a whole number above 0 {unit}".strip())
        return value

    def seconds(self, key: str, default: float) -> float:
        """A finite duration above zero, whole or not."""
        value = self.values.get(key, default)
        if not _number(value) or value <= 0:
            raise self.error(key, value, "a number of seconds above 0, e.g. 10 or 2.5")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        """A real TOML boolean: the string "false" would otherwise read as true."""
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, value, "true or false, without quotes")
        return value

    def text(self, key: str) -> str | None:
        """An optional non-blank string."""
        value = self.values.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(key, value, "a name in quotes")
        return value

    def url(self, key: str) -> str | None:
        """An optional http(s) URL with a host."""
        value = self.values.get(key)
        if value is None:
            return None
        try:
            parts = urlsplit(value) if isinstance(value, str) else None
        except ValueError:  # e.g. an unclosed [ in an IPv6 address
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.error(
                key,
                value,
                'an http:// or https:// URL, e.g. "https://api.openai.com/v1"',
            )
        return value


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return _whole(value) or (isinstance(value, float) and math.isfinite(value))
