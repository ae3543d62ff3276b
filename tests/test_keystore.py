"""Provider keys: OS keyring when usable, a private file when not, never leaked."""

from __future__ import annotations

import json
import stat

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringError

from proxy.config import resolve_paths
from proxy.keystore import (
    SERVICE,
    KeyStore,
    KeyStoreError,
    MemoryKeyring,
    clean_secret,
    usable_backend,
)
from proxy.registry import PROVIDERS

SECRET = "sk-test-abcdefghijklmnopqrstuvwxyz0123456789WXYZ"
OTHER = "sk-test-zyxwvutsrqponmlkjihgfedcba9876543210QRST"


class BrokenKeyring(KeyringBackend):
    """A backend that exists but fails every call, like a locked Secret Service."""

    priority = 1

    def get_password(self, service, username):
        raise KeyringError("the collection is locked")

    def set_password(self, service, username, password):
        raise KeyringError("the collection is locked")

    def delete_password(self, service, username):
        raise KeyringError("the collection is locked")


class RefusingKeyring(MemoryKeyring):
    """Reads fine, refuses writes (a prompt the user cancelled)."""

    def set_password(self, service, username, password):
        raise KeyringError(f"cancelled while storing {password}")


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("KILO_TUI_HOME", str(tmp_path / "home"))
    return resolve_paths()


@pytest.fixture
def ring():
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def fallback(paths):
    return KeyStore(paths, backend=null.Keyring())


def database_bytes(paths) -> bytes:
    return b"".join(
        p.read_bytes() for p in paths.data_dir.glob("kilo.sqlite3*") if p.is_file()
    )


def test_keys_go_to_the_os_keyring(paths, ring):
    store = KeyStore(paths)
    key = store.add("openai", f"  {SECRET}\n")
    assert not store.is_fallback
    assert "OS keyring" in store.backend_description
    assert ring.secrets == {(SERVICE, "openai:default"): SECRET}
    assert (key.provider, key.label, key.last4, key.stored_in) == (
        "openai",
        "default",
        "WXYZ",
        "keyring",
    )
    assert key.masked == "…WXYZ"
    assert store.secret("openai") == SECRET
    assert not paths.secrets_file.exists()


def test_several_labelled_keys_per_provider(paths, ring):
    store = KeyStore(paths)
    store.add("openai", OTHER, label="work")
    assert store.secret("openai") == OTHER  # the only one
    store.add("openai", SECRET)
    assert store.secret("openai") == SECRET  # "default" wins
    assert store.secret("openai", "work") == OTHER
    assert store.secret("openai", "nope") is None
    assert store.secret("anthropic") is None
    assert [(k.provider, k.label) for k in store.list()] == [
        ("openai", "default"),
        ("openai", "work"),
    ]


def test_remove_one_label_or_all(paths, ring):
    store = KeyStore(paths)
    store.add("openai", SECRET)
    store.add("openai", OTHER, label="work")
    store.add("deepseek", OTHER)
    assert [k.label for k in store.remove("openai", "work")] == ["work"]
    assert (SERVICE, "openai:work") not in ring.secrets
    assert len(store.remove("openai")) == 1
    assert [k.provider for k in store.list()] == ["deepseek"]
    assert store.remove("openai") == []


def test_metadata_never_holds_the_secret(paths, ring):
    store = KeyStore(paths)
    store.add("openai", SECRET)
    store.record_check("openai", "default", "valid", 120.5, "HTTP 200, 3 models")
    (key,) = store.list()
    assert (key.check_status, key.check_latency_ms) == ("valid", 120.5)
    assert key.checked_at is not None
    assert SECRET.encode() not in database_bytes(paths)
    assert SECRET[:-4].encode() not in database_bytes(paths)


@pytest.mark.parametrize(
    "backend",
    [fail.Keyring(), null.Keyring(), BrokenKeyring()],
    ids=["fail", "null", "broken"],
)
def test_unusable_backends_are_detected(backend):
    assert not usable_backend(backend)


def test_chainer_without_backends_is_unusable(monkeypatch):
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    assert not usable_backend(chainer.ChainerBackend())


