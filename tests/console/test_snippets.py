"""Connect snippets: always plain ASCII, so every SDK and curl can send them."""

from __future__ import annotations

from kilo_tui.screens.connect import ConnectScreen
from kilo_tui.snippets import NO_KEY, setup
from tests.console.conftest import SIZE

BASE = "http://127.0.0.1:8787"


def test_without_a_key_the_snippets_send_kilo_and_say_what_it_means():
    chosen = setup(BASE, None, "web")
    for snippet in chosen.snippets:
        assert snippet.text.isascii(), snippet.title
        assert NO_KEY in snippet.text and "sk-kilo-" not in snippet.text
    assert any("X-Kilo-Project: web" in s.text for s in chosen.snippets)
    [note] = chosen.notes
    assert "loopback" in note and '"default"' in note and "gateway key" in note


def test_a_project_outside_ascii_is_left_out_with_a_note():
    chosen = setup(BASE, None, "日本語")
    assert all(s.text.isascii() for s in chosen.snippets)
    assert not any("X-Kilo-Project" in s.text for s in chosen.snippets)
    assert any("cannot be sent in an HTTP header" in n for n in chosen.notes)


def test_a_gateway_key_is_filled_in_and_decides_the_project():
    key = "sk-kilo-" + "A" * 43
    chosen = setup(BASE, key, "ignored")
    assert chosen.notes == []
    assert all(key in s.text for s in chosen.snippets)
    assert not any("X-Kilo-Project" in s.text for s in chosen.snippets)


def test_a_pasted_key_that_no_key_looks_like_is_not_used():
    chosen = setup(BASE, "sk-kilo-…", "web")
    assert all(s.text.isascii() and NO_KEY in s.text for s in chosen.snippets)
    assert any("pasted key" in n for n in chosen.notes)


def test_a_gateway_that_requires_keys_says_kilo_will_be_refused():
    chosen = setup(BASE, None, "web", key_required=True)
    assert any("requires a gateway key" in n for n in chosen.notes)


async def test_the_connect_screen_shows_the_note_beside_the_snippet(static_app):
    app = static_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConnectScreen)
        notes = screen.query_one("#snippet-notes")
        assert notes.display and "loopback" in str(notes.render())
        screen.query_one("#project").value = "café"
        await pilot.pause()
        assert "cannot be sent" in str(notes.render())
        assert 'api_key="kilo"' in str(screen._setup().snippets[0].text)
