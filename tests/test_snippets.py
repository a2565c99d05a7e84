"""Saved replies: loading (placeholders, literal braces, bad files), the `snippet`/`snippets` commands through
the core, the Edit form filled from one, and the console and start-up paths through the real `tandem` command.
The Slack and Discord pickers are tested in test_slack_flow.py and test_discord_flows.py."""
from __future__ import annotations

import json

import pytest

from bot.snippets import SnippetError, load_snippets
from tests.conftest import AGENT, conv_of, make_settings, say, start_core
from tests.test_console import FIXTURE_KB, tandem
from tests.test_startup import assert_one_line_failure, base_env
from vocab import Actor, EditForm, Role, State


def write(folder, name: str, text: str):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.md").write_text(text)
    return folder


def test_the_bundled_set_loads_in_english_and_indonesian():
    book = load_snippets()
    assert len(book) >= 8
    assert all(s.title and s.body and dict(s.translations).get("id") for s in book)
    order = book.get("need-order-number")
    assert "{TP-123456}" in order.fill("en", customer="c", agent="a", conversation=3)  # literal braces survive
    greeting = book.get("greeting").fill("id", customer="Dewi", agent="Sari", conversation=3)
    assert greeting.startswith("Halo Dewi, saya Sari")


def test_wrapped_lines_join_and_lists_keep_their_breaks(tmp_path):
    folder = write(tmp_path / "w", "steps", "---\ntitle: Steps\n---\nFirst line\nwraps here.\n\n"
                   "- one\n- two\n  continued\n")
    assert load_snippets(folder).get("steps").body == "First line wraps here.\n\n- one\n- two continued"


@pytest.mark.parametrize("body, says", [
    ("Hi {name}!", "unknown placeholder {name}"),
    ("Hi {customer.upper}!", "unknown placeholder {customer.upper}"),
    ("Hi {}!", "unknown placeholder {}"),
    ("Braces { alone", "literal braces"),
    ("A lone } here", "literal braces"),
])
def test_a_bad_placeholder_is_a_load_error_naming_the_file(tmp_path, body, says):
    folder = write(tmp_path / "s", "oops", f"---\ntitle: Oops\n---\n{body}\n")
    with pytest.raises(SnippetError) as err:
        load_snippets(folder)
    assert "oops.md" in str(err.value) and says in str(err.value)


def test_a_translation_is_checked_too_and_titles_and_bodies_are_required(tmp_path):
    bad = write(tmp_path / "t", "hello", "---\ntitle: Hello\ntranslations:\n  id: Halo {nama}\n---\nHello\n")
    with pytest.raises(SnippetError, match=r"hello\.md: translation 'id': unknown placeholder \{nama\}"):
        load_snippets(bad)
    with pytest.raises(SnippetError, match="needs a 'title'"):
        load_snippets(write(tmp_path / "u", "x", "Just a body\n"))
    with pytest.raises(SnippetError, match="is empty"):
        load_snippets(write(tmp_path / "v", "x", "---\ntitle: X\n---\n\n"))
    with pytest.raises(SnippetError, match="no \\*.md saved replies"):
        (tmp_path / "empty").mkdir()
        load_snippets(tmp_path / "empty")


async def test_snippet_sends_a_filled_reply_takes_over_and_logs_its_name(tmp_path, clock):
    folder = write(tmp_path / "replies", "ack", "---\ntitle: Acknowledge\ntranslations:\n"
                   "  id: Halo {customer}, {agent} di sini (#{conversation}).\n---\n"
                   "Hi {customer}, {agent} here about #{conversation}. Use {{braces}} freely.\n")
    core = await start_core(make_settings(tmp_path, tandem_snippets=str(folder)), clock)
    try:
        await say(core, "How does pay in 4 work?")
        conv = conv_of(core)
        draft = core.store.pending_draft(conv.id)
        result = await core.execute(AGENT, f"snippet ack {conv.id}")
        assert result.ok and result.text == f"Saved reply `ack` sent to cara (conversation #{conv.id})."
        await core.wait_idle()
        assert core.test_adapter.texts()[-1] == f"Hi cara, ana here about #{conv.id}. Use {{braces}} freely."
        after = conv_of(core)
        assert after.state == State.HUMAN and after.assignee == "ana"  # taken over, exactly as `reply` does
        assert core.store.draft(draft.id).status == "superseded"
        reply = core.store.events_named("reply")[-1]
        assert json.loads(reply["details"])["snippet"] == "ack" and reply["actor"] == "ana"
        await say(core, "Saya mau bicara dengan orang", who="dewi")
        dewi = conv_of(core, "dewi")
        await core.execute(AGENT, f"snippet ACK {dewi.id}")
        await core.wait_idle()
        assert core.test_adapter.texts()[-1] == f"Halo dewi, ana di sini (#{dewi.id})."  # the customer's language
    finally:
        await core.stop()


