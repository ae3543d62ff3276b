"""The gateway runs headless: nothing in proxy/ may reach the console or Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("textual", "textual_plotext", "plotext", "kilo_tui")
PROXY = Path(__file__).parent.parent / "proxy"


def _imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_proxy_sources_import_no_console_code():
    offenders = {
        path.name: sorted(_imported_roots(path.read_text()) & set(FORBIDDEN))
        for path in PROXY.rglob("*.py")
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_loading_the_whole_gateway_loads_no_console_module():
    probe = (
        "import sys, pkgutil, importlib, proxy\n"
        "for m in pkgutil.iter_modules(proxy.__path__):\n"
        "    importlib.import_module('proxy.' + m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
