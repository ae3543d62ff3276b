"""config.toml: every value checked, every mistake named with its file and key."""

from __future__ import annotations

import socket

import pytest

from proxy.config import (
    ConfigError,
    Settings,
    client_url,
    is_loopback,
    is_wildcard,
    load_settings,
    settings_from_dict,
)


def load(paths, text: str) -> Settings:
    paths.config_file.write_text(text)
    return load_settings(paths)


def test_a_missing_file_means_the_defaults(isolated_home):
    assert load_settings(isolated_home) == Settings()


def test_every_setting_is_read(isolated_home):
    settings = load(
        isolated_home,
        """
[server]
host = "::1"
port = 9000
max_body_bytes = 1024
connect_timeout = 2.5
idle_timeout = 60
require_gateway_key = true
allow_client_credentials = true

[console]
live_window = 50

[providers.openai]
base_url = "http://127.0.0.1:9/v1/"

[providers.ollama]
base_url = "http://127.0.0.1:11434/v1"
name = "Ollama"

[models]
"qwen2.5-coder" = "ollama"

[prices."openai/gpt-4o"]
input = 2.5
output = 10
""",
    )
    assert (settings.host, settings.port) == ("::1", 9000)
    assert settings.max_body_bytes == 1024
    assert (settings.connect_timeout, settings.idle_timeout) == (2.5, 60.0)
    assert settings.require_gateway_key and settings.allow_client_credentials
    assert settings.live_window == 50
    assert settings.providers["openai"].base_url == "http://127.0.0.1:9/v1"
    assert settings.providers["ollama"].name == "Ollama"
    assert settings.model_routes == {"qwen2.5-coder": "ollama"}
    assert settings.prices == {"openai/gpt-4o": {"input": 2.5, "output": 10}}


@pytest.mark.parametrize(
    ("text", "named", "expected"),
    [
        ("[server]\nport = 70000", "port = 70000", "1 to 65535"),
        ("[server]\nport = -5", "port = -5", "1 to 65535"),
        ("[server]\nport = 0", "port = 0", "1 to 65535"),
        ('[server]\nport = "8787"', 'port = "8787"', "whole number"),
        ("[server]\nport = 8787.0", "port = 8787.0", "whole number"),
        ('[server]\nhost = ""', 'host = ""', "an address"),
        ("[server]\nhost = 127", "host = 127", "an address"),
        ('[server]\nidle_timeout = "x"', 'idle_timeout = "x"', "seconds above 0"),
        ("[server]\nidle_timeout = 0", "idle_timeout = 0", "seconds above 0"),
        ("[server]\nidle_timeout = nan", "idle_timeout = nan", "seconds above 0"),
        ("[server]\nconnect_timeout = -1", "connect_timeout = -1", "above 0"),
        ("[server]\nconnect_timeout = inf", "connect_timeout = inf", "above 0"),
        ("[server]\nmax_body_bytes = -1", "max_body_bytes = -1", "above 0"),
        ("[server]\nmax_body_bytes = true", "max_body_bytes = true", "above 0"),
        (
            '[server]\nrequire_gateway_key = "false"',
            'require_gateway_key = "false"',
            "true or false, without quotes",
        ),
        ("[server]\nallow_client_credentials = 1", "credentials = 1", "true or false"),
        ("[console]\nlive_window = 0", "[console] live_window = 0", "above 0"),
        (
            '[providers.openai]\nbase_url = "ftp://x"',
            '[providers.openai] base_url = "ftp://x"',
            "http:// or https://",
        ),
        ('[providers.openai]\nbase_url = "http://"', "base_url", "https://"),
        ("[providers.openai]\nbase_url = 5", "base_url = 5", "https://"),
        ('[providers.x]\nbase_url = "http://h"\nname = 3', "name = 3", "a name"),
        ('[models]\n"foo" = "nosuch"', '[models] "foo" = "nosuch"', "anthropic,"),
        ('[models]\nqwen2.5 = "openai"', '"qwen2" = a table', "quote a name"),
    ],
)
def test_a_bad_value_names_the_file_key_value_and_what_is_expected(
    isolated_home, text, named, expected
):
    with pytest.raises(ConfigError) as caught:
        load(isolated_home, text)
    message = str(caught.value)
    assert message.startswith(f"{isolated_home.config_file}: ")
    assert named in message and expected in message