async def test_an_unknown_name_says_so_and_suggests_the_closest(core):
    await say(core, "human")
    conv = conv_of(core)
    result = await core.execute(AGENT, f"snippet refund-on-its-wya {conv.id}")
    assert not result.ok and "There is no saved reply `refund-on-its-wya`" in result.text
    assert "Closest: `refund-on-its-way`" in result.text
    assert core.store.events_named("command_error") and not core.store.events_named("reply")
    resolved = await core.execute(AGENT, f"resolve {conv.id}")
    assert resolved.ok
    late = await core.execute(AGENT, f"snippet greeting {conv.id}")
    assert not late.ok and "is resolved" in late.text


async def test_snippets_lists_and_searches_name_title_and_body(core):
    everything = await core.execute(AGENT, "snippets")
    assert everything.ok and everything.text.startswith(f"{len(core.snippets)} saved replies")
    assert "`greeting` · Greeting · Hi {customer}, this is {agent}" in everything.text
    by_title = await core.execute(AGENT, "snippets verify")
    assert by_title.data["snippets"][0] == "verify-identity"
    by_body = await core.execute(AGENT, "snippets freeze account")
    assert by_body.data["snippets"][0] == "unrecognised-charge"
    by_typo = await core.execute(AGENT, "snippets refnd")
    assert "refund-on-its-way" in by_typo.data["snippets"]
    nothing = await core.execute(AGENT, "snippets zzqqxx")
    assert nothing.ok and "No saved reply matches 'zzqqxx'" in nothing.text


async def test_the_edit_form_offers_saved_replies_and_fills_one_for_the_draft(core):
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    draft = core.store.pending_draft(conv.id)
    form = await core.press(AGENT, "edit", draft.id)
    assert isinstance(form, EditForm) and ("greeting", "Greeting") in form.snippets and form.snippet is None
    filled = await core.press(AGENT, "edit", draft.id, snippet="greeting")
    assert isinstance(filled, EditForm) and filled.snippet == "greeting"
    assert filled.text.startswith("Hi cara, this is ana from the Tandem Pay team")
    unknown = await core.press(AGENT, "edit", draft.id, snippet="nope")
    assert not isinstance(unknown, EditForm) and "There is no saved reply `nope`" in unknown.text
    assert core.store.draft(draft.id).status == "pending"  # filling a form sends nothing


async def test_a_form_sent_back_with_a_saved_reply_sends_it_unless_the_text_was_changed_too(core):
    """The rule behind Discord's Edit form (its menu cannot fill the text box): the core decides, not the adapter."""
    await say(core, "How does pay in 4 work?")
    conv = conv_of(core)
    draft = core.store.pending_draft(conv.id)
    customer = Actor("test", "U-cara", "cara", Role.CUSTOMER)
    refused = await core.submit_edit(customer, draft.id, draft.text, snippet="greeting")
    assert not refused.ok and "only for the support team" in refused.text
    both = await core.submit_edit(AGENT, draft.id, "My own words.", snippet="greeting")
    assert not both.ok and both.text.endswith("Your text:\nMy own words.") and "Usage" not in both.text
    assert core.store.draft(draft.id).status == "pending"
    plain = await core.submit_edit(AGENT, draft.id, draft.text, snippet="greeting", delivery="k1")
    assert plain.ok and plain.data["snippet"] == "greeting"
    assert (await core.submit_edit(AGENT, draft.id, draft.text, snippet="greeting", delivery="k1")).data["duplicate"]
    await core.wait_idle()
    assert core.test_adapter.texts()[-1].startswith("Hi cara, this is ana from the Tandem Pay team")
    assert json.loads(core.store.events_named("edit")[-1]["details"])["snippet"] == "greeting"


def test_console_snippet_commands_end_to_end(tmp_path):
    env = {"TANDEM_DB": str(tmp_path / "c.db"), "TANDEM_KB": str(FIXTURE_KB), "TANDEM_SUPPORT_HOURS": "24/7"}
    script = "bob> I want to talk to a person\n/snippets order\n/snippet greting 1\n/snippet greeting 1\n"
    result = tandem("run", stdin=script, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("✓ 2 saved replies matching 'order'", "`need-order-number` · Ask for the order number",
                     "✗ There is no saved reply `greting`. Closest: `greeting`.",
                     "✓ Saved reply `greeting` sent to bob (conversation #1).",
                     "→ to bob: 👤 Agent: Hi bob, this is agent from the Tandem Pay team."):
        assert expected in out, out


def test_a_missing_snippets_folder_is_one_line_naming_tandem_snippets(tmp_path):
    result = tandem("run", stdin="", env=base_env(tmp_path, TANDEM_SNIPPETS=str(tmp_path / "nope")), cwd=tmp_path)
    assert_one_line_failure(result, "TANDEM_SNIPPETS", "existing folder")


def test_a_bad_saved_reply_is_one_line_naming_the_file_and_tandem_snippets(tmp_path):
    folder = write(tmp_path / "replies", "typo", "---\ntitle: Typo\n---\nHi {custome}\n")
    result = tandem("run", stdin="", env=base_env(tmp_path, TANDEM_SNIPPETS=str(folder)), cwd=tmp_path)
    line = assert_one_line_failure(result, "TANDEM_SNIPPETS", "typo.md", "{custome}")
    assert not (tmp_path / "tandem.db").exists() or "saved replies error" in line
