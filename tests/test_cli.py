"""The command line: one-line errors, exit codes, and no secret ever shown."""

from __future__ import annotations

import asyncio
import csv
import errno
import getpass
import io
import json
import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import keyring
import pytest
from keyring.backends import null

from proxy import cli, queries
from proxy.commands import keys as key_commands
from proxy.commands import serve as serve_command
from proxy.commands import text
from proxy.config import resolve_paths
from proxy.keystore import MemoryKeyring
from proxy.records import RequestRecord, Usage, utc_now
from proxy.server import BindError
from proxy.store import RequestStore

SECRET = "sk-proj-cli0123456789abcdefghijklmnopqrstuvwxyzLAST"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty KILO_TUI_HOME and an in-memory keyring."""
    monkeypatch.setenv("KILO_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KILO_TUI_DEBUG", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield resolve_paths()
    keyring.set_keyring(previous)


@pytest.fixture
def run(home, capsys, monkeypatch):
    """Run main() in-process: (exit code, stdout, stderr); every output is kept."""
    shown: list[str] = []

    def call(*argv: str, stdin: str = ""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        shown.append(out + err)
        return code, out, err

    call.shown = shown
    return call


class Answer(BaseHTTPRequestHandler):
    """/good answers 200 with two models, /bad 401."""

    def do_GET(self) -> None:
        good = self.path.startswith("/good")
        body = json.dumps(
            {"data": [{"id": "m1"}, {"id": "m2"}]}
            if good
            else {"error": {"message": "invalid key"}}
        ).encode()
        self.send_response(200 if good else 401)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def mock_api():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def write_config(paths, text: str) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text)


def seed(paths, demo: bool = False) -> list[RequestRecord]:
    """Three requests in the last day (one unpriced) and one 40 days old."""
    now = utc_now()
    records = [
        RequestRecord(
            "r1",
            now - timedelta(hours=3),
            "openai",
            "gpt-4o",
            project="site",
            status=200,
            usage=Usage(input_tokens=1200, output_tokens=300),
            cost_usd=Decimal("0.0060000000001"),
            cost_source="computed",
        ),
        RequestRecord(
            "r2",
            now - timedelta(hours=2),
            "anthropic",
            "claude-sonnet-4-5",
            gateway_key_id="gk_0000abcd",
            status="client_disconnected",
            usage=Usage(input_tokens=50_000, output_tokens=20),
            cost_usd=Decimal("0.15"),
            cost_source="computed",
        ),
        RequestRecord("r3", now - timedelta(hours=1), "custom", "mystery", status=200),
        RequestRecord("old", now - timedelta(days=40), "openai", "gpt-4o"),
    ]

    async def write() -> None:
        store = RequestStore(paths.database(demo))
        await store.open()
        for record in records:
            store.submit(record)
        await store.close()

    # main() runs its own event loop, so these tests are synchronous.
    asyncio.run(write())
    return records


# --- usage ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["serve", "--help"],
        ["keys", "add", "--help"],
        ["keys", "list", "--help"],
        ["gateway-key", "create", "--help"],
        ["export", "--help"],
        ["report", "--help"],
    ],
)
def test_help_exits_zero(run, argv):
    code, out, _ = run(*argv)
    assert code == 0 and "usage:" in out


def test_version(run):
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("kilo-tui ")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["keys"],
        ["keys", "add"],
        ["report", "--by", "colour"],
        ["report", "--since", "last tuesday"],
        ["export", "--format", "xml"],
        ["serve", "--port", "99999"],
        ["gateway-key", "create"],
    ],
)
def test_bad_usage_exits_2_with_one_line(run, argv):
    code, _, err = run(*argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("kilo-tui: error")]
    assert len(lines) == 1
    assert "Traceback" not in err


# --- keys -------------------------------------------------------------------


def test_keys_add_reads_stdin_and_masks(run):
    code, out, err = run("keys", "add", "openai", stdin=f"  {SECRET}\n")
    assert code == 0, err
    assert "…LAST" in out and "OS keyring" in out
    assert keyring.get_keyring().get_password("kilo-tui", "openai:default") == SECRET
    code, out, _ = run("keys", "list")
    assert code == 0
    assert "openai" in out and "…LAST" in out and "OS keyring" in out


def test_keys_add_at_a_terminal_uses_a_hidden_prompt(run, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    prompts = []
    monkeypatch.setattr(
        getpass, "getpass", lambda prompt: prompts.append(prompt) or SECRET
    )
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert cli.main(["keys", "add", "anthropic", "--label", "work"]) == 0
    assert prompts == ["Anthropic API key (hidden): "]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["keys", "add", "openai"], "  \n", "no key on standard input"),
        (["keys", "add", "nosuch"], SECRET, "unknown provider 'nosuch'"),
        (["keys", "add", "openai"], "sk-kilo-abcdefghijklmnop", "gateway key"),
        (["keys", "add", "openai"], "two words", "spaces"),
        (["keys", "add", "openai"], "two\nlines", "the key has more than one line"),
    ],
)
def test_keys_add_refuses_bad_input(run, argv, stdin, message):
    code, out, err = run(*argv, stdin=stdin)
    assert code in (1, 2)
    assert message in err and len(err.strip().splitlines()) == 1
    assert "two" not in out


def test_keys_list_says_plainly_when_the_fallback_file_is_used(run, home):
    keyring.set_keyring(null.Keyring())
    assert run("keys", "add", "deepseek", stdin=SECRET)[0] == 0
    code, out, _ = run("keys", "list")
    assert code == 0
    assert "fallback file" in out and str(home.secrets_file) in out
    assert "file" in out.splitlines()[1]


def test_keys_list_when_empty(run):
    code, out, _ = run("keys", "list")
    assert code == 0 and "No provider keys stored" in out


def test_keys_remove(run):
    run("keys", "add", "openai", stdin=SECRET)
    run("keys", "add", "openai", "--label", "work", stdin=SECRET + "2")
    code, _, err = run("keys", "remove", "openai")
    assert code == 2 and "--label" in err
    assert run("keys", "remove", "openai", "--label", "work")[0] == 0
    code, out, _ = run("keys", "remove", "openai")
    assert code == 0 and "Removed the openai key 'default'" in out
    code, _, err = run("keys", "remove", "openai")
    assert code == 1 and "no openai key" in err


def test_keys_import_from_environment(run, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_API_KEY", SECRET)
    code, out, _ = run("keys", "import")
    assert code == 0 and "deepseek" in out and "DEEPSEEK_API_KEY" in out
    code, out, _ = run("keys", "import")
    assert "Already stored" in out


def test_keys_test_valid_and_invalid(run, home, mock_api):
    write_config(
        home,
        f'[providers.openai]\nbase_url = "{mock_api}/good"\n'
        f'[providers.deepseek]\nbase_url = "{mock_api}/bad"\n',
    )
    run("keys", "add", "openai", stdin=SECRET)
    run("keys", "add", "deepseek", stdin=SECRET)
    code, out, _ = run("keys", "test", "openai")
    assert code == 0 and "valid" in out and "2 models" in out
    code, out, err = run("keys", "test", "deepseek")
    assert code == 1 and "invalid" in out
    assert "keys add deepseek" in err
    code, out, _ = run("keys", "list")
    assert "valid" in out and "invalid" in out


def test_keys_test_without_a_key(run):
    code, _, err = run("keys", "test", "openai")
    assert code == 1 and "kilo-tui keys add openai" in err


# --- gateway keys -------------------------------------------------------------


def test_gateway_key_create_list_revoke(run):
    code, out, _ = run("gateway-key", "create", "--project", "website")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("sk-kilo-")
    key_id = out.split()[3]
    code, out, _ = run("gateway-key", "list")
    assert key_id in out and "website" in out and "active" in out
    assert token not in out and token[-4:] in out
    code, out, _ = run("gateway-key", "revoke", key_id)
    assert code == 0 and "Revoked" in out
    assert "revoked" in run("gateway-key", "list")[1]
    code, _, err = run("gateway-key", "revoke", "gk_ffffffff")
    assert code == 1 and "gateway-key list" in err


# --- export and report --------------------------------------------------------


def test_export_csv_and_json(run, home):
    records = seed(home)
    code, out, _ = run("export", "--since", "7d")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert [row["id"] for row in table] == ["r1", "r2", "r3"]
    assert tuple(table[0]) == queries.EXPORT_FIELDS
    assert table[0]["cost_usd"] == "0.0060000000001"
    code, out, _ = run("export", "--format", "json")
    data = json.loads(out)
    assert data == [r.as_dict() for r in sorted(records, key=lambda r: r.started_at)]


def test_report_table_shows_unpriced_separately(run, home):
    seed(home)
    code, out, _ = run("report", "--by", "model", "--since", "7d")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Cost by model, since ")
    assert "UNPRICED" in lines[1]
    mystery = next(line for line in lines if line.startswith("mystery"))
    assert "—" in mystery and "$0" not in mystery
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert "$0.1560" in total
    assert "1 request(s) had no known price" in out


def test_report_json_and_csv_keep_exact_costs(run, home):
    seed(home)
    code, out, _ = run("report", "--by", "key", "--format", "json")
    data = json.loads(out)
    groups = {g["group"]: g for g in data["groups"]}
    assert groups[None]["cost_usd"] == "0.006"  # pico-dollar sums: 12 decimals
    assert groups["gk_0000abcd"]["cost_usd"] == "0.15"
    assert data["total"]["unpriced_requests"] == 1
    code, out, _ = run("report", "--by", "provider", "--format", "csv")
    rows = {row["group"]: row for row in csv.DictReader(io.StringIO(out))}
    assert (
        rows["custom"]["cost_usd"] == "" and rows["custom"]["unpriced_requests"] == "1"
    )


def test_report_reads_the_demo_database_apart(run, home):
    seed(home, demo=True)
    assert "No requests" in run("report")[1]
    assert "gpt-4o" in run("report", "--demo")[1]


def test_cost_formatting():
    assert text.usd(None) == "—"
    assert text.usd(Decimal(0)) == "$0.0000"
    assert text.usd(Decimal("1234.56789")) == "$1,234.5679"
    assert text.usd(Decimal("0.00012345678")) == "$0.0001235"
    assert text.usd(Decimal("0.0000000001234")) == "$0.000000000123"
    assert text.tokens(999) == "999" and text.tokens(12_345) == "12.3k"
    assert text.tokens(999_700) == "1M" and text.tokens(313_200_000) == "313M"
    assert text.tokens(12_345_000_000_000) == "12,345B"
    assert text.plain_number(4e-06) == "0.000004" and text.plain_number(0.5) == "0.5"


# --- serve --------------------------------------------------------------------


def test_serve_refuses_a_public_address_without_gateway_keys(run, monkeypatch):
    import proxy.gateway

    monkeypatch.setattr(proxy.gateway, "serve_forever", pytest.fail)
    code, _, err = run("serve", "--host", "0.0.0.0")
    assert code == 1 and "require_gateway_key = true" in err


def test_serve_passes_settings_and_address(run, home, monkeypatch):
    import proxy.gateway

    calls = []
    monkeypatch.setattr(proxy.gateway, "serve_forever", lambda *a: calls.append(a) or 0)
    write_config(home, "[server]\nport = 9999\n")
    assert run("serve")[0] == 0
    assert run("serve", "--host", "::1", "--port", "0")[0] == 0
    write_config(home, "[server]\nrequire_gateway_key = true\n")
    assert run("serve", "--host", "0.0.0.0")[0] == 0
    assert [(c[2], c[3]) for c in calls] == [
        ("127.0.0.1", 9999),
        ("::1", 0),
        ("0.0.0.0", 8787),
    ]
    assert calls[0][1].database() == home.database()


# --- failures ---------------------------------------------------------------


def test_broken_config_is_one_line(run, home):
    write_config(home, "[server\n")
    code, _, err = run("keys", "list")
    assert code == 1 and err.count("\n") == 1 and "config.toml" in err


def test_corrupt_database_says_what_to_do(run, home):
    home.data_dir.mkdir(parents=True, exist_ok=True)
    home.database().write_bytes(b"garbage" * 1000)
    code, _, err = run("report")
    assert code == 1 and "move it aside" in err and "Traceback" not in err


def test_unexpected_errors_are_one_line_unless_debugging(run, monkeypatch):
    def boom(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(key_commands, "cmd_keys_list", boom)
    code, _, err = run("keys", "list")
    assert code == 1
    assert err.strip().splitlines() == [
        "kilo-tui: unexpected error (RuntimeError: boom); run again with "
        "KILO_TUI_DEBUG=1 to see the details"
    ]
    monkeypatch.setenv("KILO_TUI_DEBUG", "1")
    code, _, err = run("keys", "list")
    assert code == 1 and "Traceback" in err


# --- secrets ------------------------------------------------------------------


def test_no_secret_is_ever_shown_or_logged(run, home, monkeypatch):
    monkeypatch.setenv("KILO_TUI_DEBUG", "1")
    run("keys", "add", "openai", stdin=SECRET)
    run("keys", "list")
    token = run("gateway-key", "create", "--project", "p")[1].splitlines()[-1]
    run("gateway-key", "list")
    seed(home)
    run("export", "--format", "json")
    run("export")
    run("report", "--by", "key")
    shown = "".join(run.shown)
    assert SECRET not in shown and SECRET[:-4] not in shown
    assert shown.count(token) == 1  # once, when it was created
    stored = b"".join(
        p.read_bytes() for p in home.data_dir.iterdir() if p.name.startswith("kilo")
    )
    assert SECRET.encode() not in stored and token.encode() not in stored


def test_module_runs_as_a_script(tmp_path):
    """The real process: fallback file store, exit codes, no tracebacks."""
    env = {
        **os.environ,
        "KILO_TUI_HOME": str(tmp_path / "home"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    env.pop("KILO_TUI_DEBUG", None)

    def kilo(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "proxy.cli", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    added = kilo("keys", "add", "openai", stdin=SECRET + "\n")
    assert added.returncode == 0, added.stderr
    listed = kilo("keys", "list")
    assert "fallback file" in listed.stdout
    created = kilo("gateway-key", "create", "--project", "cli")
    assert created.stdout.splitlines()[-1].startswith("sk-kilo-")
    bad = kilo("report", "--by", "colour")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    report = kilo("report")
    assert report.returncode == 0 and "No requests" in report.stdout
    everything = "".join(p.stdout + p.stderr for p in (added, listed, created, bad))
    assert SECRET not in everything and "Traceback" not in everything
    secrets_file = tmp_path / "home" / "secrets.json"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"


# --- serve: every way it can fail is said plainly -----------------------------


def test_serve_on_a_busy_port_says_so(run, home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run("serve", "--port", str(port))
    assert code == 1 and "unexpected" not in err
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "--port or [server] port in" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("cause", "says"),
    [
        (OSError(errno.EACCES, "denied"), "ports below 1024 need special rights"),
        (OSError(errno.EADDRNOTAVAIL, "x"), "it is not an address of this machine"),
        (socket.gaierror(-2, "Name or service not known"), "not an address of this"),
        (OSError(errno.EINVAL, "odd"), "pick another address with --host/--port"),
    ],
)
def test_every_bind_failure_says_what_to_change(home, cause, says):
    error = BindError("h", 1, "reason")
    error.__cause__ = cause
    message = serve_command.bind_failure(error, home)
    assert says in message and str(home.config_file) in message


def test_serve_with_a_damaged_database_says_what_to_do(run, home):
    home.database().write_bytes(b"garbage" * 1000)
    code, _, err = run("serve", "--port", "0")
    assert code == 1 and "the gateway did not start" in err and "move it aside" in err


def test_serve_with_a_bad_config_names_the_key(run, home):
    write_config(home, "[server]\nport = 70000\n")
    code, _, err = run("serve")
    assert code == 1 and "port = 70000" in err and str(home.config_file) in err


def test_serve_refusal_says_how_to_allow_an_open_address(run, home):
    code, _, err = run("serve", "--host", "0.0.0.0")
    assert code == 1 and err.count("\n") == 1
    assert "require_gateway_key = true under [server]" in err
    assert str(home.config_file) in err and "gateway-key create" in err


def test_file_system_errors_are_one_line(run, monkeypatch):
    def denied(args):
        raise PermissionError(13, "Permission denied", "/somewhere/kilo.sqlite3")

    monkeypatch.setattr(key_commands, "cmd_keys_list", denied)
    code, _, err = run("keys", "list")
    assert code == 1
    assert err == "kilo-tui: error: /somewhere/kilo.sqlite3: Permission denied\n"


# --- keys: partial imports, replacements, and the fallback file's real mode -------


def test_keys_import_stores_every_good_key_and_names_the_bad_ones(run, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_API_KEY", SECRET)
    monkeypatch.setenv("GEMINI_API_KEY", "bad key")
    monkeypatch.setenv("GOOGLE_API_KEY", SECRET + "G")
    monkeypatch.setenv("XAI_API_KEY", "line one\nline two")
    code, out, err = run("keys", "import")
    assert code == 0
    assert "Stored deepseek 'default'" in out and "DEEPSEEK_API_KEY" in out
    assert "Stored google 'default'" in out and "from GOOGLE_API_KEY" in out
    assert "skipped GEMINI_API_KEY (google): the key contains spaces" in err
    assert "skipped XAI_API_KEY (xai): the key has more than one line" in err
    assert "bad key" not in out + err and "line one" not in out + err


def test_keys_import_fails_only_when_nothing_could_be_stored(run, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "bad key")
    code, out, err = run("keys", "import")
    assert code == 1 and out == ""
    assert "skipped GEMINI_API_KEY" in err and "no key was imported" in err


def test_keys_add_over_an_existing_label_says_it_replaced_it(run):
    run("keys", "add", "openai", stdin=SECRET)
    code, out, _ = run("keys", "add", "openai", stdin=SECRET[:-4] + "NEW1")
    assert code == 0
    assert "Replaced the OpenAI key 'default' (…LAST) with …NEW1" in out


def test_keys_list_says_when_the_fallback_file_is_readable_by_others(run, home):
    keyring.set_keyring(null.Keyring())
    assert run("keys", "add", "deepseek", stdin=SECRET)[0] == 0
    assert "readable by you only" in run("keys", "list")[1]
    home.secrets_file.chmod(0o644)
    code, out, err = run("keys", "list")
    assert code == 0 and "readable by you only" not in out
    assert "readable by other users: mode 0644" in out
    assert f"chmod 600 {home.secrets_file}" in err


# --- gateway keys ----------------------------------------------------------------


def test_revoking_twice_says_it_was_already_revoked(run):
    key_id = run("gateway-key", "create", "--project", "p")[1].split()[3]
    assert "Revoked" in run("gateway-key", "revoke", key_id)[1]
    code, out, _ = run("gateway-key", "revoke", key_id.upper().replace("GK_", "gk_"))
    assert code == 0 and "already revoked" in out and "Revoked" not in out


@pytest.mark.parametrize("bad", ["gk_123", "sk-kilo-abc", "GK-12345678", "12345678"])
def test_a_malformed_gateway_key_id_is_bad_usage(run, bad):
    code, _, err = run("gateway-key", "revoke", bad)
    assert code == 2 and "is not a gateway key id" in err and err.count("\n") == 1


# --- reports ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["report", "export"])
def test_a_window_that_ends_before_it_starts_is_bad_usage(run, home, command):
    seed(home)
    code, _, err = run(command, "--since", "1d", "--until", "2d")
    assert code == 2 and "--since 1d is not before --until 2d" in err


def test_report_csv_share_is_plain_decimal(run, home):
    now = utc_now()

    async def write() -> None:
        store = RequestStore(home.database())
        await store.open()
        for name, cost in (("big", "1"), ("tiny", "0.000004")):
            store.submit(
                RequestRecord(
                    name,
                    now - timedelta(hours=1),
                    "openai",
                    name,
                    status=200,
                    cost_usd=Decimal(cost),
                    cost_source="computed",
                )
            )
        await store.close()

    asyncio.run(write())
    code, out, _ = run("report", "--format", "csv")
    rows = {row["group"]: row for row in csv.DictReader(io.StringIO(out))}
    assert code == 0 and rows["tiny"]["share"] == "0.000004"
    assert "e-" not in out


def test_read_only_commands_create_no_files(run, tmp_path, monkeypatch):
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("KILO_TUI_HOME", str(fresh))
    header = ",".join(queries.EXPORT_FIELDS)
    code, out, err = run("export")
    assert code == 0 and out == header + "\n" and "nothing recorded yet" in err
    assert run("export", "--format", "json")[1] == "[]\n"
    code, out, _ = run("report", "--format", "csv")
    assert code == 0 and out.startswith("group,requests,") and out.count("\n") == 1
    data = json.loads(run("report", "--format", "json", "--demo")[1])
    assert data["groups"] == [] and data["total"]["requests"] == 0
    assert "No requests in this window" in run("report")[1]
    assert "No provider keys stored" in run("keys", "list")[1]
    assert "No gateway keys" in run("gateway-key", "list")[1]
    assert run("keys", "remove", "openai")[0] == 1
    assert run("keys", "test", "openai")[0] == 1
    assert run("gateway-key", "revoke", "gk_12345678")[0] == 1
    assert not fresh.exists()
