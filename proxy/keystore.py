"""Provider keys: secrets in the OS keyring or a private file, metadata in SQLite."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from proxy.config import Paths
from proxy.records import iso_utc, utc_now
from proxy.registry import PROVIDERS, Provider
from proxy.store import connect

log = logging.getLogger(__name__)

SERVICE = "kilo-tui"
DEFAULT_LABEL = "default"
ENV_LABEL = "env"
STORED_KEYRING = "keyring"
STORED_FILE = "file"
_PROBE_USER = "kilo-tui:probe"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class KeyStoreError(Exception):
    """A key cannot be stored or read; the message says what to do."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What is known about a stored provider key, without the secret."""

    provider: str
    label: str
    last4: str
    created_at: str
    stored_in: str
    checked_at: str | None = None
    check_status: str | None = None
    check_latency_ms: float | None = None
    check_detail: str | None = None

    @property
    def masked(self) -> str:
        """The key as it may be shown: its last four characters."""
        return "…" + self.last4


@dataclass(frozen=True, slots=True)
class ImportedKey:
    """One key found in the environment and what import did with it."""

    provider: str
    label: str
    env_var: str
    last4: str
    # "added", or "unchanged" when the same secret was already stored.
    action: str


def last4(secret: str) -> str:
    """The part of a secret that may be shown; nothing of a very short one."""
    return secret[-4:] if len(secret) >= 12 else ""


def clean_secret(secret: str) -> str:
    """The secret without surrounding whitespace; KeyStoreError if unusable."""
    secret = secret.strip()
    if not secret:
        raise KeyStoreError("the key is empty")
    if any(c.isspace() or not c.isprintable() for c in secret):
        raise KeyStoreError("the key contains spaces or control characters")
    return secret


def usable_backend(backend: KeyringBackend) -> bool:
    """Whether a keyring backend can really keep secrets on this machine."""
    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return False
    try:
        backend.get_password(SERVICE, _PROBE_USER)
    except Exception as exc:
        log.info("keyring %s is not usable: %s", type(backend).__name__, exc)
        return False
    return True


class MemoryKeyring(KeyringBackend):
    """Secrets in a dict for the life of the process: demo mode and tests."""

    name = "in memory, not saved"
    # Never chosen by keyring on its own; only passed to a KeyStore explicitly.
    priority = -1

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


