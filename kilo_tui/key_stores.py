"""Which key store the console uses: the user's own, or demo mode's in memory.

Demo keys never reach the OS keyring or the fallback file, so a key typed into the
demo can never be sent by the real gateway, nor replace a real one.
"""

from __future__ import annotations

from pathlib import Path

from proxy.config import Paths


def key_store(paths: Paths, demo: bool):
    """The user's key store; in demo mode one that keeps secrets in memory only."""
    from proxy.keystore import KeyStore, MemoryKeyring

    if not demo:
        return KeyStore(paths, database=paths.database())
    store = KeyStore(paths, backend=MemoryKeyring(), database=paths.database(True))
    # Never the user's secrets file, not even to read or remove a key an older
    # demo recorded as "in the file".
    store.file = MemorySecretsFile()
    return store


class MemorySecretsFile:
    """Stands in for the fallback secrets file in demo mode: nothing goes to disk."""

    path = Path("(memory)")

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}

    def read(self) -> dict[str, str]:
        return dict(self._secrets)

    def set(self, name: str, secret: str) -> None:
        self._secrets[name] = secret

    def delete(self, name: str) -> None:
        self._secrets.pop(name, None)


def forget_demo_keys(store) -> None:
    """Drop key records left by earlier demos: their secrets went with them."""
    for key in store.list():
        store.remove(key.provider, key.label)