def test_a_working_backend_is_usable():
    assert usable_backend(MemoryKeyring())


def test_fallback_file_is_private_and_says_so(paths, fallback):
    fallback.add("anthropic", SECRET)
    assert fallback.is_fallback
    assert str(paths.secrets_file) in fallback.backend_description
    assert "no usable OS keyring" in fallback.backend_description
    assert stat.S_IMODE(paths.secrets_file.stat().st_mode) == 0o600
    data = json.loads(paths.secrets_file.read_text())
    assert data["keys"] == {"anthropic:default": SECRET}
    assert fallback.list()[0].stored_in == "file"
    assert fallback.secret("anthropic") == SECRET
    leftovers = [p.name for p in paths.secrets_file.parent.glob(".*tmp")]
    assert leftovers == []


def test_fallback_file_readable_by_others_is_refused(paths, fallback):
    fallback.add("anthropic", SECRET)
    paths.secrets_file.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        fallback.secret("anthropic")
    with pytest.raises(KeyStoreError, match="chmod 600"):
        fallback.add("openai", OTHER)


def test_fallback_remove_deletes_the_secret(paths, fallback):
    fallback.add("anthropic", SECRET)
    fallback.add("openai", OTHER)
    fallback.remove("anthropic")
    data = json.loads(paths.secrets_file.read_text())
    assert data["keys"] == {"openai:default": OTHER}


def test_moving_to_a_keyring_removes_the_file_copy(paths, fallback, ring):
    fallback.add("openai", SECRET)
    KeyStore(paths).add("openai", OTHER)
    assert json.loads(paths.secrets_file.read_text())["keys"] == {}
    assert ring.secrets[(SERVICE, "openai:default")] == OTHER


def test_a_keyring_that_refuses_a_write_is_an_error(paths):
    store = KeyStore(paths, backend=RefusingKeyring())
    with pytest.raises(KeyStoreError, match="refused") as caught:
        store.add("openai", SECRET)
    assert SECRET not in str(caught.value)
    assert store.list() == []


def test_a_keyring_secret_when_the_keyring_is_gone(paths, ring):
    KeyStore(paths).add("openai", SECRET)
    with pytest.raises(KeyStoreError, match="OS keyring"):
        KeyStore(paths, backend=fail.Keyring()).secret("openai")


@pytest.mark.parametrize("bad", ["", "   \n", "sk-one sk-two", "sk-\x07bell"])
def test_unusable_secrets_are_refused(bad):
    with pytest.raises(KeyStoreError):
        clean_secret(bad)


@pytest.mark.parametrize("label", ["", "has space", "a:b", "x" * 70])
def test_labels_must_be_simple_names(paths, ring, label):
    with pytest.raises(KeyStoreError, match="label"):
        KeyStore(paths).add("openai", SECRET, label=label)


def test_short_secrets_show_nothing(paths, ring):
    key = KeyStore(paths).add("custom", "abc123")
    assert key.last4 == "" and key.masked == "…"


def test_import_from_env(paths, ring):
    store = KeyStore(paths)
    environ = {"OPENAI_API_KEY": SECRET, "GEMINI_API_KEY": OTHER, "UNRELATED": "x"}
    found = store.import_from_env(environ, PROVIDERS)
    assert {(f.provider, f.label, f.env_var, f.action) for f in found} == {
        ("openai", "default", "OPENAI_API_KEY", "added"),
        ("google", "default", "GEMINI_API_KEY", "added"),
    }
    again = store.import_from_env(environ, PROVIDERS)
    assert {f.action for f in again} == {"unchanged"}
    changed = store.import_from_env({"OPENAI_API_KEY": OTHER}, PROVIDERS)
    assert [(f.label, f.action) for f in changed] == [("env", "added")]
    assert store.secret("openai") == SECRET
    assert store.secret("openai", "env") == OTHER


def test_separate_database_for_metadata(paths, ring, tmp_path):
    demo = tmp_path / "demo.sqlite3"
    store = KeyStore(paths, database=demo)
    store.add("openai", SECRET)
    assert demo.exists()
    assert KeyStore(paths).list() == []