class KeyStore:
    """Several keys per provider, each under a label; secrets never leave here."""

    def __init__(
        self,
        paths: Paths,
        backend: KeyringBackend | None = None,
        *,
        database: Path | None = None,
    ) -> None:
        self.paths = paths
        self.database = database or paths.database()
        self.file = SecretsFile(paths.secrets_file)
        self._backend = backend
        self._usable: bool | None = None

    def _ring(self) -> KeyringBackend | None:
        """The OS keyring, or None when secrets go to the fallback file."""
        if self._usable is None:
            if self._backend is None:
                try:
                    self._backend = keyring.get_keyring()
                except Exception as exc:
                    log.info("no keyring backend: %s", exc)
                    self._backend = fail.Keyring()
            self._usable = usable_backend(self._backend)
        return self._backend if self._usable else None

    @property
    def is_fallback(self) -> bool:
        """True when new secrets go to the fallback file, not an OS keyring."""
        return self._ring() is None

    @property
    def backend_description(self) -> str:
        """Where new secrets are kept, in words for the user."""
        ring = self._ring()
        if ring is None:
            return (
                f"the fallback file {self.file.path} (readable by you only), "
                "because no usable OS keyring was found"
            )
        return f"the OS keyring ({getattr(ring, 'name', type(ring).__name__)})"

    def add(self, provider: str, secret: str, label: str = DEFAULT_LABEL) -> StoredKey:
        """Store a key, replacing one with the same provider and label."""
        _check_name("provider", provider)
        _check_name("label", label)
        secret = clean_secret(secret)
        old = self.find(provider, label)
        stored_in = self._put(f"{provider}:{label}", secret)
        if old is not None and old.stored_in != stored_in:
            self._drop(old)
        key = StoredKey(provider, label, last4(secret), iso_utc(utc_now()), stored_in)
        with contextlib.closing(self._db()) as db:
            db.execute(
                "INSERT OR REPLACE INTO provider_keys (provider, label, last4, "
                "created_at, stored_in) VALUES (?, ?, ?, ?, ?)",
                (provider, label, key.last4, key.created_at, stored_in),
            )
        log.info("stored a %s key labelled %s in %s", provider, label, stored_in)
        return key

    def list(self) -> list[StoredKey]:
        """Every stored key, by provider then label."""
        with contextlib.closing(self._db()) as db:
            rows = db.execute(
                f"SELECT {_KEY_COLUMNS} FROM provider_keys ORDER BY provider, label"
            ).fetchall()
        return [StoredKey(*row) for row in rows]

    def find(self, provider: str, label: str | None = None) -> StoredKey | None:
        """A provider's key by label; without one, "default" or else the oldest."""
        keys = [k for k in self.list() if k.provider == provider]
        if label is not None:
            return next((k for k in keys if k.label == label), None)
        default = [k for k in keys if k.label == DEFAULT_LABEL]
        return (default or sorted(keys, key=lambda k: k.created_at) or [None])[0]

    def secret(self, provider: str, label: str | None = None) -> str | None:
        """A provider's secret (see find() for which one), or None if none."""
        key = self.find(provider, label)
        if key is None:
            return None
        name = f"{key.provider}:{key.label}"
        if key.stored_in == STORED_FILE:
            return self.file.read().get(name)
        ring = self._ring()
        if ring is None:
            raise KeyStoreError(
                f"the {provider} key '{key.label}' is in the OS keyring, which cannot "
                "be opened now; unlock it, or add the key again"
            )
        try:
            return ring.get_password(SERVICE, name)
        except Exception as exc:
            raise KeyStoreError(
                f"the OS keyring refused to give the {provider} key: {exc}"
            ) from exc

    def remove(self, provider: str, label: str | None = None) -> list[StoredKey]:
        """Remove one labelled key, or every key of the provider; what was removed."""
        keys = [
            k
            for k in self.list()
            if k.provider == provider and label in (None, k.label)
        ]
        for key in keys:
            self._drop(key)
            with contextlib.closing(self._db()) as db:
                db.execute(
                    "DELETE FROM provider_keys WHERE provider = ? AND label = ?",
                    (key.provider, key.label),
                )
        return keys

    def record_check(
        self,
        provider: str,
        label: str,
        status: str,
        latency_ms: float | None = None,
        detail: str | None = None,
    ) -> None:
        """Remember the outcome of a live check of a key."""
        with contextlib.closing(self._db()) as db:
            db.execute(
                "UPDATE provider_keys SET checked_at = ?, check_status = ?, "
                "check_latency_ms = ?, check_detail = ? "
                "WHERE provider = ? AND label = ?",
                (iso_utc(utc_now()), status, latency_ms, detail, provider, label),
            )

    def import_from_env(
        self,
        environ: Mapping[str, str],
        providers: Mapping[str, Provider] = PROVIDERS,
    ) -> list[ImportedKey]:
        """Store keys found in the providers' usual environment variables."""
        found = []
        for provider in providers.values():
            for var in provider.env_vars:
                value = environ.get(var, "").strip()
                if value:
                    found.append(self._import(provider.id, var, value))
                    break
        return found

    def _import(self, provider: str, var: str, secret: str) -> ImportedKey:
        """Add one environment key unless the same secret is already stored."""
        secret = clean_secret(secret)
        stored = [k for k in self.list() if k.provider == provider]
        for key in stored:
            if self.secret(provider, key.label) == secret:
                return ImportedKey(provider, key.label, var, key.last4, "unchanged")
        label = ENV_LABEL if stored else DEFAULT_LABEL
        key = self.add(provider, secret, label)
        return ImportedKey(provider, label, var, key.last4, "added")

    def _put(self, name: str, secret: str) -> str:
        """Write a secret where it belongs; where that was."""
        ring = self._ring()
        if ring is None:
            self.file.set(name, secret)
            return STORED_FILE
        try:
            ring.set_password(SERVICE, name, secret)
        except Exception as exc:
            raise KeyStoreError(
                f"the OS keyring refused the key ({type(exc).__name__}); unlock the "
                "keyring and try again"
            ) from exc
        return STORED_KEYRING

    def _drop(self, key: StoredKey) -> None:
        """Delete a secret from wherever it is; a missing one is fine."""
        name = f"{key.provider}:{key.label}"
        if key.stored_in == STORED_FILE:
            self.file.delete(name)
            return
        ring = self._ring()
        if ring is None:
            log.warning("cannot reach the OS keyring to delete the %s key", name)
            return
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            ring.delete_password(SERVICE, name)

    def _db(self):
        """The metadata database (the request log's file)."""
        return connect(self.database)


_KEY_COLUMNS = (
    "provider, label, last4, created_at, stored_in, checked_at, check_status, "
    "check_latency_ms, check_detail"
)


def _check_name(kind: str, value: str) -> None:
    """Provider ids and labels are short names, safe in a keyring username."""
    if not _NAME.fullmatch(value):
        raise KeyStoreError(
            f"{kind} {value!r} must be letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )


class SecretsFile:
    """The fallback: a JSON file only its owner can read, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, str]:
        """Every secret in the file; KeyStoreError if others could read it."""
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return {}
        if os.name == "posix" and mode & 0o077:
            raise KeyStoreError(
                f"{self.path} can be read by other users, so kilo-tui will not use "
                f"it; run: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            keys = data["keys"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(
                f"cannot read {self.path} ({type(exc).__name__}); fix or remove it "
                "and add the keys again"
            ) from exc
        return {str(k): str(v) for k, v in keys.items()}

    def set(self, name: str, secret: str) -> None:
        """Add or replace one secret."""
        with self._locked():
            secrets = self.read()
            secrets[name] = secret
            self._write(secrets)

    def delete(self, name: str) -> None:
        """Remove one secret if present."""
        with self._locked():
            secrets = self.read()
            if secrets.pop(name, None) is not None:
                self._write(secrets)

    def _write(self, secrets: dict[str, str]) -> None:
        """Write a new private file beside the old one, then swap it in."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": 1, "keys": secrets}, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write between processes (POSIX only)."""
        try:
            import fcntl
        except ImportError:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