@pytest.mark.parametrize(
    ("text", "where", "known"),
    [
        ("[server]\nbogus = 1", "bogus in [server]", "host, port, max_body_bytes"),
        ("[server]\nidle_timout = 5", "idle_timout in [server]", "idle_timeout"),
        ("[console]\nwindow = 5", "window in [console]", "live_window"),
        (
            '[providers.openai]\nbase_url = "http://h"\nname = "x"',
            "name in [providers.openai]",
            "known keys: base_url",
        ),
        ('[providers.ollama]\nbase_url = "http://h"\nmodel = "m"', "model", "name"),
        ("[sever]\nport = 1", "sever in the top level", "server, console"),
    ],
)
def test_unknown_keys_are_errors_that_list_the_known_ones(
    isolated_home, text, where, known
):
    with pytest.raises(ConfigError, match="unknown key") as caught:
        load(isolated_home, text)
    assert where in str(caught.value) and known in str(caught.value)


def test_a_key_in_config_is_refused_without_showing_it(isolated_home):
    with pytest.raises(ConfigError) as caught:
        load(isolated_home, '[providers.openai]\napi_key = "sk-secret-value"')
    assert "kilo-tui keys add openai" in str(caught.value)
    assert "sk-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[providers.mine]\nname = 'x'", "needs a base_url"),
        ("[providers.v1]\nbase_url = 'http://h'", "not health or v1"),
        ("[providers.'a b']\nbase_url = 'http://h'", "letters, digits"),
        ("[providers]\nopenai = 'http://h'", "[providers.openai] must be a table"),
        ("server = 1", "[server] must be a table"),
        ("[prices]\n'gpt-4o' = { input = 1, output = 2 }", "provider/model"),
        ("[prices.'openai/gpt-4o']\ninput = 1\noutput = -2", "not a price"),
        ("[prices.'openai/gpt-4o']\ninput = 1\noutput = 2\nbogus = 1", "bogus"),
    ],
)
def test_bad_tables_say_what_is_wrong(isolated_home, text, message):
    with pytest.raises(ConfigError) as caught:
        load(isolated_home, text)
    assert message in str(caught.value)


def test_models_may_route_to_a_provider_configured_in_the_same_file(isolated_home):
    settings = load(
        isolated_home,
        '[models]\n"m" = "local"\n[providers.local]\nbase_url = "http://127.0.0.1:1"',
    )
    assert settings.model_routes == {"m": "local"}


def test_port_0_is_for_programs_only(isolated_home):
    assert settings_from_dict({"server": {"port": 0}}).port == 0
    with pytest.raises(ConfigError, match="1 to 65535"):
        load(isolated_home, "[server]\nport = 0")
    with pytest.raises(ConfigError, match="0 to 65535"):
        settings_from_dict({"server": {"port": 65536}})


def test_an_open_address_needs_gateway_keys(isolated_home):
    with pytest.raises(ConfigError) as caught:
        load(isolated_home, '[server]\nhost = "0.0.0.0"')
    assert "require_gateway_key = true" in str(caught.value)
    settings = load(
        isolated_home, '[server]\nhost = "0.0.0.0"\nrequire_gateway_key = true'
    )
    assert settings.host == "0.0.0.0"


def test_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("localhost")
    assert is_loopback("[::1]") and is_loopback("127.5.5.5")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    assert is_wildcard("0.0.0.0") and is_wildcard("::") and is_wildcard("[::]")
    assert not is_wildcard("127.0.0.1")
    assert client_url("127.0.0.1", 8787) == "http://127.0.0.1:8787"
    assert client_url("::1", 1) == client_url("[::1]", 1) == "http://[::1]:1"


def test_a_wildcard_address_is_shown_as_this_machine(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "devbox")
    assert client_url("0.0.0.0", 8787) == "http://devbox:8787"
    assert client_url("::", 1) == "http://devbox:1"
    monkeypatch.setattr(socket, "gethostname", lambda: "localhost")
    assert client_url("0.0.0.0", 2) == "http://<this machine's address>:2"
